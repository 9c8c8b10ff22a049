"""The worker: runs one configuration in a child process. The only module that imports ORT.

It is started by :mod:`inspector.run.execute.runner` in a fresh process whose working directory is a
private folder holding only the model and its validated external-data files. It reads
``job.json`` from its results folder, caps its address space, builds the sessions, and writes
``result.json`` (plus ``outputs.npz``, the profile and the optimized model) back there. A crash
in ONNX Runtime kills only this process; the parent reports it.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from inspector.run.execute.protocol import JobConfig, OutputMeta, WorkerJob, WorkerResult
from inspector.run.readout import timing
from inspector.run.readout.eplog import failing_ep, log_lines
from inspector.run.setup.options import (
    OPENVINO,
    check_ep_options,
    check_optimizer_names,
    check_session_config,
    openvino_load_config,
    precision_note,
)

ERROR_KINDS = {  # ORT exception class name → our error kind
    "Fail": "ort_fail",
    "InvalidGraph": "invalid_graph",
    "NotImplemented": "not_implemented",
    "NoSuchFile": "no_such_file",
    "InvalidProtobuf": "invalid_protobuf",
    "RuntimeException": "runtime",
    "EPFail": "ep_failure",
    "InvalidArgument": "invalid_argument",
    "ModelLoaded": "ort_fail",
    "EngineError": "ort_fail",
}


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    a = np.asarray(values_ms, dtype=np.float64)
    return {
        "median_ms": float(np.median(a)),
        "p10_ms": float(np.percentile(a, 10)),
        "p90_ms": float(np.percentile(a, 90)),
        "p99_ms": float(np.percentile(a, 99)),
        "mean_ms": float(a.mean()),
        "std_ms": float(a.std()),
        "min_ms": float(a.min()),
    }


def _classify(exc: BaseException, eps: tuple[str, ...] = (), stage: str = "") -> str:
    text = str(exc)
    if isinstance(exc, MemoryError) or "bad_alloc" in text or "Failed to allocate" in text:
        return "out_of_memory"
    if "fallback to CPU EP has been explicitly disabled" in text:
        return "strict_fallback_refused"
    if failing_ep(text, eps, stage):  # an EP claimed a node, then could not run it
        return "ep_failure"
    return ERROR_KINDS.get(type(exc).__name__, "error")


#: Most bytes of captured output read back (the kept lines are bounded by the job's limits).
_CAPTURE_READ_BYTES = 4 << 20


class _Capture:
    """The process's stdout and stderr (file descriptors 1 and 2: ORT's log sink and plugin EPs
    write there, not through Python) sent to ``path`` from plugin registration through the
    first run, then restored. What was captured is copied on to the real stderr (the worker's
    log keeps everything) and its lines about EPs become ``result["ep_log"]``
    (:func:`inspector.run.readout.eplog.log_lines`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: list[int] = []

    def start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self._saved = [os.dup(1), os.dup(2)]
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)

    def stop(self, max_lines: int, max_bytes: int) -> list[str]:
        if not self._saved:
            return []
        sys.stdout.flush()
        sys.stderr.flush()
        for target, saved in zip((1, 2), self._saved, strict=True):
            os.dup2(saved, target)
            os.close(saved)
        self._saved = []
        try:
            with open(self.path, "rb") as f:
                raw = f.read(_CAPTURE_READ_BYTES)
            self.path.unlink()
        except OSError as exc:  # the log is a help, never a reason to lose the result
            return [f"(the EP log could not be read back: {exc})"]
        os.write(2, raw)
        return log_lines(raw.decode(errors="replace"), max_lines, max_bytes)


def _plugin_eps(ort: Any, plugins: list[list[str]]) -> dict[str, list[Any]]:
    """Register plugin EP libraries; return their devices by EP name."""
    for name, path in plugins:
        try:
            ort.register_execution_provider_library(name, path)
        except Exception as exc:  # already registered, or the library does not load
            if "already registered" not in str(exc):
                raise
    devices: dict[str, list[Any]] = {}
    for d in ort.get_ep_devices():
        devices.setdefault(d.ep_name, []).append(d)
    return devices


