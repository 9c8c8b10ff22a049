"""Session state shared by the pages: the loaded models of *this* browser session.

Uploaded bytes are copied into ``st.session_state`` at once (a widget's state is deleted when
its page is left). Parsing is cached by content hash — computed once here, never by Streamlit
per call — and the cache key covers the companion files too.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from inspector import InspectorError, LoadedModel, load_model
from inspector.bundle import ANALYSES, Analysis
from inspector.limits import DEFAULT_LIMITS, Limits, limits_from_env
from inspector.presence import Presence
from inspector.run.config import Matrix
from inspector.run.jobs import Job, JobQueue, Task, queue
from inspector.run.loadcheck import SessionCheck
from inspector.run.plan import StoredRuns

#: This server's limits: the defaults, with the deployment's ``INSPECTOR_LIMIT_*`` variables.
#: A bad variable leaves the defaults in place and every page says so instead of working.
try:
    LIMITS, LIMITS_ERROR = limits_from_env(), ""
except ValueError as _exc:
    LIMITS, LIMITS_ERROR = DEFAULT_LIMITS, f"The server's limits are misconfigured: {_exc}."
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_models"
DEFAULT_SAMPLE = "mlp_gelu_layernorm.onnx"


@dataclass(frozen=True)
class Source:
    """One model the user opened: its bytes and companion files, and a content key."""

    name: str
    data: bytes
    companions: tuple[tuple[str, bytes], ...]
    key: str


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


@st.cache_resource(max_entries=16, show_spinner="Parsing the model…")
def _load(key: str, _source: Source) -> LoadedModel:
    return load_model(_source.data, dict(_source.companions), name=_source.name, limits=LIMITS)


def load(source: Source) -> LoadedModel:
    """The parsed model (raises InspectorError with a user-facing message)."""
    return _load(source.key, source)


@st.cache_resource(max_entries=128, show_spinner="Inspecting the model…")
def _record(kind: str, key: str, _source: Source, _session: Any = None) -> Any:
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
    diagnosis), built once per model content and shared: records are frozen, and the key is
    the content hash, so a session only ever gets records of bytes it uploaded itself. The
    diagnosis and the compatibility verdict hold ONNX Runtime's load check once it has
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
    from inspector.run.loadcheck import LOAD_CHECK, submit_check

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
    """This session's opened models by display name (insertion order). A new session on a URL
    that carries an owner token (a reload, a second tab) reopens the models of its jobs."""
    if "models" not in st.session_state:
        opened: dict[str, Source] = {}
        for job in job_queue().jobs(owner()):
            if isinstance(job.context, Source):
                opened[job.context.name] = job.context
                st.session_state["current_model"] = job.context.name
        st.session_state["models"] = opened
    return st.session_state["models"]


def current() -> Source | None:
    """The model the pages show (plain state, so it survives page switches)."""
    opened = models()
    name = st.session_state.get("current_model")
    if name not in opened:
        if not opened:
            src = sample_source(DEFAULT_SAMPLE)
            opened[src.name] = src
        name = next(iter(opened))
        st.session_state["current_model"] = name
    return opened.get(name)


def session_bytes() -> int:
    """Bytes of models, data files and opened bundles' arrays this session holds (the upload
    quota counts them)."""
    opened = models().values()
    held = sum(len(s.data) + sum(len(d) for _, d in s.companions) for s in opened)
    bundles: dict[str, int] = st.session_state.get("bundle_bytes", {})
    return held + sum(bundles.get(s.key, 0) for s in opened)  # closed models' runs are gone


def add(source: Source) -> None:
    models()[source.name] = source
    st.session_state["current_model"] = source.name


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


STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
STATIC_FILE_LIMIT = LIMITS.static_file_bytes  # Streamlit serves nothing bigger


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
        _hold("netron:" + published[source.key][0])
    key, note = published[source.key]
    return f"app/static/netron/index.html?url=../models/{key}/{MODEL_FILE}", note


MAX_VIEWS = 6  # published part-of-a-graph views kept per session (older ones are removed)


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
        _hold("netron:" + key)
        while len(views) > MAX_VIEWS:
            _drop_view(views, next(iter(views)))
    return f"app/static/netron/index.html?url=../models/{key}/{MODEL_FILE}"


def _drop_view(views: dict[tuple[str, str], str], view: tuple[str, str]) -> None:
    from inspector.netron_assets import unpublish as remove

    key = views.pop(view)
    remove(STATIC_DIR, key)
    if _tracked():
        presence().release(owner(), "netron:" + key)


def unpublish(source: Source) -> None:
    """Remove the copies Netron was served for ``source`` (when the user closes the model)."""
    from inspector.netron_assets import unpublish as remove

    entry = st.session_state.setdefault("netron", {}).pop(source.key, None)
    if entry:
        remove(STATIC_DIR, entry[0])
        if _tracked():
            presence().release(owner(), "netron:" + entry[0])
    views = st.session_state.setdefault("netron_views", {})
    for view in [v for v in views if v[0] == source.key]:
        _drop_view(views, view)


def _without_weights(source: Source) -> bytes:
    from inspector.model.skeleton import make_skeleton

    return make_skeleton(load(source).proto, 1024).SerializeToString()


def plan(source: Source) -> dict:
    """The run-lab settings last used for this model (plain state: survives page switches)."""
    return st.session_state.setdefault("plans", {}).get(source.key, {})


def save_plan(source: Source, settings: dict) -> None:
    st.session_state.setdefault("plans", {})[source.key] = settings


def _browser() -> str:
    """This browser's secret: the token inside Streamlit's XSRF cookie (the same for every tab
    and reload of one browser, unknown to any other); "" without one (AppTest, XSRF off)."""
    from inspector.tokens import browser_key

    try:
        cookie = st.context.cookies.get("_streamlit_xsrf") or ""
    except Exception:  # noqa: BLE001 - no request context (AppTest)
        cookie = ""
    return browser_key(cookie)


def owner() -> str:
    """Who owns this session's models and jobs: a token the server issued to this browser,
    kept in the URL (``?s=``) so a reload or a second tab of the same browser finds the same
    jobs. A token in the URL that this server did not issue to this browser — one an attacker
    chose, or one issued to another browser — is never adopted: a new one replaces it."""
    from inspector.tokens import issue, valid

    token = st.session_state.get("owner")
    if not token:
        offered = st.query_params.get("s") or ""
        token = offered if valid(offered, _browser()) else issue(_browser())
        st.session_state["owner"] = token
    if st.query_params.get("s") != token:
        st.query_params["s"] = token
    return token


def job_queue() -> JobQueue:
    return queue(LIMITS)


def _owner_gone(name: str, resources: set[str]) -> None:
    """Every tab of ``name`` has been closed for ``session_grace_s``: stop its jobs (workers
    killed, private folders removed) and remove the graphs published for it."""
    from inspector.netron_assets import unpublish as remove

    job_queue().forget_owner(name)
    for resource in resources:
        kind, _, key = resource.partition(":")
        if kind == "netron":
            remove(STATIC_DIR, key)


@st.cache_resource(show_spinner=False)
def presence() -> Presence:
    """The server's one presence tracker, sweeping every few seconds."""
    from streamlit import runtime

    tracker = Presence(
        runtime.get_instance().is_active_session, _owner_gone, LIMITS.session_grace_s
    )
    tracker.start(interval_s=min(10.0, max(1.0, LIMITS.session_grace_s / 4)))
    return tracker


