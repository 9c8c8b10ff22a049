"""What a run produced, as records: latency, EP assignment and fallback, the profile, outputs.

Decoded from what the worker wrote (``result.json``, ``outputs.npz``, the profile and the
optimized graph, see :mod:`inspector.run.execute.protocol`) by :func:`to_record`. The worker is
untrusted (it ran ONNX Runtime on an uploaded model): its files are read only as plain files of
its own folder (:func:`inspector.run.execute.process.read_worker_file`), within size limits, and a
result that is not what a worker writes becomes an error for that configuration.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from google.protobuf.message import DecodeError

from inspector.limits import DEFAULT_LIMITS, Limits
from inspector.model.dtypes import typed
from inspector.model.proto import ModelProto
from inspector.records import Record
from inspector.run.execute.process import WorkerFileError, bare_name, read_worker_file
from inspector.run.execute.protocol import WorkerResult
from inspector.run.readout.eplog import EpReport, bounded, ep_reports, failing_ep, failure_detail
from inspector.run.readout.origins import (
    KernelOrigin,
    Origins,
    attribute,
    compiled_origins,
    display_names,
    kernel_origins,
)
from inspector.run.readout.profile import Profile, parse_events, trace_events
from inspector.run.readout.sanity import output_warnings
from inspector.run.readout.timing import (
    MIN_CONTENTION_WINDOW_S,
    STOP_REASONS,
    median_interval,
    noise_interval,
    pct,
    ratio_interval,
    relative_halfwidth,
    session_noise,
    within_noise,
)
from inspector.run.setup.config import RunConfig
from inspector.run.setup.inputs import InputError, load_npz

#: The file the worker has ORT write the optimized graph's weights to (beside optimized.onnx).
OPTIMIZED_DATA = "optimized.data"


@dataclass(frozen=True, kw_only=True)
class Latency(Record):
    """A configuration's timed runs and how sure their median is (see :mod:`.timing`).

    The interval fields are computed from ``runs_ms`` when not given, so records from before
    they existed (old bundles) show a spread too; ``stop`` is "" there (fixed runs)."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    runs_ms: tuple[float, ...]
    ci_low_ms: float | None = None  # order-statistic interval of the median (ci_level)
    ci_high_ms: float | None = None
    ci_level: float | None = None  # its coverage: 0.95, or less with under 6 runs (min..max)
    cv: float | None = None  # std / mean of the runs
    stop: str = ""  # why timing stopped: "interval", "budget", "max_runs", "fixed"
    stop_detail: str = ""  # the same in words: "interval ±1.3 % after 37 runs"
    timed_s: float | None = None  # wall time of the timed runs
    cpu_s: float | None = None  # CPU time the worker process used meanwhile (all its threads)

    def __post_init__(self) -> None:
        if self.runs_ms and None in (self.ci_low_ms, self.ci_high_ms, self.ci_level):
            low, high, level = median_interval(self.runs_ms)
            object.__setattr__(self, "ci_low_ms", low)
            object.__setattr__(self, "ci_high_ms", high)
            object.__setattr__(self, "ci_level", level)
        if self.cv is None and self.mean_ms > 0:
            object.__setattr__(self, "cv", self.std_ms / self.mean_ms)

    @property
    def interval(self) -> tuple[float, float]:
        """The median's interval, ms (the median itself where no runs were kept)."""
        low = self.median_ms if self.ci_low_ms is None else self.ci_low_ms
        return low, self.median_ms if self.ci_high_ms is None else self.ci_high_ms

    @property
    def halfwidth(self) -> float:
        """The interval's wider side as a fraction of the median."""
        return relative_halfwidth(self.median_ms, *self.interval)

    @property
    def cpu_share(self) -> float | None:
        """CPU time / wall time of the timed runs: on one thread, below ~0.9 means the worker
        waited for a core (other processes competed) and its times are inflated."""
        if not self.timed_s or self.cpu_s is None or self.timed_s < MIN_CONTENTION_WINDOW_S:
            return None  # too short a window to say (one scheduler tick)
        return self.cpu_s / self.timed_s

    @property
    def window_s(self) -> float:
        """Seconds the timed runs took (their sum where the record predates ``timed_s``)."""
        return self.timed_s if self.timed_s is not None else sum(self.runs_ms) / 1e3

    @property
    def spread(self) -> str:
        """``±1.3 % (CV 4.1 %, 37 runs)`` — what a table shows beside the median."""
        cv = "" if self.cv is None else f"CV {100 * self.cv:.1f} %, "
        return f"{pct(self.halfwidth)} ({cv}{len(self.runs_ms)} runs)"


