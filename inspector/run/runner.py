"""Run configurations in isolated worker processes and collect their results as records.

Per matrix, the model (with every node given a unique name) and its *validated* external-data
files are written to a private temporary folder; each configuration then runs in its own child
process whose working directory is that folder, under an address-space cap and a wall-clock
timeout. A crash, an out-of-memory and a timeout each come back as a specific error naming the
configuration; the caller keeps working. Temporary files are removed afterwards unless an
output folder was given.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

from inspector.errors import InspectorError
from inspector.limits import DEFAULT_LIMITS, Limits
from inspector.model.companions import DirectoryCompanions
from inspector.model.external import build_external_data
from inspector.model.load import LoadedModel
from inspector.model.overview import build_overview
from inspector.model.walk import walk
from inspector.records import Record
from inspector.run.config import Matrix, RunConfig
from inspector.run.eps import plugin_libraries
from inspector.run.origins import compiled_origins, derive_origins
from inspector.run.profile import Profile, load_trace, parse_profile
from inspector.run.sandbox import minimal_env


class RunError(InspectorError):
    """A run could not be started at all (e.g. the model's external data is unusable)."""

    kind = "run"


@dataclass(frozen=True, kw_only=True)
class Latency(Record):
    median_ms: float
    p10_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    runs_ms: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class NodeEp(Record):
    node: str  # runtime node name (unique names assigned by the run lab)
    node_id: str  # original node id ("" when the node was created by an optimization)
    op_type: str
    ep: str


@dataclass(frozen=True, kw_only=True)
class Fallback(Record):
    preferred_ep: str
    nodes_per_ep: tuple[tuple[str, int], ...]
    off_preferred: tuple[NodeEp, ...]  # nodes that did not run on the preferred EP
    requested_inactive: tuple[str, ...]  # requested EPs that are not active in the session
    source: str  # "assignment_info" or "profiler"


@dataclass(frozen=True, kw_only=True)
class OutputInfo(Record):
    name: str
    dtype: str
    shape: tuple[int, ...]
    bytes: int
    saved: bool  # False when over the output-size limit (not kept for comparison)
    note: str = ""  # how a non-tensor output was made comparable ("sequence of maps: …")


@dataclass(frozen=True, kw_only=True)
class RunResult(Record):
    label: str
    config: RunConfig
    status: Literal["ok", "error"]
    error_kind: str  # "", "timeout", "crash", "out_of_memory", "strict_fallback_refused", ...
    error: str
    session_create_s: float | None
    latency: Latency | None
    providers_requested: tuple[str, ...]
    providers_active: tuple[str, ...]
    notes: tuple[str, ...]
    assignment: tuple[NodeEp, ...]
    fallback: Fallback | None
    profile: Profile | None
    outputs: tuple[OutputInfo, ...]
    optimized_nodes: int | None
    optimized_ops: tuple[tuple[str, int], ...]
    origins: tuple[tuple[str, tuple[str, ...]], ...]  # runtime node → original node ids (derived)
    results_dir: str  # kept only with an output folder ("" otherwise)
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _profile_json: bytes = field(default=b"", repr=False, compare=False)
    _optimized_model: bytes = field(default=b"", repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def output_arrays(self) -> dict[str, np.ndarray]:
        """Outputs by name (those within the size limit)."""
        return dict(self._arrays)

    def profile_trace(self) -> bytes:
        """The raw ONNX Runtime profile (Chrome/Perfetto trace JSON)."""
        return self._profile_json

    def optimized_model(self) -> bytes:
        """The optimized graph ORT ran (weights over 1 KB left out), as .onnx bytes."""
        return self._optimized_model


# ----------------------------------------------------------------------- preparation


def _safe_runtime_name(name: str) -> bool:
    """Whether ORT may see this node name as is. ORT 1.30 writes node names into the profile
    without escaping: a quote or a newline in a name forges or breaks its JSON."""
    return name.isprintable() and '"' not in name and "\\" not in name and len(name) <= 512


def unique_names(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, str]]:
    """Copy of ``model`` where every node has a unique name; and runtime name → node id.

    Profiler events and EP assignments are keyed by node name; unnamed nodes would appear as
    ``<OpType>_<index>`` and could not be joined to the graph. Names ORT cannot be trusted to
    write safely (quotes, backslashes, control characters) are replaced the same way. Names
    users see are unchanged in the records: the mapping leads back to the original node ids."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    names: dict[str, str] = {}
    taken = Counter(n.name for s in walk(copy).scopes for n in s.nodes if n.name)
    for scope in walk(copy).scopes:
        for i, node in enumerate(scope.nodes):
            nid = scope.node_id(i)
            if (
                not node.name
                or taken[node.name] > 1
                or node.name in names
                or not _safe_runtime_name(node.name)
            ):
                base = f"{node.op_type}__{nid}"
                name, k = base, 1
                while name in names or name in taken:
                    k += 1
                    name = f"{base}_{k}"
                node.name = name
            names[node.name] = nid
    return copy, names


def _write_companions(model: LoadedModel, target: Path) -> None:
    report = build_external_data(model)
    bad = [t for t in report.tensors if not t.usable]
    if bad:
        first = bad[0]
        raise RunError(
            f"Cannot run: external tensor {first.tensor!r} is unusable "
            f"({'; '.join(first.messages)}). Fix or upload the data files first."
        )
    for f in report.files:
        dest = target / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        comp = model.companions
        if isinstance(comp, DirectoryCompanions):
            src = comp.root / f.name
            try:
                os.link(src, dest)  # same file system: no copy (ORT rejects symlinks)
                continue
            except OSError:
                shutil.copyfile(src, dest, follow_symlinks=False)
                continue
        size = comp.size(f.name) or 0
        with open(dest, "wb") as fh:
            fh.write(comp.read(f.name, 0, size))


@dataclass
class PreparedModel:
    """The model as the workers see it: a private folder with the model and its data."""

    folder: Path
    model_path: Path
    runtime_names: dict[str, str]  # runtime node name → original node id
    input_types: dict[str, str]
    owned: bool  # remove the folder when done
    original: onnx.ModelProto  # with the unique names the workers see
    name: str = "model.onnx"  # the user's name for the model (messages show it, not our paths)

    def cleanup(self) -> None:
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def prepare(model: LoadedModel, work_dir: Path | None = None) -> PreparedModel:
    owned = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="inspector-run-")) if work_dir is None else Path(work_dir)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    folder = root / "model"
    folder.mkdir(exist_ok=True)
    try:
        _write_companions(model, folder)
        named, mapping = unique_names(model.proto)
        path = folder / "model.onnx"
        path.write_bytes(named.SerializeToString())
    except BaseException:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
        raise
    types = {v.name: v.dtype for v in build_overview(model).inputs}
    return PreparedModel(root, path, mapping, types, owned, named, model.name)


# ------------------------------------------------------------------------ execution


PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
#: The worker's start: an isolated interpreter (-I: no user site, no PYTHONPATH, no cwd on
#: sys.path) that imports the worker from this package, drops the package folder from sys.path
#: and confines itself to its private folder (sandbox.py) before it touches the model.
_BOOTSTRAP = (
    "import json, sys; root, private, reads = sys.argv[1:4]; sys.path.insert(0, root); "
    "import inspector.run.worker as w; sys.path.remove(root); "
    "w.confined_main(private, json.loads(reads), sys.argv[4:])"
)


def _worker_env(private: Path) -> dict[str, str]:
    return minimal_env(str(private))


def worker_command(private: Path, *args: str) -> list[str]:
    """The argv that starts a confined worker: it may write ``private`` and read Python, the
    system folders and the folders of the plugin EP libraries it may load."""
    reads = sorted({str(Path(lib).resolve().parent) for _, lib in plugin_libraries()})
    return [
        sys.executable,
        "-I",
        "-c",
        _BOOTSTRAP,
        PACKAGE_ROOT,
        str(private),
        json.dumps(reads),
        *args,
    ]


def check_can_start_workers() -> None:
    """Refuse early, with the reason, where workers would run as root unconfined."""
    from inspector.run.sandbox import landlock_abi, unconfined_root_allowed

    if os.geteuid() == 0 and landlock_abi() == 0 and not unconfined_root_allowed():
        from inspector.run.worker import UNCONFINED_ROOT

        raise RunError(f"Cannot run: {UNCONFINED_ROOT}")


def _job(
    prepared: PreparedModel,
    config: RunConfig,
    inputs: Mapping[str, np.ndarray],
    job_dir: Path,
    limits: Limits,
    save_optimized: bool,
    check_only: bool = False,
) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, value in inputs.items():
        arr = np.asarray(value)
        if arr.dtype == object:  # strings: saved as unicode, never pickled
            arr = arr.astype(np.str_)
        arrays[name] = arr
    np.savez(job_dir / "inputs.npz", **arrays)  # type: ignore[arg-type]  # numpy stub
    cfg = config.to_dict()
    cfg["level_value"] = config.level_value
    cfg["eps"] = [{"name": e.name, "options": list(e.options)} for e in config.eps]
    job = {
        "model": str(prepared.model_path),
        "config": cfg,
        "plugins": plugin_libraries(),
        "memory_limit_bytes": limits.worker_memory_bytes,
        "max_output_bytes": limits.max_output_bytes,
        "input_types": prepared.input_types,
        "save_optimized": save_optimized,
        "check_only": check_only,
    }
    (job_dir / "job.json").write_text(json.dumps(job))


class Worker:
    """One worker process, started ahead of its job so interpreter and onnxruntime imports
    (~0.16 s) overlap the previous configuration. It is a plain child interpreter, not
    multiprocessing: nothing of the parent — Streamlit's threads, its ``__main__`` — is
    inherited or re-imported, and a segfault is just an exit code."""

    def __init__(self, prepared: PreparedModel) -> None:
        check_can_start_workers()
        self.log_path = Path(
            tempfile.mkstemp(prefix="worker-", suffix=".log", dir=prepared.folder)[1]
        )
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in finish()
        model_dir = prepared.model_path.parent
        self.proc = subprocess.Popen(
            worker_command(prepared.folder, "--stdin", str(model_dir)),
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=model_dir,
            env=_worker_env(prepared.folder),
        )
        self.timed_out = False

    def run(self, job_dir: Path, timeout_s: float) -> int:
        """Hand the job over and wait (blocking, no polling); kill after ``timeout_s``."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(f"{job_dir}\n".encode())
            self.proc.stdin.close()
        except BrokenPipeError:  # the worker died before its job: reported by the exit code
            pass

        def kill() -> None:
            self.timed_out = True
            self.proc.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            return self.proc.wait()
        finally:
            timer.cancel()
            self._log.close()

    def discard(self) -> None:
        """Stop a worker that never got a job."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()  # EOF: the worker exits
            self.proc.wait(10)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
        self._log.close()


def run_prepared(
    prepared: PreparedModel,
    config: RunConfig,
    inputs: Mapping[str, np.ndarray],
    job_dir: Path,
    limits: Limits | None = None,
    save_optimized: bool = True,
    keep: bool = False,
    worker: Worker | None = None,
    on_started: Callable[[], None] | None = None,
) -> RunResult:
    """Run one configuration in a child process and turn what it wrote into a record."""
    limits = limits or DEFAULT_LIMITS
    _job(prepared, config, inputs, job_dir, limits, save_optimized)
    worker = worker or Worker(prepared)
    if on_started:
        on_started()
    code = worker.run(job_dir, limits.run_timeout_s)
    if worker.timed_out:
        return _failed(
            config,
            "timeout",
            f"{config.label}: no result after "
            f"{limits.run_timeout_s:g} s; the worker was killed (raise the timeout "
            "for slow models).",
        )
    result_file = job_dir / "result.json"
    if not result_file.exists():
        if code is not None and code < 0:
            sig = (
                signal.Signals(-code).name
                if -code in signal.Signals._value2member_map_
                else str(-code)
            )
            return _failed(
                config,
                "crash",
                f"{config.label}: the worker crashed ({sig}) inside "
                "ONNX Runtime; other configurations are unaffected.",
            )
        tail = worker.log_path.read_bytes()[-600:].decode(errors="replace").strip()
        return _failed(
            config,
            "crash",
            f"{config.label}: the worker exited with code {code} without a result. {tail}".strip(),
        )
    data = json.loads(result_file.read_text())
    if isinstance(data.get("error"), dict):
        err = data["error"]
        err["message"] = scrub_paths(str(err.get("message", "")), prepared.folder, prepared.name)
        err.pop("traceback", None)  # our code's internals: in the worker log, not on screen
    return _to_record(config, data, job_dir, prepared.runtime_names, keep, prepared.original)


def scrub_paths(message: str, folder: Path, model_name: str) -> str:
    """ORT's messages quote the private run folder: show the model's name instead."""
    return (
        message.replace(str(folder / "model" / "model.onnx"), model_name)
        .replace(str(folder / "model"), "<model folder>")
        .replace(str(folder), "<run folder>")
    )


def _failed(config: RunConfig, kind: str, message: str) -> RunResult:
    return RunResult(
        label=config.label,
        config=config,
        status="error",
        error_kind=kind,
        error=message,
        session_create_s=None,
        latency=None,
        providers_requested=tuple(e.name for e in config.eps),
        providers_active=(),
        notes=(),
        assignment=(),
        fallback=None,
        profile=None,
        outputs=(),
        optimized_nodes=None,
        optimized_ops=(),
        origins=(),
        results_dir="",
    )


def _plain_strict(config: RunConfig, kind: str, message: str, notes: Any) -> str:
    """ORT's strict-mode refusals, said in plain words first (ORT's own text follows)."""
    if not config.strict:
        return message
    eps = ", ".join(e.short for e in config.eps)
    if kind == "strict_fallback_refused":
        return (
            f"{config.label}: strict mode refused the session: some nodes have no kernel on "
            f"{eps}, and strict mode forbids running them on CPU (run without strict to see "
            f"which nodes fall back). ONNX Runtime said: {message.split(': ', 1)[-1]}"
        )
    if "Conflicting session configuration" in message:
        missing = [n for n in notes if "requested" in n]
        why = missing[0] if missing else f"{eps} is not usable here"
        return (
            f"{config.label}: strict mode could not start: {why.split(' (')[0]}; that leaves "
            "only the CPU EP, which strict mode forbids. ONNX Runtime said: "
            f"{message.split(': ', 1)[-1]}"
        )
    return message


def _to_record(
    config: RunConfig,
    data: dict[str, Any],
    job_dir: Path,
    names: dict[str, str],
    keep: bool,
    original: onnx.ModelProto,
) -> RunResult:
    requested = tuple(e.name for e in config.eps)
    if data.get("status") != "ok":
        err = data.get("error", {})
        kind = err.get("kind", "error")
        message = f"{config.label}: {err.get('stage', 'run')} failed: {err.get('message', '')}"
        if kind == "out_of_memory":
            message += " (the worker's memory cap was reached; raise it if the model needs more)"
        message = _plain_strict(config, kind, message, data.get("notes", ()))
        r = _failed(config, kind, message)
        return replace(r, notes=tuple(data.get("notes", ())))
    lat = data["latency"]
    latency = Latency(
        median_ms=lat["median_ms"],
        p10_ms=lat["p10_ms"],
        p90_ms=lat["p90_ms"],
        p99_ms=lat["p99_ms"],
        mean_ms=lat["mean_ms"],
        std_ms=lat["std_ms"],
        min_ms=lat["min_ms"],
        runs_ms=tuple(lat["runs_ms"]),
    )
    assignment = tuple(
        NodeEp(node=a["name"], node_id=names.get(a["name"], ""), op_type=a["op_type"], ep=a["ep"])
        for a in data.get("assignment", [])
    )
    profile = None
    profile_json = b""
    if data.get("profile"):
        ppath = job_dir / data["profile"]
        profile = parse_profile(ppath)
        # Re-encoded: valid JSON for trace viewers even where ORT wrote raw control characters.
        profile_json = json.dumps(load_trace(ppath)).encode()
    active = tuple(data.get("providers_active", ()))
    fallback = fallback_summary(requested, active, assignment, profile, names)
    outputs: tuple[OutputInfo, ...] = ()
    arrays: dict[str, np.ndarray] = {}
    if (job_dir / "outputs.npz").exists():
        with np.load(job_dir / "outputs.npz", allow_pickle=False) as npz:
            metas = data.get("outputs", [])
            outputs = tuple(
                OutputInfo(
                    name=m["name"],
                    dtype=m["dtype"],
                    shape=tuple(m["shape"]),
                    bytes=m["bytes"],
                    saved=m["saved"],
                    note=m.get("note", ""),
                )
                for m in metas
            )
            arrays = {m["name"]: npz[f"o{i}"] for i, m in enumerate(metas) if m["saved"]}
    optimized_nodes: int | None = None
    ops: tuple[tuple[str, int], ...] = ()
    optimized_bytes = b""
    origins: dict[str, tuple[str, ...]] = {}
    opt = job_dir / "optimized.onnx"
    if opt.exists():
        optimized_bytes = opt.read_bytes()
        proto = onnx.ModelProto()
        proto.ParseFromString(optimized_bytes)
        counts = Counter(
            n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
            for n in proto.graph.node
        )
        optimized_nodes = len(proto.graph.node)
        ops = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        origins = derive_origins(original, proto, names)
    compiled = compiled_origins(((a.node, a.ep) for a in assignment), names)
    for t in profile.nodes if profile else ():
        if t.node in names:
            origins.setdefault(t.node, (names[t.node],))
        elif t.ep in compiled and t.node.startswith(t.ep):
            origins[t.node] = compiled[t.ep]  # one event for a whole EP-compiled subgraph
    return RunResult(
        label=config.label,
        config=config,
        status="ok",
        error_kind="",
        error="",
        session_create_s=data.get("session_create_s"),
        latency=latency,
        providers_requested=requested,
        providers_active=active,
        notes=tuple(data.get("notes", ())),
        assignment=assignment,
        fallback=fallback,
        profile=profile,
        outputs=outputs,
        optimized_nodes=optimized_nodes,
        optimized_ops=ops,
        origins=tuple(sorted(origins.items())),
        results_dir=str(job_dir) if keep else "",
        _arrays=arrays,
        _profile_json=profile_json,
        _optimized_model=optimized_bytes,
    )


def fallback_summary(
    requested: tuple[str, ...],
    active: tuple[str, ...],
    assignment: tuple[NodeEp, ...],
    profile: Profile | None,
    names: dict[str, str],
) -> Fallback:
    preferred = requested[0] if requested else "CPUExecutionProvider"
    if assignment:
        rows, source = assignment, "assignment_info"
    else:
        rows = tuple(
            NodeEp(node=t.node, node_id=names.get(t.node, ""), op_type=t.op_type, ep=t.ep)
            for t in (profile.nodes if profile else ())
        )
        source = "profiler"
    per_ep = Counter(r.ep for r in rows)
    off = tuple(r for r in rows if r.ep != preferred)
    inactive = tuple(ep for ep in requested if ep not in active)
    return Fallback(
        preferred_ep=preferred,
        nodes_per_ep=tuple(sorted(per_ep.items())),
        off_preferred=off,
        requested_inactive=inactive,
        source=source,
    )


ProgressFn = Callable[[int, int, str, str], None]


def run_matrix(
    model: LoadedModel,
    matrix: Matrix,
    inputs: Mapping[str, np.ndarray],
    *,
    limits: Limits | None = None,
    out_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> tuple[RunResult, ...]:
    """Run every configuration; one failing never stops the others.

    ``progress(i, n, label, phase)`` is called with phase "start" and "done" per configuration.
    ``limits`` default to the model's (``run_timeout_s``, ``worker_memory_bytes``,
    ``max_output_bytes``).
    """
    limits = limits or model.limits
    prepared = prepare(model, Path(out_dir) if out_dir else None)
    results = []
    spare: list[Worker] = []
    try:
        n = len(matrix.configs)
        for i, config in enumerate(matrix.configs):
            if progress:
                progress(i, n, config.label, "start")
            worker = spare.pop() if spare else Worker(prepared)

            def prestart(i: int = i, config: RunConfig = config) -> None:
                # Start the next worker while this one runs, only if a core is spare: its
                # imports then do not compete with the timed runs.
                if i + 1 < n and config.intra_op_threads < (os.cpu_count() or 1):
                    spare.append(Worker(prepared))

            job = prepared.folder / f"run_{i:02d}"
            results.append(
                run_prepared(
                    prepared,
                    config,
                    inputs,
                    job,
                    limits,
                    keep=out_dir is not None,
                    worker=worker,
                    on_started=prestart,
                )
            )
            if progress:
                progress(i, n, config.label, "done")
    finally:
        for w in spare:
            w.discard()
        prepared.cleanup()
    return tuple(results)
