"""The models of *this* browser session: their bytes, parsed models and records.

Uploaded bytes are copied into ``st.session_state`` at once (a widget's state is deleted when
its page is left). Models are keyed by content (:attr:`Source.key`), never by file name: every
Hugging Face export is called ``model.onnx``, and a second one must open beside the first (shown
with a suffix), not replace it. Parsing is cached by that key — computed once here, never by
Streamlit per call — and the key covers the companion files too.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from inspector import InspectorError, LoadedModel, load_model
from inspector.model.packaged import by_id, locate, packaged_models
from inspector.run.execute.jobs import Job
from inspector.run.execute.loadcheck import SessionCheck
from pages.common.server import LIMITS, job_queue, owner

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_models"
DEFAULT_SAMPLE = "mlp_gelu_layernorm.onnx"


@dataclass(frozen=True)
class Source:
    """One model the user opened: its bytes and companion files, and a content key."""

    name: str
    data: bytes
    companions: tuple[tuple[str, bytes], ...]
    key: str

    @property
    def size(self) -> int:
        return len(self.data) + sum(len(d) for _, d in self.companions)

    def widget(self, key: str) -> str:
        """``key`` for a widget whose value means something for this model only (an input's
        value range, a picked table row, a node filter, uploaded input files). Streamlit keeps
        a keyed widget's value — in the browser too, which sends it back on the next rerun —
        whatever default the script passes next, and deleting its state does not clear what
        the browser shows: another model needs another key."""
        return widget_key(key, self.key)


def widget_key(key: str, model_key: str) -> str:
    """:meth:`Source.widget`'s key for the model whose :attr:`Source.key` is ``model_key``."""
    return f"{key}@{model_key[:16]}"


def _key(name: str, data: bytes, companions: tuple[tuple[str, bytes], ...]) -> str:
    # The name is part of the key: parsed records carry it, and two users who upload the same
    # bytes under different names must not see each other's (issue 16).
    h = hashlib.sha256(name.encode() + b"\0")
    h.update(data)
    for cname, cdata in companions:
        h.update(b"\0" + cname.encode() + b"\0" + hashlib.sha256(cdata).digest())
    return h.hexdigest()


def make_source(name: str, data: bytes, companions: dict[str, bytes]) -> Source:
    comps = tuple(sorted(companions.items()))
    return Source(name, data, comps, _key(name, data, comps))


def sample_names() -> list[str]:
    return sorted(p.name for p in SAMPLE_DIR.glob("*.onnx"))


def sample_source(name: str) -> Source:
    path = SAMPLE_DIR / name
    companions = {
        p.name: p.read_bytes()
        for p in SAMPLE_DIR.iterdir()
        if p.suffix == ".bin" and p.name.startswith(path.stem)
    }
    return make_source(name, path.read_bytes(), companions)


def packaged_names() -> dict[str, str]:
    """The real models installed from pinned wheels and usable here: picker name → id."""
    return {f.model.name: f.model.id for f in packaged_models() if f.path}


def packaged_source(model_id: str) -> Source:
    """A real model from a pinned wheel (:mod:`inspector.model.packaged`), as a source."""
    found = locate(by_id(model_id))
    if not found.path:
        raise InspectorError(f"{found.model.name} cannot be opened: {found.reason}")
    return make_source(Path(found.model.member).name, Path(found.path).read_bytes(), {})


@st.cache_resource(max_entries=16, show_spinner="Parsing the model…")
def _load(key: str, _source: Source) -> LoadedModel:
    return load_model(_source.data, dict(_source.companions), name=_source.name, limits=LIMITS)


def load(source: Source) -> LoadedModel:
    """The parsed model (raises InspectorError with a user-facing message)."""
    return _load(source.key, source)


@st.cache_resource(max_entries=128, show_spinner="Inspecting the model…")
def _record(kind: str, key: str, _source: Source, _session: SessionCheck | None = None) -> Any:
    import inspector as I

    model = load(_source)
    if kind in ("diagnosis", "diagnosis_before_load_check"):
        return I.diagnose(
            model,
            overview=record("overview", _source),
            graph=record("graph", _source),
            external=record("external", _source),
            compat=_record(
                "compat" if _session is not None else "compat_before_load_check",
                key,
                _source,
                _session,
            ),
            session=_session,
        )
    if kind in ("compat", "compat_before_load_check"):
        return I.build_compat(model, session=_session)
    if kind == "scopes":  # the name-scope tree, for graphs over the node budget
        from inspector.model.scopes import scope_tree

        return scope_tree(model.proto.graph, model.limits.graph_node_budget)
    builders: dict[str, Callable[[LoadedModel], Any]] = {
        "overview": I.build_overview,
        "graph": I.build_graph,
        "subgraphs": I.build_subgraphs,
        "initializers": I.build_initializers,
        "external": I.build_external_data,
    }
    return builders[kind](model)


@st.cache_resource(max_entries=256, show_spinner="Computing statistics…")
def _weight_stats(model_key: str, key: str, _source: Source) -> Any:
    from inspector import tensor_stats

    return tensor_stats(load(_source), key)


def weight_stats(source: Source, key: str) -> Any:
    """Statistics of one weight, computed once per model content and weight (small records:
    counts and histogram edges), not on every rerun of the Weights page."""
    return _weight_stats(source.key, key, source)


def record(kind: str, source: Source) -> Any:
    """A record of ``source`` (overview, graph, subgraphs, initializers, external, compat,
    diagnosis, scopes), built once per model content and shared: records are frozen, and the
    key is the content hash, so a session only ever gets records of bytes it uploaded itself.
    The diagnosis and the compatibility verdict hold ONNX Runtime's load check once it has
    finished (:func:`load_check`)."""
    if kind in ("diagnosis", "compat"):
        check = _load_checks().get(source.key)
        if check is None:
            return _record(f"{kind}_before_load_check", source.key, source)
        return _record(kind, source.key, source, check)
    return _record(kind, source.key, source)


