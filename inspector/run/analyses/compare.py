"""Compare runs: output deltas against the reference, per-node timing side by side.

Pure numpy over :class:`~inspector.run.execute.runner.RunResult` records; no onnxruntime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL
from inspector.records import Record
from inspector.run.readout.origins import KernelOrigin
from inspector.run.readout.profile import NodeTiming
from inspector.run.readout.results import RunResult
from inspector.run.readout.timing import NODE_SESSION_NOISE, within_noise

# The error histogram spans this many decades below the largest error; smaller errors are
# counted in its first bin.
HISTOGRAM_DECADES = 15


@dataclass(frozen=True, kw_only=True)
class OutputDelta(Record):
    output: str
    status: str  # "ok" (compared), "shape_mismatch", "dtype_mismatch", "missing", "not_saved"
    shape: tuple[int, ...]
    max_abs: float | None
    mean_abs: float | None
    median_abs: float | None
    p99_abs: float | None
    max_rel: float | None
    mean_rel: float | None
    worst_index: tuple[int, ...]
    cosine: float | None
    allclose: bool | None
    mismatches: int  # elements outside atol + rtol * |reference|
    elements: int
    nan_mismatch: int  # positions where exactly one side is NaN
    inf_mismatch: int  # positions where the infinities differ
    histogram_counts: tuple[int, ...]
    histogram_edges: tuple[float, ...]  # of log10(|error|), finite non-zero errors only
    detail: str
    # Errors more than HISTOGRAM_DECADES below the largest, counted in the first bin (float32
    # subnormal differences reach 1e-45 and would stretch the axis over 38 empty decades).
    histogram_below: int = 0


@dataclass(frozen=True, kw_only=True)
class Comparison(Record):
    reference: str
    candidate: str
    atol: float
    rtol: float
    outputs: tuple[OutputDelta, ...]

    @property
    def all_close(self) -> bool:
        return all(o.allclose for o in self.outputs if o.status == "ok") and all(
            o.status == "ok" for o in self.outputs
        )

    @property
    def worst_max_abs(self) -> float:
        return max((o.max_abs or 0.0 for o in self.outputs if o.status == "ok"), default=0.0)


def _empty(name: str, status: str, detail: str, shape: tuple[int, ...] = ()) -> OutputDelta:
    return OutputDelta(
        output=name,
        status=status,
        shape=shape,
        max_abs=None,
        mean_abs=None,
        median_abs=None,
        p99_abs=None,
        max_rel=None,
        mean_rel=None,
        worst_index=(),
        cosine=None,
        allclose=None,
        mismatches=0,
        elements=0,
        nan_mismatch=0,
        inf_mismatch=0,
        histogram_counts=(),
        histogram_edges=(),
        detail=detail,
    )


def delta(
    name: str,
    ref: np.ndarray,
    got: np.ndarray,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    bins: int = 30,
) -> OutputDelta:
    """Error metrics of ``got`` against ``ref``; NaN/Inf are compared explicitly. bfloat16,
    float8, float4 and int4/int2 (ml_dtypes) are compared by their values as float64."""
    if ref.shape != got.shape:
        return _empty(
            name,
            "shape_mismatch",
            f"shape {list(got.shape)} vs reference {list(ref.shape)}",
            tuple(ref.shape),
        )
    strings = ref.dtype.kind in "USO" and got.dtype.kind in "USO"
    if ref.dtype != got.dtype and not strings:  # "<U3" and "<U5" are both text
        return _empty(
            name, "dtype_mismatch", f"dtype {got.dtype} vs reference {ref.dtype}", tuple(ref.shape)
        )
    if strings:
        diff = int(np.sum(ref.astype(np.str_) != got.astype(np.str_)))
        return replace(
            _empty(name, "ok", "strings compared for equality", tuple(ref.shape)),
            allclose=diff == 0,
            mismatches=diff,
            elements=int(ref.size),
        )
    if ref.dtype.kind == "c":  # by magnitude (a cast to float would drop the imaginary part)
        r, g = np.abs(ref.ravel()).astype(np.float64), np.abs(got.ravel()).astype(np.float64)
    else:
        r, g = ref.astype(np.float64).ravel(), got.astype(np.float64).ravel()
    n = r.size
    r_nan, g_nan = np.isnan(r), np.isnan(g)
    nan_mismatch = int(np.sum(r_nan != g_nan))
    r_inf, g_inf = np.isinf(r), np.isinf(g)
    inf_mismatch = int(np.sum((r_inf | g_inf) & ~(r_nan | g_nan) & (r != g)))
    finite = np.isfinite(r) & np.isfinite(g)
    err = np.abs(g[finite] - r[finite])
    # Relative error where the reference is not 0 (there it has no meaning: dividing by the
    # smallest float made mean_rel inf, with an overflow warning, for any error at a zero).
    scale = np.abs(r[finite])
    rel = err[scale > 0] / scale[scale > 0]
    bad = err > atol + rtol * np.abs(r[finite])
    mismatches = int(bad.sum()) + nan_mismatch + inf_mismatch
    if err.size:
        worst_flat = int(np.flatnonzero(finite)[int(np.argmax(err))])
        worst = tuple(int(i) for i in np.unravel_index(worst_flat, ref.shape)) if ref.shape else ()
        max_abs, mean_abs = float(err.max()), float(err.mean())
        median_abs, p99 = float(np.median(err)), float(np.percentile(err, 99))
        max_rel, mean_rel = (float(rel.max()), float(rel.mean())) if rel.size else (0.0, 0.0)
    else:
        worst, max_abs = (), 0.0
        mean_abs = median_abs = p99 = max_rel = mean_rel = 0.0
    rf, gf = r[finite], g[finite]
    denom = float(np.linalg.norm(rf) * np.linalg.norm(gf))
    cosine = (
        float(np.dot(rf, gf) / denom) if denom > 0 else (1.0 if np.array_equal(rf, gf) else 0.0)
    )
    nz = err[err > 0]
    counts: tuple[int, ...] = ()
    edges: tuple[float, ...] = ()
    below = 0
    if nz.size:
        logs = np.log10(nz)
        floor = max(float(logs.min()), float(logs.max()) - HISTOGRAM_DECADES)
        below = int(np.sum(logs < floor))
        hist, edge = np.histogram(np.maximum(logs, floor), bins=bins)
        counts, edges = tuple(int(c) for c in hist), tuple(float(e) for e in edge)
    return OutputDelta(
        output=name,
        status="ok",
        shape=tuple(ref.shape),
        max_abs=max_abs,
        mean_abs=mean_abs,
        median_abs=median_abs,
        p99_abs=p99,
        max_rel=max_rel,
        mean_rel=mean_rel,
        worst_index=worst,
        cosine=cosine,
        allclose=mismatches == 0,
        mismatches=mismatches,
        elements=n,
        nan_mismatch=nan_mismatch,
        inf_mismatch=inf_mismatch,
        histogram_counts=counts,
        histogram_edges=edges,
        histogram_below=below,
        detail=f"{int((~finite).sum())} non-finite positions" if (~finite).any() else "",
    )


def agrees(
    ref: np.ndarray, got: np.ndarray, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL
) -> bool:
    """``delta(…).status == "ok" and delta(…).allclose``, without the statistics: the same
    test element by element (float64; complex by magnitude; NaN only against NaN, ±Inf only
    against itself), several times cheaper. The first-divergence search asks it of every
    tensor and computes :func:`delta` only for the one that differs."""
    if ref.shape != got.shape:
        return False
    if ref.dtype.kind in "USO" or got.dtype.kind in "USO" or atol < 0 or rtol < 0:
        d = delta("", ref, got, atol, rtol)
        return d.status == "ok" and bool(d.allclose)
    if ref.dtype != got.dtype:
        return False
    if ref.dtype.kind in "biufc" and np.array_equal(ref, got):  # equal, no NaN: agrees
        return True
    if ref.dtype.kind == "c":
        r, g = np.abs(ref).astype(np.float64), np.abs(got).astype(np.float64)
    else:
        r, g = ref.astype(np.float64), got.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(g - r) <= atol + rtol * np.abs(r)
    finite = np.isfinite(r) & np.isfinite(g)
    if bool(np.all(close)) and bool(np.all(finite)):
        return True
    # Off the finite values, what delta counts: NaN against NaN, ±Inf against the same ±Inf.
    same = (r == g) | (np.isnan(r) & np.isnan(g))
    return bool(np.all(np.where(finite, close, same)))


def sequence_delta(
    name: str,
    ref: Sequence[np.ndarray],
    got: Sequence[np.ndarray],
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> OutputDelta:
    """A sequence of tensors compared element by element (shapes may differ between
    elements): the metrics are over all elements together, ``worst_index`` is (element, …)."""
    if len(ref) != len(got):
        return _empty(name, "shape_mismatch", f"a sequence of {len(got)} vs reference {len(ref)}")
    for k, (r, g) in enumerate(zip(ref, got, strict=True)):
        if r.shape != g.shape:
            return _empty(
                name,
                "shape_mismatch",
                f"element {k}: shape {list(g.shape)} vs reference {list(r.shape)}",
            )
    kinds = {a.dtype.kind in "USO" for a in (*ref, *got)}
    if len(kinds) > 1 or (kinds == {False} and len({a.dtype for a in (*ref, *got)}) > 1):
        dtypes = sorted({str(a.dtype) for a in (*ref, *got)})
        return _empty(name, "dtype_mismatch", f"element dtypes {', '.join(dtypes)}")
    text = f"a sequence of {len(ref)} tensors, compared element by element"
    if not ref:
        return replace(_empty(name, "ok", text, (0,)), allclose=True)
    sizes = [int(r.size) for r in ref]
    d = delta(
        name,
        np.concatenate([r.ravel() for r in ref]),
        np.concatenate([g.ravel() for g in got]),
        atol,
        rtol,
    )
    worst: tuple[int, ...] = ()
    if d.worst_index:
        flat, k = d.worst_index[0], 0
        while flat >= sizes[k]:
            flat, k = flat - sizes[k], k + 1
        inner = np.unravel_index(flat, ref[k].shape) if ref[k].shape else ()
        worst = (k, *(int(i) for i in inner))
    return replace(
        d, shape=(len(ref),), worst_index=worst, detail="; ".join(x for x in (text, d.detail) if x)
    )


def value_delta(
    name: str, ref: Any, got: Any, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL
) -> OutputDelta:
    """:func:`delta` for an output in any form :meth:`RunResult.output_values` gives: an
    array, a sequence (list) of arrays, or None (an empty optional)."""
    if ref is None or got is None:
        if ref is None and got is None:
            return replace(_empty(name, "ok", "both empty optionals (None)"), allclose=True)
        which = "the candidate" if got is None else "the reference"
        return _empty(name, "shape_mismatch", f"{which} is an empty optional (None)")
    if isinstance(ref, list) or isinstance(got, list):
        if not (isinstance(ref, list) and isinstance(got, list)):
            return _empty(name, "shape_mismatch", "a sequence against a tensor")
        return sequence_delta(name, ref, got, atol, rtol)
    return delta(name, np.asarray(ref), np.asarray(got), atol, rtol)


def compare(
    reference: RunResult,
    candidate: RunResult,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> Comparison:
    """Output deltas of ``candidate`` against ``reference``, output by output."""
    ref_values, got_values = reference.output_values(), candidate.output_values()
    rows = []
    for info in reference.outputs:
        if info.name not in ref_values:
            rows.append(_empty(info.name, "not_saved", "reference output over the size limit"))
        elif info.name not in got_values:
            status = (
                "not_saved" if any(o.name == info.name for o in candidate.outputs) else "missing"
            )
            rows.append(_empty(info.name, status, "candidate has no saved value"))
        else:
            rows.append(
                value_delta(info.name, ref_values[info.name], got_values[info.name], atol, rtol)
            )
    return Comparison(
        reference=reference.label,
        candidate=candidate.label,
        atol=atol,
        rtol=rtol,
        outputs=tuple(rows),
    )


#: Tolerances against a test-data folder's expected outputs (``output_<i>.pb``): those of
#: onnx's backend runner for its node tests (``Runner.assert_similar_outputs``), which also
#: widens rtol to two bfloat16 ULPs for bfloat16 outputs.
EXPECTED_RTOL = 1e-3
EXPECTED_ATOL = 1e-7
BFLOAT16_RTOL = 2**-6


def _expected_form(value: Any) -> Any:
    """An expected value as the run's outputs hold it (text as unicode arrays)."""
    if isinstance(value, list):
        return [_expected_form(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype == object:
        return value.astype(np.str_)
    return value


def check_expected(
    result: RunResult,
    expected: Mapping[str, Any],
    atol: float = EXPECTED_ATOL,
    rtol: float = EXPECTED_RTOL,
    source: str = "expected outputs",
) -> Comparison:
    """A run's outputs against expected values (e.g. a test-data folder's ``output_<i>.pb``,
    read by :func:`inspector.run.setup.inputs.load_expected_outputs`), output by output: max |Δ|,
    cosine and allclose as :func:`delta` computes them. bfloat16 outputs use rtol
    ``max(rtol, 2**-6)`` (two ULPs, as onnx's backend runner does) and say so."""
    values = result.output_values()
    rows = []
    for name, want in expected.items():
        info = next((o for o in result.outputs if o.name == name), None)
        if info is None:
            rows.append(_empty(name, "missing", "the run has no such output"))
            continue
        if name not in values:
            rows.append(_empty(name, "not_saved", "the run's output is over the size limit"))
            continue
        got = values[name]
        tol = rtol
        if info.dtype == "bfloat16":
            tol = max(rtol, BFLOAT16_RTOL)
        row = value_delta(name, _expected_form(want), got, atol, tol)
        if tol != rtol:
            row = replace(
                row, detail="; ".join(x for x in (row.detail, f"bfloat16: rtol {tol:g}") if x)
            )
        rows.append(row)
    return Comparison(
        reference=source, candidate=result.label, atol=atol, rtol=rtol, outputs=tuple(rows)
    )


@dataclass(frozen=True, kw_only=True)
class NodeTimingRow(Record):
    node_id: str  # original node id ("" for a kernel of ONNX Runtime's own or with no origin)
    node: str  # the kernel (runtime node) its time came from; the first where several did
    op_type: str  # the original node's op type (a runtime-only kernel's own)
    times_us: tuple[float | None, ...]  # per configuration, in matrix order
    eps: tuple[str, ...]
    name: str = ""  # the node's name in the model ("" when it has none)
    label: str = ""  # its name ("op id" when unnamed); the id is added where names clash
    via: tuple[str, ...] = ()  # per configuration: "" when it ran as its own kernel, else how
    derived: tuple[bool, ...] = ()  # per configuration: a share of a kernel's time, not its own
    runtime: bool = False  # ONNX Runtime's own kernel (or one with no origin): its own line
    # Per configuration, the interval of that time across the profiled runs (the kernels'
    # median intervals, shared as the time is; None where the record has none).
    lows_us: tuple[float | None, ...] = ()
    highs_us: tuple[float | None, ...] = ()

    def interval(self, k: int) -> tuple[float, float] | None:
        """Configuration ``k``'s interval, or None where it has no time or no spread."""
        t = self.times_us[k] if k < len(self.times_us) else None
        lo = self.lows_us[k] if k < len(self.lows_us) else None
        hi = self.highs_us[k] if k < len(self.highs_us) else None
        return None if t is None or lo is None or hi is None else (lo, hi)


def _kernels(r: RunResult) -> dict[str, KernelOrigin]:
    """The run's kernels; records from before kernels were kept get them from ``origins``."""
    if r.kernels:
        return {k.kernel: k for k in r.kernels}
    out = {}
    for kernel, ids in r.origins:
        kind = "fused" if len(ids) > 1 else "renamed"
        out[kernel] = KernelOrigin(kernel=kernel, op_type="", kind=kind, ids=ids)
    return out


def _how(k: KernelOrigin, op_type: str, n: int) -> tuple[str, bool]:
    """How a kernel's time reached one of its ``n`` original nodes ("" when it is that node),
    and whether that time is derived (a share, not what the node itself took)."""
    what = f"{op_type} {k.kernel!r}"
    part = f"1/{n} of " if n > 1 else ""
    if k.kind == "own":
        return "", False
    if k.kind == "renamed":
        return f"ran as {what}", False
    if k.kind == "fused":
        return f"{part}{what} (fused: its time split evenly)", True
    if k.kind == "compiled":
        return f"{part}{what} (an EP-compiled subgraph: its time split evenly)", True
    return f"{part}{what} (shared: several kernels compute this node)", True


def _add_span(
    span: dict[str, tuple[float, float] | None], key: str, t: NodeTiming, share: int
) -> None:
    """Add a kernel's interval (its share of it) to a row's: the bounds add up as the times
    do, which is wider than the interval of a sum (conservative: fewer false differences)."""
    was = span.get(key, (0.0, 0.0))
    if was is None or t.ci_low_us is None or t.ci_high_us is None:
        span[key] = None
    else:
        span[key] = (was[0] + t.ci_low_us / share, was[1] + t.ci_high_us / share)


def node_timing_table(
    results: tuple[RunResult, ...],
) -> tuple[tuple[str, ...], tuple[NodeTimingRow, ...]]:
    """Per original node, its time in each configuration (labels, rows), slowest first.

    Kernels are joined to original nodes through each run's derived attribution
    (:mod:`inspector.run.readout.origins`): a kernel that is its node gives it its time; a fused,
    shared or EP-compiled kernel's time is split evenly over its nodes and the row says so
    (``via``, ``derived``). ONNX Runtime's own kernels (layout Reorders, inserted Reshapes,
    Q/DQ pairs, Memcpy…) are rows of their own, never spread onto original nodes. Rows are
    labelled by node name and op type; ids only tell apart nodes whose names clash."""
    labels = tuple(r.label for r in results)
    per: list[dict[str, tuple[float, str, list[str], bool]]] = []
    # key → the interval of its time, summed as the time is (None once a kernel has none)
    spans: list[dict[str, tuple[float, float] | None]] = []
    meta: dict[str, tuple[str, str, str, bool]] = {}  # key → kernel, op, name, runtime
    for r in results:
        kernels = _kernels(r)
        known = {nid: (name, op) for nid, name, op in r.node_names}
        d: dict[str, tuple[float, str, list[str], bool]] = {}
        span: dict[str, tuple[float, float] | None] = {}
        for t in r.profile.nodes if r.profile else ():
            k = kernels.get(t.node)
            ids = k.ids if k else ()
            if not ids:
                key = f"runtime:{t.node}"
                note = (k.note if k else "") or "no original node found for it"
                d[key] = (d.get(key, (0.0, t.ep, [], False))[0] + t.median_us, t.ep, [note], False)
                _add_span(span, key, t, 1)
                meta.setdefault(key, (t.node, t.op_type, "", True))
                continue
            assert k is not None
            how, split = _how(k, t.op_type, len(ids))
            for nid in ids:
                prev, _, hows, was = d.get(nid, (0.0, t.ep, [], False))
                d[nid] = (prev + t.median_us / len(ids), t.ep, [*hows, how], was or split)
                _add_span(span, nid, t, len(ids))
                if nid in known:
                    name, op = known[nid]
                else:  # an older record: only the kernel's own name and op are known
                    name, op = (t.node if k.kind == "own" else ""), t.op_type
                if nid not in meta or (nid in known and not meta[nid][2]):
                    meta[nid] = (t.node, op, name, False)
        per.append(d)
        spans.append(span)
    base = {
        key: f"{node} (ONNX Runtime's own)" if runtime else (name or f"{op} {key}")
        for key, (node, op, name, runtime) in meta.items()
    }
    seen: dict[str, int] = {}
    for b in base.values():
        seen[b] = seen.get(b, 0) + 1
    clash = {b for b, n in seen.items() if n > 1}
    rows = [
        NodeTimingRow(
            node_id="" if runtime else key,
            node=node,
            op_type=op,
            times_us=tuple(d[key][0] if key in d else None for d in per),
            eps=tuple(d[key][1] if key in d else "" for d in per),
            name=name,
            label=base[key] + (f" ({key})" if base[key] in clash and not runtime else ""),
            via=tuple(" + ".join(h for h in d[key][2] if h) if key in d else "" for d in per),
            derived=tuple(d[key][3] if key in d else False for d in per),
            runtime=runtime,
            lows_us=tuple((sp.get(key) or (None, None))[0] for sp in spans),
            highs_us=tuple((sp.get(key) or (None, None))[1] for sp in spans),
        )
        for key, (node, op, name, runtime) in meta.items()
    ]
    rows.sort(key=lambda row: (-max((t or 0.0) for t in row.times_us), row.label))
    return labels, tuple(rows)


def main_node_times(result: RunResult) -> dict[int, float]:
    """Per main-graph node index, its time in ``result``'s profile (µs; a share where a kernel
    computes several nodes): what :func:`inspector.model.scopes.scope_times` sums per scope."""
    _, rows = node_timing_table((result,))
    return {
        int(x.node_id.split(":")[1]): x.times_us[0]
        for x in rows
        if x.node_id.startswith("main:") and x.times_us[0] is not None
    }


def node_timing_csv(results: tuple[RunResult, ...]) -> str:
    """The per-node timing table as CSV (model strings escaped for spreadsheets)."""
    from inspector.safe_text import to_csv

    labels, rows = node_timing_table(results)
    return to_csv(
        ["node_id", "runtime_node", "op_type", "name", *labels, *(f"how: {lb}" for lb in labels)],
        ([x.node_id, x.node, x.op_type, x.name, *x.times_us, *x.via] for x in rows),
    )


#: ONNX Runtime's profiler writes whole µs: node times closer than that are not resolved.
PROFILE_RESOLUTION_US = 1.0


@dataclass(frozen=True, kw_only=True)
class NodeChange(Record):
    """One node's time in the candidate against the reference."""

    node_id: str
    label: str
    op_type: str
    reference_us: float
    candidate_us: float
    delta_us: float  # candidate − reference
    ratio: float | None  # candidate / reference (None for a zero reference)
    within_noise: bool  # the intervals overlap, each at least ±20 % and ±1 µs (or not judged)
    judged: bool  # both had an interval and it is an original node (else shown, never ranked)
    derived: bool  # either side is a share of a fused, shared or compiled kernel


def node_changes(
    rows: Sequence[NodeTimingRow], reference: int = 0, candidate: int = 1
) -> tuple[NodeChange, ...]:
    """Per node that ran in both, its change from ``reference`` to ``candidate`` (columns of
    :func:`node_timing_table`): real changes first, the biggest slow-down first, then
    speed-ups; changes *within noise* — the two intervals across profiled runs overlap, each
    widened to the nodes' session floor (±20 %, :data:`.timing.NODE_SESSION_NOISE`) and the
    profiler's 1 µs — come last, so they are never ranked as regressions. A node without an
    interval on a side (records made before intervals), and ONNX Runtime's own kernels (named
    anew each session), are not judged: within noise, never ranked."""
    out = []
    for r in rows:
        a, b = r.times_us[reference], r.times_us[candidate]
        if a is None or b is None:
            continue
        ia, ib = r.interval(reference), r.interval(candidate)
        # ONNX Runtime names its own kernels per session (ReorderOutput_token_238 is another
        # Reorder in the next session): compared by name they swap, so they are not judged.
        judged = ia is not None and ib is not None and not r.runtime
        noise = True
        if judged and ia is not None and ib is not None:
            noise = within_noise(
                (a, *ia), (b, *ib), resolution=PROFILE_RESOLUTION_US, floor=NODE_SESSION_NOISE
            )
        derived = any(k < len(r.derived) and r.derived[k] for k in (reference, candidate))
        out.append(
            NodeChange(
                node_id=r.node_id,
                label=r.label or r.node_id or r.node,
                op_type=r.op_type,
                reference_us=a,
                candidate_us=b,
                delta_us=b - a,
                ratio=b / a if a > 0 else None,
                within_noise=noise,
                judged=judged,
                derived=derived,
            )
        )
    out.sort(key=lambda c: (c.within_noise, c.delta_us <= 0, -abs(c.delta_us), c.label))
    return tuple(out)