@dataclass(frozen=True, kw_only=True)
class Memory(Record):
    """The worker's resident memory (RSS, bytes) for one configuration, from the kernel's own
    counters (``/proc/self/status``): before its session, and the high-water marks of session
    creation (the optimized graph's saving included, where it is saved) and of the runs (first,
    profiled, warm-up, timed: one session does them all)."""

    baseline_bytes: int | None  # the interpreter, numpy and onnxruntime, before the session
    create_peak_bytes: int | None  # high-water mark while the session was created
    run_peak_bytes: int | None  # high-water mark while it ran
    # The mark was reset between the phases (Linux's clear_refs); where it could not be, the
    # runs' mark is the whole worker's (creation included).
    separate: bool

    @property
    def peak_bytes(self) -> int | None:
        """The worker's high-water mark over both phases."""
        marks = [m for m in (self.create_peak_bytes, self.run_peak_bytes) if m is not None]
        return max(marks) if marks else None


@dataclass(frozen=True, kw_only=True)
class LatencyDelta(Record):
    """A candidate's median latency against the reference's."""

    reference: str
    candidate: str
    ratio: float  # candidate median / reference median
    ratio_ci: tuple[float, float]  # 95 % bootstrap interval of that ratio (from the runs)
    within_noise: bool  # intervals overlap, each ≥ ±5 % (±10 % if timed < 0.1 s; compared_latency)
    verdict: str  # "within noise", "1.32× slower", "1.23× faster"


#: A one-thread session that got less of a core than this waited for the CPU (timing.py).
CONTENDED_SHARE = 0.85


def compared_latency(r: RunResult) -> tuple[float, float, float] | None:
    """``(median, low, high)`` as comparisons use it: the median's interval widened to the
    session floor for its timed window (:func:`.timing.session_noise`: ±10 % when the runs
    took under 0.1 s, else ±5 %), its low end moved down to ``median × cpu_share`` where a
    one-thread session got less than a whole core — its times are inflated by up to that much
    by processes it waited for."""
    lat = r.latency
    if lat is None:
        return None
    low, high = noise_interval(lat.median_ms, *lat.interval, floor=session_noise(lat.window_s))
    share = lat.cpu_share
    if share is not None and 0 < share < 1 and r.config.intra_op_threads == 1:
        low = min(low, lat.median_ms * share)
    return lat.median_ms, low, high


def contended(r: RunResult) -> bool:
    """Whether a one-thread session's timed runs waited for a core (see CONTENDED_SHARE)."""
    share = r.latency.cpu_share if r.latency else None
    return r.config.intra_op_threads == 1 and share is not None and share < CONTENDED_SHARE


def speed_words(ratio: float) -> str:
    """A ratio of times as a reader compares speeds: ``1.32× slower`` (ratio 1.32),
    ``1.23× faster`` (ratio 0.81) — the factor is never under 1."""
    if ratio > 1:
        return f"{ratio:.2f}× slower"
    return f"{1 / ratio:.2f}× faster" if ratio > 0 else "faster"