class _Checks:
    """Finished load checks by model content key, the newest :attr:`size`, shared by every
    session as the records are (the key is the content hash)."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._done: OrderedDict[str, SessionCheck] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> SessionCheck | None:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
            return self._done.get(key)

    def put(self, key: str, check: SessionCheck) -> None:
        with self._lock:
            self._done[key] = check
            self._done.move_to_end(key)
            while len(self._done) > self.size:
                self._done.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _load_checks() -> _Checks:
    return _Checks()


def finished_check(source: Source) -> SessionCheck | None:
    """ONNX Runtime's load check of ``source`` if one has finished (nothing is queued)."""
    return _load_checks().get(source.key)


def load_check(source: Source) -> SessionCheck | Job:
    """Does ONNX Runtime load ``source``? The finished check (kept per model content), or the
    job that makes it: a task in the run queue owned by this session's owner, so it waits for
    a run slot and its owner's turn like every run (issue 22). Nothing here waits for it; a
    cancelled check is queued again, a failed one is returned as it is (its error shown)."""
    from inspector.run.execute.loadcheck import LOAD_CHECK, submit_check

    checks = _load_checks()
    done = checks.get(source.key)
    if done is not None:
        return done
    jobs = job_queue().jobs(owner(), source.key, LOAD_CHECK)
    job = jobs[-1] if jobs else None
    if job is not None and job.state == "done" and isinstance(job.value, SessionCheck):
        checks.put(source.key, job.value)  # evicted meanwhile: the job still holds it
        return job.value
    if job is None or job.state == "cancelled":
        key = source.key
        job = submit_check(
            job_queue(), owner(), key, load(source), on_done=lambda c: checks.put(key, c)
        )
    return job


def models() -> dict[str, Source]:
    """This session's opened models by content key (opening order). A new session on a URL
    that carries an owner token (a reload, a second tab, the same link after a restart)
    reopens the models of its jobs, stored ones included."""
    if "models" not in st.session_state:
        from pages.common.persist import restore

        restore(owner())  # after a restart: this owner's stored runs come back first
        opened: dict[str, Source] = {}
        for job in job_queue().jobs(owner()):
            if isinstance(job.context, Source):
                opened[job.context.key] = job.context
                st.session_state["current_model"] = job.context.key
        st.session_state["models"] = opened
    return st.session_state["models"]


def labels() -> dict[str, str]:
    """Each open model's name as the pages show it: its file name, with the start of its
    content hash when another open model has the same name (``model.onnx · 3f9a1c``)."""
    opened = models()
    names = [s.name for s in opened.values()]
    return {
        k: s.name if names.count(s.name) == 1 else f"{s.name} · {k[:6]}" for k, s in opened.items()
    }


def label(source: Source) -> str:
    return labels().get(source.key, source.name)


def current() -> Source | None:
    """The model the pages show (plain state, so it survives page switches)."""
    opened = models()
    key = st.session_state.get("current_model")
    if key not in opened:
        if not opened:
            src = sample_source(DEFAULT_SAMPLE)
            opened[src.key] = src
        key = next(iter(opened))
        st.session_state["current_model"] = key
    return opened.get(key)


def select(key: str) -> None:
    """Show the open model with content key ``key``."""
    st.session_state["current_model"] = key


def add(source: Source) -> None:
    """Open ``source`` (the same bytes under the same name open once) and show it."""
    models()[source.key] = source
    select(source.key)


def close(key: str) -> Source | None:
    """Forget an open model (the caller stops its runs and unpublishes its graphs)."""
    source = models().pop(key, None)
    if st.session_state.get("current_model") == key:
        st.session_state.pop("current_model", None)
    return source


def session_bytes() -> int:
    """Bytes of models, data files and opened bundles' arrays this session holds (the upload
    quota counts them)."""
    opened = models().values()
    bundles: dict[str, int] = st.session_state.get("bundle_bytes", {})
    # closed models' runs are gone: only open models' bundles count
    return sum(s.size + bundles.get(s.key, 0) for s in opened)


def split_upload(files: list) -> list[tuple[str, bytes, dict[str, bytes]]]:
    """Uploaded files → one (model name, bytes, companions) per .onnx file.

    A folder drop names files by relative path (``run1/model.onnx``, ``run1/weights/w.bin``):
    each model's companions are the files under its own folder, named relative to it, as its
    external-data locations are. Names are checked by the companion gate when loaded."""
    entries = [(f.name.replace("\\", "/"), f.getvalue()) for f in files]
    out = []
    for name, data in entries:
        if not name.lower().endswith(".onnx"):
            continue
        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        companions = {
            other[len(folder) :]: blob
            for other, blob in entries
            if other != name and other.startswith(folder) and not other.lower().endswith(".onnx")
        }
        out.append((name.rsplit("/", 1)[-1], data, companions))
    return out


@st.cache_resource(max_entries=8, show_spinner="Comparing the models…")
def _model_diff(a_key: str, b_key: str, weights: bool, _a: Source, _b: Source) -> Any:
    from inspector.model.diff import diff_models

    return diff_models(load(_a), load(_b), weights=weights)


def model_diff(a: Source, b: Source, weights: bool) -> Any:
    """Model A against model B (a frozen record), the last few pairs kept for every session as
    records are (keyed by both contents)."""
    return _model_diff(a.key, b.key, weights, a, b)