def _session_options(
    ort: Any,
    cfg: JobConfig,
    devices: dict[str, list[Any]],
    plugin_names: set[str],
    notes: list[str],
    job_dir: Path,
) -> tuple[Any, list[Any] | None]:
    # The parent validated these already; check again so that only allow-listed keys ever
    # reach ORT, whoever wrote job.json (options.py explains the threat).
    session_config = check_session_config(cfg["session_config"])
    disabled = check_optimizer_names(cfg["disabled_optimizers"])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel(cfg["level_value"])
    so.intra_op_num_threads = cfg["intra_op_threads"]
    so.inter_op_num_threads = cfg["inter_op_threads"]
    so.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL
        if cfg["execution_mode"] == "parallel"
        else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    # WARNING: ORT's own warnings and what plugin EPs log through ORT's logger about the
    # nodes they claim or not (ggml's "… use ops this provider lacks: …; claiming nothing").
    so.log_severity_level = 2
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if hasattr(ort.InferenceSession, "get_provider_graph_assignment_info"):
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    if disabled:
        # Semicolons: commas are silently ignored by ORT.
        so.add_session_config_entry("optimization.disable_specified_optimizers", ";".join(disabled))
    if cfg["strict"]:
        so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    for key, value in session_config:
        so.add_session_config_entry(key, value)

    requested = [(e["name"], dict(check_ep_options(e["name"], e["options"]))) for e in cfg["eps"]]
    available = set(ort.get_available_providers())
    usable = []
    for name, options in requested:
        if name in plugin_names and name in devices:
            usable.append((name, _openvino(name, options, job_dir, notes), True))
        elif name in available:
            usable.append((name, _openvino(name, options, job_dir, notes), False))
        elif name in plugin_names:
            notes.append(
                f"{name} requested: its plugin is installed but lists no device on this "
                "machine (nodes run on the next EP in the list, or CPU)"
            )
        else:
            notes.append(
                f"{name} requested but not available in this onnxruntime build "
                "(nodes run on the next EP in the list, or CPU)"
            )
    if any(plugin for _, _, plugin in usable):
        compiled = [n for n, _, plugin in usable if not plugin and n != "CPUExecutionProvider"]
        if compiled:
            notes.append(
                f"{', '.join(compiled)} ignored: ONNX Runtime cannot combine plugin EPs "
                "with compiled-in EPs in one session"
            )
        for name, options, plugin in usable:
            if plugin or name == "CPUExecutionProvider":
                so.add_provider_for_devices(devices[name], options)
        return so, None
    providers = [(n, o) for n, o, _ in usable] or [("CPUExecutionProvider", {})]
    return so, providers


def _openvino(name: str, options: dict[str, str], job_dir: Path, notes: list[str]) -> dict:
    """OpenVINO's options as its plugin EP takes them: ``precision`` (which it ignores as a
    provider option) written as OpenVINO properties into a ``load_config`` file in this
    worker's own folder — content from allow-listed values, a path the inspector chose — and
    a note saying the precision in effect (the CPU plugin's default where none was asked)."""
    if name != OPENVINO:
        return options
    rest, config = openvino_load_config(options.items())
    if config is None:
        try:
            flags = Path("/proc/cpuinfo").read_text().split("flags", 1)[1].split("\n", 1)[0]
        except (OSError, IndexError):
            flags = ""
        notes.append(precision_note(None, flags.replace(":", " ").split()))
        return options
    path = job_dir / "openvino_load_config.json"
    path.write_text(json.dumps(config))
    notes.append(precision_note(options["precision"]))
    return {**dict(rest), "load_config": str(path)}


def _status_bytes(key: str) -> int | None:
    """This process's ``VmRSS`` (resident now) or ``VmHWM`` (its high-water mark) in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if key == "VmHWM":  # no /proc: the same high-water mark as the kernel counts it
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return None


def _reset_peak() -> bool:
    """Reset the high-water mark (``VmHWM``) to the resident size now, so the next reading is
    one phase's peak (Linux ≥ 4.0: "5" to ``/proc/self/clear_refs``); False where refused."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _make_session(ort: Any, model: str, so: Any, providers: list[Any] | None) -> Any:
    if providers is None:
        return ort.InferenceSession(model, so)
    return ort.InferenceSession(
        model, so, providers=[p for p, _ in providers], provider_options=[o for _, o in providers]
    )


