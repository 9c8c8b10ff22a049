"""Model- and file-provided strings shown safely in Markdown-rendering elements.

``st.title``, ``st.caption``, ``st.error`` and friends render Markdown: a model's producer name
or a tensor name could carry links or image beacons. Everything a model or an upload supplies
goes through :func:`plain` before it is interpolated into such an element (tables and
``st.text`` show text as is)."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """``text`` with every Markdown-significant character escaped."""
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