def _tracked() -> bool:
    from streamlit import runtime

    return runtime.exists()


def _hold(resource: str) -> None:
    if _tracked():
        presence().hold(owner(), resource)


def check_in() -> None:
    """Record that this browser session works for its owner (every page run calls it)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    token = owner()
    ctx = get_script_run_ctx()
    if ctx is not None and _tracked():  # AppTest runs pages without a server
        presence().seen(token, ctx.session_id)


def submit(
    source: Source,
    model: LoadedModel,
    matrix: Matrix,
    inputs: dict,
    limits: Limits,
    base: Job | None = None,
) -> Job:
    """Queue a matrix for ``source``; it runs outside this script and survives navigation.
    ``base``: a bundled job whose results are shown beside this one's (a re-run here)."""
    return job_queue().submit(owner(), source.key, model, matrix, inputs, limits, source, base)


def submit_task(source: Source, model: LoadedModel, kind: str, about: str, task: Task) -> Job:
    """Queue an analysis of this model's runs (first divergence, ablation, a two-model run):
    it runs outside this script like a matrix, so leaving the page does not lose it."""
    return job_queue().submit_task(
        owner(), source.key, kind, model, task, about=about, context=source
    )


def task(source: Source, kind: str, about: str) -> Job | None:
    """The latest ``kind`` task about ``about`` for this model (running or finished)."""
    jobs = [j for j in job_queue().jobs(owner(), source.key, kind) if j.about == about]
    return jobs[-1] if jobs else None


