"""Graphs published for Netron: the app serves each model (or part of one) it shows from its own
static folder, under a random key, held for this owner until all its tabs are gone."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from pages.common.models import Source, load
from pages.common.server import LIMITS, STATIC_DIR, hold, release

STATIC_FILE_LIMIT = LIMITS.static_file_bytes  # Streamlit serves nothing bigger
MAX_VIEWS = 6  # published part-of-a-graph views kept per session (older ones are removed)


def app_base_path() -> str:
    """The app's path prefix as the browser sees it (``/`` locally, ``/prefix/`` behind a
    proxy or with ``server.baseUrlPath``), from the page URL the browser reports."""
    from urllib.parse import urlparse

    url = st.context.url or ""
    path = urlparse(url).path or "/"
    return path[: path.rfind("/") + 1] or "/"


def netron_url(source: Source) -> tuple[str, str]:
    """Netron's URL relative to the app's base path, showing ``source`` (published once per
    session), and a note. Prefix it with :func:`app_base_path` (proxy/baseUrlPath safe)."""
    from inspector.netron_assets import MODEL_FILE, install, netron_files, publish

    published = st.session_state.setdefault("netron", {})
    note = ""
    if source.key in published and not (STATIC_DIR / "models" / published[source.key][0]).is_dir():
        del published[source.key]  # removed meanwhile (this tab was away past the grace period)
    if source.key not in published:
        install(STATIC_DIR)
        if len(source.data) > STATIC_FILE_LIMIT:
            note = (
                "The model file is over Streamlit's 200 MB static-file limit: the graph is "
                "shown without its weights."
            )
            data, files = _without_weights(source), dict[str, bytes]()
        else:
            data, files = netron_files(load(source), source.data, STATIC_FILE_LIMIT)
            if any(len(d) > STATIC_FILE_LIMIT for _, d in source.companions):
                note = "Data files over 200 MB are not served: their tensors show no values."
        published[source.key] = (publish(STATIC_DIR, data, files), note)
        hold("netron:" + published[source.key][0])
    key, note = published[source.key]
    return f"app/static/netron/index.html?url=../models/{key}/{MODEL_FILE}", note


def netron_view_url(source: Source, tag: str, build: Callable[[], bytes]) -> str:
    """Netron's URL (as :func:`netron_url`) for a part of ``source``'s graph named ``tag`` (a
    scope, a neighbourhood); ``build()`` makes its model bytes the first time. The session
    keeps its last :data:`MAX_VIEWS` views published."""
    from inspector.netron_assets import MODEL_FILE, install, publish

    views: dict[tuple[str, str], str] = st.session_state.setdefault("netron_views", {})
    key = views.get((source.key, tag))
    if key is None or not (STATIC_DIR / "models" / key).is_dir():
        install(STATIC_DIR)
        key = publish(STATIC_DIR, build(), {})
        views.pop((source.key, tag), None)
        views[(source.key, tag)] = key
        hold("netron:" + key)
        while len(views) > MAX_VIEWS:
            _drop_view(views, next(iter(views)))
    return f"app/static/netron/index.html?url=../models/{key}/{MODEL_FILE}"


def _drop_view(views: dict[tuple[str, str], str], view: tuple[str, str]) -> None:
    from inspector.netron_assets import unpublish as remove

    key = views.pop(view)
    remove(STATIC_DIR, key)
    release("netron:" + key)


def unpublish(source: Source) -> None:
    """Remove the copies Netron was served for ``source`` (when the user closes the model)."""
    from inspector.netron_assets import unpublish as remove

    entry = st.session_state.setdefault("netron", {}).pop(source.key, None)
    if entry:
        remove(STATIC_DIR, entry[0])
        release("netron:" + entry[0])
    views = st.session_state.setdefault("netron_views", {})
    for view in [v for v in views if v[0] == source.key]:
        _drop_view(views, view)


def _without_weights(source: Source) -> bytes:
    from inspector.model.skeleton import make_skeleton

    return make_skeleton(load(source).proto, 1024).SerializeToString()