def latency_delta(reference: RunResult, candidate: RunResult) -> LatencyDelta | None:
    """How the candidate's median compares with the reference's, or None when either has no
    latency. *Within noise* when the medians' intervals overlap once each is widened to the
    session floor (timing.within_noise says why that and not a rank test) and, for a session
    that waited for a core, down by what it waited (:func:`compared_latency`); the ratio's
    bootstrap interval (the runs' own noise only) is kept beside it."""
    a, b = reference.latency, candidate.latency
    if not (reference.ok and candidate.ok and a and b and a.median_ms > 0):
        return None
    ratio = b.median_ms / a.median_ms
    ci = ratio_interval(a.runs_ms, b.runs_ms) if a.runs_ms and b.runs_ms else (ratio, ratio)
    ca, cb = compared_latency(reference), compared_latency(candidate)
    assert ca is not None and cb is not None
    noise = within_noise(ca, cb)
    verdict = "within noise" if noise else speed_words(ratio)
    waited = [r.label for r in (reference, candidate) if contended(r)]
    if waited:
        verdict += f" ({' and '.join(waited)} waited for a core: the machine was busy)"
    return LatencyDelta(
        reference=reference.label,
        candidate=candidate.label,
        ratio=ratio,
        ratio_ci=ci,
        within_noise=noise,
        verdict=verdict,
    )


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
    kind: str = "tensor"  # "tensor", "sequence" (of tensors), "map" (an array), "none" (empty)
    element_shapes: tuple[tuple[int, ...], ...] = ()  # a sequence's elements (shape: (count,))


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
    placement: tuple[tuple[str, str], ...] = ()  # where it ran (Ray: host, node, cpu, ORT)
    # Every kernel and how it maps to original nodes (own, fused, runtime…; see run.origins).
    kernels: tuple[KernelOrigin, ...] = ()
    node_names: tuple[tuple[str, str, str], ...] = ()  # (id, name in the model, op) of those
    # What ORT and plugin EPs logged while the session was set up (their lines about EPs:
    # eplog.log_lines), and per requested EP what it took and why (eplog.ep_reports).
    ep_log: tuple[str, ...] = ()
    ep_reports: tuple[EpReport, ...] = ()
    memory: Memory | None = None  # the worker's resident memory, by phase
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _profile_json: bytes = field(default=b"", repr=False, compare=False)
    _optimized_model: bytes = field(default=b"", repr=False, compare=False)
    _optimized_data: bytes = field(default=b"", repr=False, compare=False)
    _sequences: dict[str, tuple[np.ndarray, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def output_arrays(self) -> dict[str, np.ndarray]:
        """Tensor outputs by name (those within the size limit); bfloat16, float8, int4 …
        as ml_dtypes arrays. Sequences are in :meth:`output_values`."""
        return dict(self._arrays)

    def output_values(self) -> dict[str, Any]:
        """Every saved output in its own form: an array, a list of arrays for a sequence of
        tensors (their shapes may differ), None for an empty optional."""
        out: dict[str, Any] = {}
        for o in self.outputs:
            if o.kind == "none":
                out[o.name] = None
            elif o.name in self._sequences:
                out[o.name] = list(self._sequences[o.name])
            elif o.name in self._arrays:
                out[o.name] = self._arrays[o.name]
        return out

    def profile_trace(self) -> bytes:
        """The raw ONNX Runtime profile (Chrome/Perfetto trace JSON)."""
        return self._profile_json

    def optimized_model(self) -> bytes:
        """The optimized graph ORT ran, as .onnx bytes. Its weights over 1 KB are in
        :meth:`optimized_model_data`, to lie beside it as ``OPTIMIZED_DATA`` (a model with
        If/Loop/Scan bodies keeps them inside: see ``Job.optimized_inline``)."""
        return self._optimized_model

    def optimized_model_data(self) -> bytes:
        """The external-data file the optimized graph names (``OPTIMIZED_DATA``), b"" if none."""
        return self._optimized_data


def scrub_paths(message: str, folder: Path, model_name: str) -> str:
    """ORT's messages quote the private run folder: show the model's name instead."""
    return (
        message.replace(str(folder / "model" / "model.onnx"), model_name)
        .replace(str(folder / "model"), "<model folder>")
        .replace(str(folder), "<run folder>")
    )


def failed(config: RunConfig, kind: str, message: str) -> RunResult:
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


#: ORT messages that mean "these input sizes or values do not suit the model", and what to try.
INPUT_HINTS: tuple[tuple[str, str], ...] = (
    (
        r"Shape mismatch attempting to re-use buffer|Concat|Resize|dimension mismatch|"
        r"Invalid dimensions|not broadcastable|Incompatible dimensions|cannot be reshaped",
        "the input sizes do not fit the model's layers: give image sides that are multiples "
        "of its stride (32 for most CNNs and detectors, e.g. 224 or 320) with --shape "
        "INPUT=1,3,320,320 or the Run lab's shape field, or let --probe find sizes that run",
    ),
    (
        r"[Pp]ad.*reflect|reflect.*axis length|kernel size.*larger|Kernel size",
        "an input dim is shorter than a layer's window (a reflect Pad or a kernel): give that "
        "dim a larger size (e.g. 512 samples) with --shape",
    ),
    (
        r"indices element out of data bounds|out of range|idx=",
        "an index input holds values outside the model's range: narrow it with --range "
        "INPUT=0:N (e.g. the vocabulary size)",
    ),
)


def input_hint(message: str) -> str:
    """What to try when ORT's message says the inputs do not suit the model ("" if not)."""
    for pattern, hint in INPUT_HINTS:
        if re.search(pattern, message):
            return hint
    return ""


def plain_strict(config: RunConfig, kind: str, message: str, notes: Any) -> str:
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


def to_record(
    config: RunConfig,
    data: WorkerResult,
    job_dir: Path,
    names: dict[str, str],
    keep: bool,
    original: ModelProto,
    limits: Limits = DEFAULT_LIMITS,
    shown: Mapping[str, str] | None = None,
) -> RunResult:
    """The record of one configuration from the worker's ``result.json`` (``data``) and the
    files beside it in ``job_dir``. Files that are links, not plain files of the folder, or
    over their limit make the configuration an error that says so; nothing is read from
    where they point. ``shown``: node id → the name the model gave it (tables show it)."""
    try:
        return _to_record(config, data, job_dir, names, keep, original, limits, shown)
    except WorkerFileError as exc:
        return refused(config, str(exc))
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError, DecodeError) as exc:
        # The worker's JSON and files are untrusted data: a malformed one is that run's error.
        return refused(config, f"its files are not what a worker writes ({exc!r:.200})")


def refused(config: RunConfig, why: str) -> RunResult:
    """A configuration whose worker left files the server does not read (see to_record)."""
    return failed(
        config,
        "worker_files",
        f"{config.label}: the worker's results were refused: {why.rstrip('.')}. A worker "
        "writes plain files in its own folder; this one may have been subverted by the model.",
    )


def _to_record(
    config: RunConfig,
    data: WorkerResult,
    job_dir: Path,
    names: dict[str, str],
    keep: bool,
    original: ModelProto,
    limits: Limits,
    shown: Mapping[str, str] | None = None,
) -> RunResult:
    requested = tuple(e.name for e in config.eps)
    ep_log = bounded(data.get("ep_log", []), limits.max_ep_log_lines, limits.max_ep_log_bytes)
    placed = [(str(a["op_type"]), str(a["ep"])) for a in data.get("assignment", [])]
    notes = tuple(str(n) for n in data.get("notes", ()))
    if data.get("status") != "ok":
        err = data.get("error", {})
        kind = err.get("kind", "error")
        message = f"{config.label}: {err.get('stage', 'run')} failed: {err.get('message', '')}"
        failure = None
        if kind == "out_of_memory":
            message += " (the worker's memory cap was reached; raise it if the model needs more)"
        if kind == "ep_failure":
            failure = ep_failure(config, err, names, shown)
            message = failure[3]
        message = plain_strict(config, kind, message, notes)
        hint = input_hint(message) if err.get("stage") == "run" and not failure else ""
        if hint:
            message = message.rstrip(". ") + f". Try: {hint}."
        r = failed(config, kind, message)
        reports = ep_reports(requested, placed, ep_log, notes, failure and failure[:3])
        return replace(r, notes=notes, ep_log=ep_log, ep_reports=reports)
    lat = data.get("latency")
    latency = (
        None
        if lat is None
        else Latency(
            median_ms=lat["median_ms"],
            p10_ms=lat["p10_ms"],
            p90_ms=lat["p90_ms"],
            p99_ms=lat["p99_ms"],
            mean_ms=lat["mean_ms"],
            std_ms=lat["std_ms"],
            min_ms=lat["min_ms"],
            runs_ms=tuple(lat["runs_ms"]),
            stop=lat.get("stop", "") if lat.get("stop") in STOP_REASONS else "",
            stop_detail=str(lat.get("stop_detail", ""))[:200],
            timed_s=float(lat["timed_s"]) if "timed_s" in lat else None,
            cpu_s=float(lat["cpu_s"]) if "cpu_s" in lat else None,
        )
    )
    assignment = tuple(
        NodeEp(node=a["name"], node_id=names.get(a["name"], ""), op_type=a["op_type"], ep=a["ep"])
        for a in data.get("assignment", [])
    )
    profile = None
    profile_json = b""
    if data.get("profile"):
        # The worker reports the profile's name (ORT chooses it): a name in its folder only.
        name = bare_name(data["profile"])
        raw = read_worker_file(job_dir, name, limits.max_output_bytes)
        if raw is None:
            raise WorkerFileError(f"the profile {name!r} it reported is not in its folder")
        events = trace_events(raw)  # read and parsed once
        profile = parse_events(events, int(data.get("profile_warmup_runs", 1)))
        # Re-encoded: valid JSON for trace viewers even where ORT wrote raw control characters.
        profile_json = json.dumps(events).encode()
    active = tuple(data.get("providers_active", ()))
    fallback = fallback_summary(requested, active, assignment, profile, names)
    outputs: tuple[OutputInfo, ...] = ()
    arrays: dict[str, np.ndarray] = {}
    # Bounded by the limit the worker was given, plus room for the zip and .npy headers.
    raw = read_worker_file(job_dir, "outputs.npz", limits.max_output_bytes + (16 << 20))
    sequences: dict[str, tuple[np.ndarray, ...]] = {}
    if raw is not None:
        metas = data.get("outputs", [])
        members = max(sum(max(len(m.get("shapes", ())), 1) for m in metas), 1)
        try:
            npz = load_npz(
                raw,
                "outputs.npz",
                max_bytes=limits.max_output_bytes,
                # The worker keeps max_output_bytes of array data; each member's .npy header
                # comes on top (the room load_npz gives each member: 4096 bytes).
                max_total=limits.max_output_bytes + 4096 * members,
                max_arrays=members,
            )
        except InputError as exc:
            raise WorkerFileError(str(exc)) from None
        outputs = tuple(
            OutputInfo(
                name=m["name"],
                dtype=m["dtype"],
                shape=tuple(m["shape"]),
                bytes=m["bytes"],
                saved=m["saved"],
                note=m.get("note", ""),
                kind=m.get("kind", "tensor"),
                element_shapes=tuple(tuple(int(d) for d in e) for e in m.get("shapes", ())),
            )
            for m in metas
        )
        for i, o in enumerate(outputs):
            if not o.saved or o.kind == "none":
                continue
            if o.kind == "sequence":
                sequences[o.name] = tuple(
                    typed(npz[f"o{i}_{k}"], o.dtype) for k in range(len(o.element_shapes))
                )
            else:
                arrays[o.name] = typed(npz[f"o{i}"], o.dtype)
    optimized_nodes: int | None = None
    ops: tuple[tuple[str, int], ...] = ()
    attribution: Origins | None = None
    optimized_bytes = read_worker_file(job_dir, "optimized.onnx", limits.max_model_bytes) or b""
    optimized_data = b""
    if optimized_bytes:
        proto = ModelProto()
        proto.ParseFromString(optimized_bytes)
        counts = Counter(
            n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
            for n in proto.graph.node
        )
        optimized_nodes = len(proto.graph.node)
        ops = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        attribution = attribute(original, proto, names)
        # The weights ORT wrote beside it (the worker names the file): without them the saved
        # optimized model does not load.
        optimized_data = read_worker_file(job_dir, OPTIMIZED_DATA, limits.max_model_bytes) or b""
    compiled = compiled_origins(((a.node, a.ep) for a in assignment), names)
    kernels = kernel_origins(
        attribution,
        ((t.node, t.op_type, t.ep) for t in (profile.nodes if profile else ())),
        compiled,
        names,
    )
    origins = {k.kernel: k.ids for k in kernels}
    timed = {t.node for t in (profile.nodes if profile else ())}
    wanted = {i for k in kernels if k.kernel in timed for i in k.ids}
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
        # Outputs that are NaN/Inf or absurd say the inputs were wrong (issue 23).
        notes=(*data.get("notes", ()), *output_warnings(arrays)),
        assignment=assignment,
        fallback=fallback,
        profile=profile,
        outputs=outputs,
        optimized_nodes=optimized_nodes,
        optimized_ops=ops,
        origins=tuple(sorted(origins.items())),
        results_dir=str(job_dir) if keep else "",
        kernels=tuple(k for k in kernels if k.kernel in timed),
        node_names=display_names(original, names, wanted, shown),
        ep_log=ep_log,
        ep_reports=ep_reports(requested, placed, ep_log, notes),
        memory=_memory(data.get("memory")),
        _arrays=arrays,
        _profile_json=profile_json,
        _optimized_model=optimized_bytes,
        _optimized_data=optimized_data,
        _sequences=sequences,
    )