def analyses(source: Source, labels: set[str]) -> list[Analysis]:
    """Finished analyses of this model whose configurations are all among ``labels`` (the
    runs shown), the latest per subject: what a session bundle carries beside the runs."""
    latest: dict[tuple[str, str], Analysis] = {}
    for kind in ANALYSES:
        for job in job_queue().jobs(owner(), source.key, kind):
            named = set(job.about.split(" → ")) if kind == "divergence" else {job.about}
            if job.state == "done" and job.value is not None and named <= labels:
                latest[(kind, job.about)] = Analysis(kind, job.about, job.value)
    return list(latest.values())


def open_bundle(data: bytes) -> str:
    """Open a session bundle: its model (bundled, or an open model with the same SHA-256) and
    its runs as a finished job, so every page shows them without re-running."""
    from inspector.bundle import read_bundle

    quota_left = LIMITS.max_session_upload_bytes - session_bytes()
    bundle = read_bundle(data, LIMITS, quota_bytes=quota_left)
    name = bundle.model_name
    found: Source | None
    if name in bundle.model_files:
        files = dict(bundle.model_files)
        found = make_source(name, files.pop(name), files)
    else:
        found = next(
            (
                s
                for s in models().values()
                if hashlib.sha256(s.data).hexdigest() == bundle.model_sha256
            ),
            None,
        )
        if found is None:
            same_name = models().get(name)
            if same_name is not None:  # e.g. a re-export: its runs would not describe this file
                mine = hashlib.sha256(same_name.data).hexdigest()
                raise InspectorError(
                    f"its runs were made on another {name} (SHA-256 {bundle.model_sha256[:12]}…; "
                    f"the open one is {mine[:12]}…). Open the bundled model, or ask for a "
                    "bundle that includes it."
                )
            raise InspectorError(
                f"it does not hold its model ({name}); open that model first, then drop the "
                "bundle again."
            )
    source = found
    add(source)
    # the runs' arrays and profiles stay in memory with the session's jobs: they count
    held = st.session_state.setdefault("bundle_bytes", {})
    held[source.key] = (
        held.get(source.key, 0)
        + sum(
            sum(a.nbytes for a in r.output_arrays().values()) + len(r.profile_trace())
            for r in bundle.results
        )
        + sum(a.nbytes for a in bundle.inputs.values() if isinstance(a, np.ndarray))
    )
    model = load(source)
    env = bundle.environment
    origin = (
        f"bundled {bundle.created} on {env.get('cpu', '?')}, onnxruntime "
        f"{env.get('onnxruntime', '?')}"
    )
    job_queue().add_done(
        owner(), source.key, model, list(bundle.results), bundle.inputs, origin, source
    )
    for a in bundle.analyses:
        job_queue().add_done_task(
            owner(),
            source.key,
            a.kind,
            model,
            a.value,
            about=a.about,
            origin=origin,
            context=source,
        )
    extra = f" and {len(bundle.analyses)} analyses" if bundle.analyses else ""
    skipped = "".join(f" Skipped {s}." for s in bundle.skipped)
    return f"Opened a bundle: {len(bundle.results)} runs{extra} of {name} ({origin}).{skipped}"


def latest_job(source: Source) -> Job | None:
    jobs = job_queue().jobs(owner(), source.key, "matrix")
    return jobs[-1] if jobs else None


def runs(source: Source) -> StoredRuns | None:
    """The latest run-lab results for this model (so far, while its job runs)."""
    job = latest_job(source)
    if job is None or not job.shown_results:
        return None
    results = tuple(job.shown_results)
    return StoredRuns(Matrix(tuple(r.config for r in results)), results, job.inputs)


def forget_runs(source: Source) -> None:
    """Cancel this model's jobs and drop their results (the user closed the model)."""
    job_queue().forget(owner(), source.key)
    st.session_state.get("bundle_bytes", {}).pop(source.key, None)


__all__ = [
    "InspectorError",
    "Source",
    "add",
    "current",
    "load",
    "make_source",
    "models",
    "sample_names",
    "sample_source",
    "split_upload",
]