def _feeds(ort: Any, inputs: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    feeds: dict[str, Any] = {}
    for name, arr in inputs.items():
        if arr is None or isinstance(arr, list):  # an empty optional, a sequence of tensors
            feeds[name] = (
                None
                if arr is None
                else [a.astype(object) if a.dtype.kind == "U" else a for a in arr]
            )
            continue
        onnx_type = types.get(name, "")
        if onnx_type in SUB_BYTE_BITS:
            feeds[name] = _packed(ort, arr, onnx_type)
        elif onnx_type in ONNX_TYPE_IDS:  # bfloat16, float8: their codes, typed by ORT
            feeds[name] = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                arr.view(np.uint8 if arr.dtype.itemsize == 1 else np.uint16),
                ONNX_TYPE_IDS[onnx_type],
            )
        elif arr.dtype.kind == "U":
            feeds[name] = arr.astype(object)
        else:
            feeds[name] = arr
    return feeds


#: Bits per element of the sub-byte types ORT takes packed, lowest bits first.
SUB_BYTE_BITS = {"INT4": 4, "UINT4": 4, "INT2": 2, "UINT2": 2, "FLOAT4E2M1": 4}
#: onnx's TensorProto.DataType numbers (fixed by the format) of the types numpy has no dtype
#: for: the worker feeds them to ORT without importing onnx (0.5–0.9 s) for the lookup.
ONNX_TYPE_IDS = {
    "BFLOAT16": 16,
    "FLOAT8E4M3FN": 17,
    "FLOAT8E4M3FNUZ": 18,
    "FLOAT8E5M2": 19,
    "FLOAT8E5M2FNUZ": 20,
    "UINT4": 21,
    "INT4": 22,
    "FLOAT4E2M1": 23,
    "FLOAT8E8M0": 24,
    "UINT2": 25,
    "INT2": 26,
}