def ep_failure(
    config: RunConfig,
    err: Mapping[str, Any],
    names: Mapping[str, str],
    shown: Mapping[str, str] | None,
) -> tuple[str, str, str, str]:
    """``(EP, node, the EP's message, the error in plain words)`` of a configuration that failed
    because an EP claimed a node and could not run it (error kind ``ep_failure``)."""
    requested = tuple(e.name for e in config.eps)
    stage, text = str(err.get("stage", "")), str(err.get("message", ""))
    ep = failing_ep(text, requested, stage) or next(
        (e for e in requested if e != "CPUExecutionProvider"), "an EP"
    )
    op, node, detail = failure_detail(text)
    if node in names:  # the run lab's unique runtime name → the model's own
        node = (shown or {}).get(names[node], node)
    short = ep.removesuffix("ExecutionProvider")
    when = "on its first run" if stage == "run" else f"at {stage or 'session creation'}"
    what = f"node {node} ({op})" if node and op else f"node {node}" if node else ""
    claim = f"claimed {what} and could not run it" if what else "claimed nodes it could not run"
    them = "that node" if what else "them"
    return (
        ep,
        node,
        detail,
        f"{config.label}: EP failure: {short} {claim} ({when}): {detail.rstrip('.')}. "
        f"Without {short} ONNX Runtime runs {them} on CPU.",
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


def _memory(data: Any) -> Memory | None:
    """The worker's memory readings as a record (None from a worker that sent none)."""
    if not isinstance(data, dict):
        return None

    def size(key: str) -> int | None:
        value = data.get(key)
        return int(value) if isinstance(value, int) and value >= 0 else None

    return Memory(
        baseline_bytes=size("baseline_bytes"),
        create_peak_bytes=size("create_peak_bytes"),
        run_peak_bytes=size("run_peak_bytes"),
        separate=bool(data.get("separate")),
    )
