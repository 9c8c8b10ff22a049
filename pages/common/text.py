"""Model- and file-provided strings shown safely in Markdown-rendering elements.

``st.title``, ``st.caption``, ``st.error`` and friends render Markdown: a model's producer name
or a tensor name could carry links or image beacons. Everything a model or an upload supplies
goes through :func:`plain` before it is interpolated into such an element (tables and
``st.text`` show text as is)."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
#: Where GitHub-flavoured Markdown makes a link of plain text (``http://``, ``www.``, an
#: e-mail address) even when every special character is escaped.
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)")
_JOINER = "\u2060"  # WORD JOINER: invisible, breaks the autolink, keeps the text readable


def plain(text: object) -> str:
    """``text`` with every Markdown-significant character escaped and no autolink left."""
    return _SPECIAL.sub(r"\\\1", _AUTOLINK.sub(_JOINER, str(text))).replace("\n", " ")