def _packed(ort: Any, arr: np.ndarray, onnx_type: str) -> Any:
    """An OrtValue of a sub-byte type from one value per element: only each value's low bits
    count (two's complement integers; float4's codes), packed as ONNX stores them (first
    element lowest)."""
    import ctypes

    bits = SUB_BYTE_BITS[onnx_type]
    per_byte = 8 // bits
    low = (arr.view(np.uint8) if arr.dtype.itemsize == 1 else arr.astype(np.int64)).ravel()
    low = (low & ((1 << bits) - 1)).astype(np.uint8)
    low = np.concatenate([low, np.zeros((-low.size) % per_byte, np.uint8)])
    packed = np.zeros(low.size // per_byte, np.uint8)
    for k in range(per_byte):
        packed |= low[k::per_byte] << (k * bits)
    value = ort.OrtValue.ortvalue_from_shape_and_type(list(arr.shape), ONNX_TYPE_IDS[onnx_type])
    if value.tensor_size_in_bytes() != packed.nbytes:
        raise ValueError(
            f"packed {onnx_type} input has {packed.nbytes} bytes, ORT expects "
            f"{value.tensor_size_in_bytes()}"
        )
    ctypes.memmove(value.data_ptr(), packed.ctypes.data, packed.nbytes)
    return value


def _assignment(sess: Any) -> list[dict[str, str]]:
    if not hasattr(sess, "get_provider_graph_assignment_info"):
        return []
    rows = []
    for sub in sess.get_provider_graph_assignment_info():
        for node in sub.get_nodes():
            rows.append(
                {
                    "name": node.name,
                    "op_type": node.op_type,
                    "domain": getattr(node, "domain", ""),
                    "ep": sub.ep_name,
                }
            )
    return rows


def _as_array(value: Any) -> tuple[np.ndarray, str]:
    """An output as an array the parent can compare numerically where it holds numbers.

    Tensors pass through. A map (``{label: score}``) and a sequence of maps (sklearn
    classifiers' ZipMap output, ``seq(map(int64, float))``) become a float array with one column
    per key, keys in sorted order. Anything else is compared as text. (Sequences of tensors
    never get here: :func:`_save_outputs` keeps their elements.)"""
    if isinstance(value, dict):
        value = [value]
        single = True
    else:
        single = False
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = sorted({k for v in value for k in v}, key=lambda k: (str(type(k)), k))
        try:
            arr = np.array([[float(v.get(k, np.nan)) for k in keys] for v in value])
        except (TypeError, ValueError):
            arr = None
        if arr is not None:
            shown = ", ".join(map(str, keys[:8])) + (" …" if len(keys) > 8 else "")
            kind = "map" if single else "sequence of maps"
            return (arr[0] if single else arr), f"{kind}: one column per key ({shown})"
    arr = np.asarray(value)
    if arr.dtype == object:
        return arr.astype(np.str_), "compared as text"
    return arr, ""


#: ORT's type strings of the element types numpy lacks: (their ml_dtypes name, bits per
#: element). ``run()`` cannot return them ("No corresponding Numpy type"); they are read as
#: OrtValues and saved as their codes (uint16 for bfloat16, else one uint8 per element, sub-byte
#: types unpacked), and the parent restores the type from the name (inspector.model.dtypes).
_ORT_EXOTIC: dict[str, tuple[str, int]] = {
    "tensor(bfloat16)": ("bfloat16", 16),
    "tensor(float8e4m3fn)": ("float8_e4m3fn", 8),
    "tensor(float8e4m3fnuz)": ("float8_e4m3fnuz", 8),
    "tensor(float8e5m2)": ("float8_e5m2", 8),
    "tensor(float8e5m2fnuz)": ("float8_e5m2fnuz", 8),
    "tensor(float8e8m0)": ("float8_e8m0fnu", 8),
    "tensor(float4e2m1)": ("float4_e2m1fn", 4),
    "tensor(int4)": ("int4", 4),
    "tensor(uint4)": ("uint4", 4),
    "tensor(int2)": ("int2", 2),
    "tensor(uint2)": ("uint2", 2),
}


def _exotic_outputs(sess: Any) -> dict[str, str]:
    """Outputs whose element type numpy lacks: name → ORT type string."""
    return {o.name: o.type for o in sess.get_outputs() if o.type in _ORT_EXOTIC}


def _runner(ort: Any, sess: Any, feeds: dict[str, Any], exotic: bool) -> tuple[Any, Any]:
    """``(run, feeds)``: ``sess.run`` and the feeds as they are, or — where an output's element
    type has no numpy type — ``run_with_ort_values`` with every feed as an OrtValue (its
    outputs stay OrtValues until :func:`_decoded`; the wrapper costs ~30 µs a run)."""
    if not exotic:
        return sess.run, feeds
    values = {}
    for name, value in feeds.items():
        if isinstance(value, ort.OrtValue):
            values[name] = value
        elif isinstance(value, np.ndarray):
            values[name] = ort.OrtValue.ortvalue_from_numpy(value)
        else:
            raise ValueError(
                f"input {name!r} is a sequence or an optional, which ONNX Runtime's Python API "
                "cannot feed as an OrtValue, and run_with_ort_values is the only way to read "
                "outputs of types numpy lacks"
            )
    return sess.run_with_ort_values, values


def _decoded(
    ort: Any, sess: Any, names: list[str], values: list[Any], types: list[str], feeds: Any
) -> list[Any]:
    """Outputs as numpy: OrtValues of the exotic types as their codes (see _ORT_EXOTIC). An
    OrtValue that is no tensor (a sequence, an optional) has no numpy form: those outputs are
    fetched again with ``run()`` and the plain ``feeds``."""
    import ctypes

    out: list[Any] = []
    again = [n for n, v in zip(names, values, strict=True) if _not_tensor(ort, v)]
    fetched = dict(zip(again, sess.run(again, feeds), strict=True)) if again else {}
    for name, value, ort_type in zip(names, values, types, strict=True):
        if name in fetched:
            out.append(fetched[name])
            continue
        if not isinstance(value, ort.OrtValue):
            out.append(value)
            continue
        if ort_type not in _ORT_EXOTIC:
            out.append(value.numpy())
            continue
        bits = _ORT_EXOTIC[ort_type][1]
        shape = tuple(value.shape())
        raw = np.frombuffer(
            ctypes.string_at(value.data_ptr(), value.tensor_size_in_bytes()), np.uint8
        )
        if bits >= 8:
            out.append(raw.view(np.uint16 if bits == 16 else np.uint8).reshape(shape).copy())
            continue
        per_byte = 8 // bits
        n = int(np.prod(shape, dtype=np.int64))
        codes = np.stack([(raw >> (k * bits)) & ((1 << bits) - 1) for k in range(per_byte)], 1)
        out.append(codes.ravel()[:n].astype(np.uint8).reshape(shape))
    return out


def _not_tensor(ort: Any, value: Any) -> bool:
    return isinstance(value, ort.OrtValue) and not (value.has_value() and value.is_tensor())


def _plain(arr: np.ndarray) -> np.ndarray:
    return arr.astype(np.str_) if arr.dtype == object else arr


def _save_outputs(
    path: Path,
    names: list[str],
    values: list[Any],
    max_bytes: int,
    types: list[str] | None = None,
) -> list[OutputMeta]:
    """``outputs.npz`` and one record per output. A tensor is ``o<i>``; a sequence of tensors
    keeps its elements as they are, ``o<i>_0``, ``o<i>_1`` … (their shapes may differ); an
    empty optional saves nothing; exotic element types are saved as codes with their ml_dtypes
    name as the dtype; maps become arrays (see :func:`_as_array`)."""
    arrays: dict[str, np.ndarray] = {}
    meta: list[OutputMeta] = []
    total = 0
    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        ort_type = (types or [""] * len(names))[i]
        parts: list[np.ndarray]
        if value is None:
            meta.append(
                OutputMeta(
                    name=name,
                    dtype="",
                    shape=[],
                    bytes=0,
                    saved=False,
                    note="an empty optional (None)",
                    kind="none",
                    shapes=[],
                )
            )
            continue
        if isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
            parts = [_plain(v) for v in value]
            dtype = str(parts[0].dtype) if parts else ""
            kind, note = "sequence", f"a sequence of {len(parts)} tensors"
            shape = [len(parts)]
            keys = [f"o{i}_{k}" for k in range(len(parts))]
        else:
            if ort_type in _ORT_EXOTIC:
                arr, note, dtype = value, "", _ORT_EXOTIC[ort_type][0]
            else:
                arr, note = _as_array(value)
                dtype = str(arr.dtype)
            kind = "map" if note.startswith(("map", "sequence of maps")) else "tensor"
            parts, shape, keys = [arr], list(arr.shape), [f"o{i}"]
        size = sum(int(p.nbytes) for p in parts)
        info = OutputMeta(
            name=name,
            dtype=dtype,
            shape=shape,
            bytes=size,
            saved=False,
            note=note,
            kind=kind,
            shapes=[list(p.shape) for p in parts] if kind == "sequence" else [],
        )
        if total + size <= max_bytes:
            arrays.update(zip(keys, parts, strict=True))
            total += size
            info["saved"] = True
        meta.append(info)
    np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy's stub takes **kwds as bool
    return meta


def _session(
    ort: Any,
    job: WorkerJob,
    cfg: JobConfig,
    devices: dict[str, list[Any]],
    plugin_names: set[str],
    notes: list[str],
    job_dir: Path,
) -> Any:
    """The configuration's one session: the profiler on when profiled runs are asked for (it
    is ended before the timed runs: :func:`_profiled_runs`), the optimized graph saved when
    the job wants it. An EP that compiles part of the graph (OpenVINO) cannot have it
    serialized: the session is then made again without saving, and a note says so.

    One session, not a timed one and a profiled one: the second creation and its first run
    cost a 3.6k-node TTS export ~6 s of every configuration, and timed runs after
    ``end_profiling`` are as fast as a fresh session's (0.98–1.02×, within the session noise:
    ``bench_run.py --profiler``, bench/README.md)."""
    save = bool(job.get("save_optimized"))
    model = job["model"]

    def make(save: bool, notes: list[str]) -> Any:
        so, providers = _session_options(ort, cfg, devices, plugin_names, notes, job_dir)
        if cfg["profiled_runs"] > 0:
            so.enable_profiling = True
            so.profile_file_prefix = str(job_dir / "profile")  # never the default: the cwd
        if save:
            so.optimized_model_filepath = str(job_dir / "optimized.onnx")
            if not job.get("optimized_inline"):  # see WorkerJob.optimized_inline
                so.add_session_config_entry(
                    "session.optimized_model_external_initializers_file_name", "optimized.data"
                )
                so.add_session_config_entry(
                    "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
                )
        return _make_session(ort, model, so, providers)

    try:
        return make(save, notes)
    except Exception as exc:
        if not save or "compiled nodes" not in str(exc):
            raise
    notes.append(
        "optimized graph not saved: an EP compiled part of the graph, "
        "which ONNX Runtime cannot serialize"
    )
    return make(False, [])  # its option notes were made the first time


def _profiled_runs(
    run: Callable[[], object],
    sess: Any,
    cfg: JobConfig,
    job_dir: Path,
    result: WorkerResult,
    first_ms: float | None = None,
) -> list[float]:
    """The profiled runs, then ``end_profiling``. The session's first run is parsing's
    warm-up — or, given as ``first_ms``, the first profiled run itself (a model whose run
    takes seconds: its warm-up is lost in a run, and the median of three ignores it). They
    only share a run's time among its nodes: after MIN_PROFILED_RUNS they stop once a
    quarter of the time budget is spent, or would be by the next run. Returns each run's
    wall time in ms (``first_ms`` first)."""
    budget = timing.profiled_budget_s(float(cfg.get("time_budget_s", 0.0)))
    floor = min(timing.MIN_PROFILED_RUNS, cfg["profiled_runs"])
    start = time.perf_counter() - (first_ms or 0.0) / 1e3
    times = [] if first_ms is None else [first_ms]
    result["profile_warmup_runs"] = 1 if first_ms is None else 0
    while len(times) < cfg["profiled_runs"]:
        t = time.perf_counter()
        run()
        end = time.perf_counter()
        times.append((end - t) * 1e3)
        if budget > 0 and len(times) >= floor and timing.spent(end - start, times, budget):
            break
    if len(times) < cfg["profiled_runs"]:
        result["notes"].append(
            f"profiled {len(times)} of {cfg['profiled_runs']} runs: their budget "
            f"({budget:g} s, a quarter of the time budget) was spent"
        )
    result["profile"] = os.path.basename(sess.end_profiling())
    return times


def run(job_dir: Path) -> WorkerResult:
    job: WorkerJob = json.loads((job_dir / "job.json").read_text())
    cfg = job["config"]
    result: WorkerResult = {"label": cfg["label"], "status": "error", "notes": []}
    notes: list[str] = result["notes"]
    import onnxruntime as ort

    result["ort_version"] = ort.__version__
    notes.extend(f"the worker was not fully confined: {gap}" for gap in _CONFINEMENT_GAPS)
    limit = int(job["memory_limit_bytes"])
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with np.load(job_dir / "inputs.npz", allow_pickle=False) as npz:
        stored = {k: npz[k] for k in npz.files}
    inputs: dict[str, Any] = {}
    for name, where in job["inputs"].items():
        values = [stored[k] for k in where["keys"]]
        inputs[name] = (
            None
            if where["kind"] == "none"
            else values
            if where["kind"] == "sequence"
            else values[0]
        )
    stage = "register plugin EPs"
    capture = _Capture(job_dir / "ep.log")
    max_lines, max_bytes = int(job.get("max_ep_log_lines", 0)), int(job.get("max_ep_log_bytes", 0))
    try:
        capture.start()
        # Register only the plugin EPs this configuration asks for: loading a plugin library
        # (OpenVINO: ~150 MB of shared objects) costs time every other run would pay for.
        wanted = {e["name"] for e in cfg["eps"]}
        plugins = [p for p in job["plugins"] if p[0] in wanted]
        devices = _plugin_eps(ort, plugins)
        plugin_names = {name for name, _ in plugins}
        stage = "create session"
        separate = _reset_peak()  # the high-water mark of this phase only, where Linux allows
        memory = {"baseline_bytes": _status_bytes("VmRSS"), "separate": separate}
        t0 = time.perf_counter()
        sess = _session(ort, job, cfg, devices, plugin_names, notes, job_dir)
        result["session_create_s"] = time.perf_counter() - t0
        memory["create_peak_bytes"] = _status_bytes("VmHWM")
        result["memory"] = memory
        result["providers_active"] = sess.get_providers()
        result["assignment"] = _assignment(sess)
        if job.get("check_only"):  # the load check: a session was created, nothing to run
            result["status"] = "ok"
            return result
        types = {i.name: job["input_types"].get(i.name, "") for i in sess.get_inputs()}
        feeds = _feeds(ort, inputs, types)
        out_names = [o.name for o in sess.get_outputs()]
        out_types = [o.type for o in sess.get_outputs()]
        exotic = _exotic_outputs(sess)
        if exotic:
            kinds = ", ".join(sorted(set(exotic.values())))
            notes.append(
                f"{', '.join(exotic)}: {kinds} has no numpy type, so every run reads its "
                "outputs through run_with_ort_values (~30 µs more per run than run())"
            )
        stage = "run"
        memory["separate"] = separate and _reset_peak()
        plain_feeds = feeds
        run, feeds = _runner(ort, sess, feeds, bool(exotic))
        started, cpu_started = time.perf_counter(), time.process_time()
        raw_outputs = run(out_names, feeds)
        first = time.perf_counter() - started  # the run alone: it may count as a timed run
        outputs = _decoded(ort, sess, out_names, raw_outputs, out_types, plain_feeds)
        result["ep_log"] = capture.stop(max_lines, max_bytes)
        result["outputs"] = _save_outputs(
            job_dir / "outputs.npz", out_names, outputs, int(job["max_output_bytes"]), out_types
        )
        budget = float(cfg.get("time_budget_s", 0.0))
        profiled: list[float] = []
        wall0, cpu0 = started, cpu_started
        nodes = int(job.get("nodes", 0))
        # A model whose run takes seconds (the profiler under 2 % of it): its first run is the
        # first profiled run and every profiled run a timed run — one budget, spent once.
        seeded = cfg["profiled_runs"] > 0 and timing.profiled_are_timed(nodes, first * 1e3)
        if cfg["profiled_runs"] > 0:
            stage = "profile"
            profiled = _profiled_runs(
                lambda: run(out_names, feeds),
                sess,
                cfg,
                job_dir,
                result,
                first_ms=first * 1e3 if seeded else None,
            )
            stage = "run"
        if seeded:
            share = timing.profiler_share(nodes, float(np.median(profiled)))
            notes.append(
                f"the first run and the {len(profiled) - 1} profiled runs after it count as "
                f"timed runs: the profiler costs ~{timing.PROFILER_US_PER_NODE:g} µs a node, "
                f"{100 * share:.1f} % of a run here, and the median of them ignores a slow "
                "first run"
            )
        else:
            # The first run (and the profiled ones) warmed the session up too: further warm-up
            # runs stop at a tenth of the time budget (timing.warm_up), which a model whose run
            # takes seconds spends at once.
            warm = timing.warm_up(
                lambda: run(out_names, feeds),
                runs=cfg["warmup_runs"],
                budget_s=budget,
                spent_s=first + sum(profiled) / 1e3,
            )
            if warm < cfg["warmup_runs"]:
                took = f"the first run took {first:.2g} s"
                if profiled:
                    took += f", the {len(profiled)} profiled runs {sum(profiled) / 1e3:.2g} s"
                notes.append(
                    f"warmed up with {warm} of {cfg['warmup_runs']} runs after the first: "
                    f"{took}, and warm-up stops at {budget * timing.WARMUP_SHARE:g} s (a tenth "
                    "of the time budget)"
                )
            wall0, cpu0 = time.perf_counter(), time.process_time()
        # Until the median's interval is tight or the budget is spent (timing.py); the same
        # session and threads throughout, the profiler ended.
        times, stop, detail = timing.timed_runs(
            lambda: run(out_names, feeds),
            max_runs=cfg["timed_runs"],
            budget_s=budget,
            target=float(cfg.get("target_ci", 0.0)),
            seed=profiled if seeded else (),
            seed_s=time.perf_counter() - wall0 if seeded else 0.0,
        )
        result["latency"] = {
            **_percentiles(times),
            "runs_ms": times,
            "stop": stop,
            "stop_detail": detail,
            "timed_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0,  # < timed_s on one thread: it waited for a core
        }
        memory["run_peak_bytes"] = _status_bytes("VmHWM")
        note = timing.contention_note(
            result["latency"]["cpu_s"], result["latency"]["timed_s"], cfg["intra_op_threads"]
        )
        if note:
            notes.append(note)
        del sess
        result["status"] = "ok"
    except Exception as exc:  # everything ORT raises becomes a reported error
        result["error"] = {
            "kind": _classify(exc, tuple(e["name"] for e in cfg["eps"]), stage),
            "stage": stage,
            "message": str(exc).strip()[:2000] or type(exc).__name__,
        }
    finally:
        if "ep_log" not in result:  # stopped early: a failure, or the load check
            result["ep_log"] = capture.stop(max_lines, max_bytes)
    return result


def child_main(job_dir: str, model_dir: str) -> None:
    """Entry point in the child process (also ``python -m inspector.run.execute.worker JOB
    MODEL``)."""
    os.chdir(model_dir)  # ORT resolves relative paths here: only the model and its data
    out = Path(job_dir)
    if os.environ.get("INSPECTOR_WORKER_FAULT") == "segv":
        # Fault injection for the parent's crash handling (tests): die as ORT would.
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
    try:
        result = run(out)
    except BaseException as exc:  # noqa: BLE001 - report anything, then exit non-zero
        result = {
            "status": "error",
            "error": {
                "kind": _classify(exc),
                "stage": "worker",
                "message": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": traceback.format_exc()[-4000:],
            },
        }
    tmp = out / "result.json.tmp"
    tmp.write_text(json.dumps(result, allow_nan=True))
    tmp.replace(out / "result.json")
    sys.stdout.flush()


#: What :func:`confined_main`'s confinement left open on this machine (see ``Confinement.gaps``).
_CONFINEMENT_GAPS: list[str] = []

UNCONFINED_ROOT = (
    "refusing to run as root without confinement: this kernel has no Landlock, so the worker "
    "could write anywhere. Run the app as an unprivileged user, or set "
    "INSPECTOR_ALLOW_UNCONFINED_ROOT=1 to accept the risk (README: Security)."
)


def confined_main(private: str, reads: list[str], argv: list[str]) -> None:
    """Entry point of a worker the runner started: confine the process to ``private`` (its run
    folder) first, then :func:`main`. Refuses to go on as root when it cannot be confined."""
    from inspector.isolation.sandbox import confine, unconfined_root_allowed

    state = confine(write=[private], read=reads)
    if not state.confined and state.uid == 0 and not unconfined_root_allowed():
        print(UNCONFINED_ROOT, file=sys.stderr)
        sys.exit(3)
    _CONFINEMENT_GAPS[:] = state.gaps()  # each becomes a note on the result
    main(argv)


def main(argv: list[str]) -> None:
    """``worker JOB_DIR MODEL_DIR``, or ``worker --stdin MODEL_DIR``: import onnxruntime first,
    then read the job folder from stdin (a pre-started worker; an empty line means exit)."""
    if argv[0] == "--stdin":
        import onnxruntime  # noqa: F401  - the import is what pre-starting saves

        job_dir = sys.stdin.readline().strip()
        if job_dir:
            child_main(job_dir, argv[1])
            _exit_now()
        return
    child_main(argv[0], argv[1])
    _exit_now()


def _exit_now() -> None:
    """Exit as soon as result.json is in place: the parent waits for this process, and an
    interpreter's teardown (onnxruntime's thread pools and arenas, every module) took another
    ~0.05 s of each configuration for nothing — the job folder is complete and closed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
