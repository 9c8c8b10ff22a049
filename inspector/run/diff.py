"""Model A vs model B in ONNX Runtime: the same inputs, one configuration, both through the
same isolated workers; output deltas, per-node time of matched nodes side by side, and the
first matched intermediate tensor where they part.

Inputs are matched by name; where the names differ but the counts agree they are matched by
position (a warning says so). The first-divergence search marks the output tensors of matched
node pairs (A's order, main graph) as extra outputs of both models, ``divergence_chunk`` at a
time, so memory stays bounded as in the run lab's own search.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import onnx

from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL, Limits
from inspector.model.diff import ModelDiff
from inspector.model.load import LoadedModel
from inspector.records import Record
from inspector.run.analysis import next_chunk
from inspector.run.compare import Comparison, OutputDelta, compare, delta, node_timing_table
from inspector.run.config import RunConfig
from inspector.run.prepare import PreparedModel, RunError, prepare
from inspector.run.results import RunResult
from inspector.run.runner import run_prepared


@dataclass(frozen=True)
class PairTiming(Record):
    a_id: str
    b_id: str
    a_name: str
    b_name: str
    op_type: str
    a_us: float | None
    b_us: float | None


@dataclass(frozen=True)
class PairDivergence(Record):
    found: bool
    a_id: str
    b_id: str
    a_tensor: str
    b_tensor: str
    op_type: str
    error: OutputDelta | None
    checked: int
    candidates: int
    detail: str


@dataclass(frozen=True)
class BehaviourDiff(Record):
    config: str
    input_map: tuple[tuple[str, str], ...]  # (A's input, B's input)
    warnings: tuple[str, ...]
    a: RunResult
    b: RunResult
    outputs: Comparison  # B's outputs against A's, matched by name
    timing: tuple[PairTiming, ...]  # matched nodes, slowest first
    divergence: PairDivergence | None

    @property
    def worst_max_abs(self) -> float:
        return self.outputs.worst_max_abs


def match_inputs(a: LoadedModel, b: LoadedModel) -> tuple[dict[str, str], list[str]]:
    """A's graph input name → B's, and warnings. Raises RunError when they cannot be matched."""
    init_a = {t.name for t in a.proto.graph.initializer}
    init_b = {t.name for t in b.proto.graph.initializer}
    ia = [i.name for i in a.proto.graph.input if i.name not in init_a]
    ib = [i.name for i in b.proto.graph.input if i.name not in init_b]
    if set(ia) == set(ib):
        return {n: n for n in ia}, []
    if len(ia) == len(ib):
        pairs = dict(zip(ia, ib, strict=True))
        shown = ", ".join(f"{x} → {y}" for x, y in pairs.items() if x != y)
        return pairs, [f"inputs matched by position, not name: {shown}"]
    raise RunError(
        f"The models take different inputs: A {', '.join(ia)}; B {', '.join(ib)} "
        "(neither the names nor the counts match)."
    )


def _tensor_pairs(
    diff: ModelDiff, a: onnx.GraphProto, b: onnx.GraphProto
) -> list[tuple[int, int, str, str]]:
    """(A node, B node, A tensor, B tensor) for the outputs of the structural diff's matched
    nodes (the pairs the user sees), in A's order."""
    index = lambda node_id: int(node_id.split(":", 1)[1])  # noqa: E731 - "main:<i>"
    pairs = sorted((index(p.a_id), index(p.b_id)) for p in diff.pairs)
    out_a = {o.name for o in a.output}
    out = []
    for i, j in pairs:
        for ta, tb in zip(a.node[i].output, b.node[j].output, strict=False):
            if ta and tb and ta not in out_a:
                out.append((i, j, ta, tb))
    return out


def _marked(prepared: PreparedModel, tensors: list[str], name: str) -> Any:
    marked = onnx.ModelProto()
    marked.CopyFrom(prepared.original)
    for t in tensors:
        marked.graph.output.add().name = t  # untyped outputs: ORT accepts them
    path = prepared.model_path.with_name(name)
    path.write_bytes(marked.SerializeToString())
    return path


def first_pair_divergence(
    diff: ModelDiff,
    pa: PreparedModel,
    pb: PreparedModel,
    config: RunConfig,
    feeds_a: Mapping[str, Any],
    feeds_b: Mapping[str, Any],
    atol: float,
    rtol: float,
    limits: Limits,
    cancel: threading.Event | None = None,
) -> PairDivergence:
    chunk, max_tensors = limits.divergence_chunk, limits.divergence_max_tensors
    ga, gb = pa.original.graph, pb.original.graph
    candidates = _tensor_pairs(diff, ga, gb)
    total = len(candidates)
    candidates = candidates[:max_tensors]
    cfg = replace(config, warmup_runs=0, timed_runs=1, profiled_runs=0)
    checked = 0
    start = 0
    while start < len(candidates):
        if cancel is not None and cancel.is_set():
            return PairDivergence(
                False, "", "", "", "", "", None, checked, total, f"cancelled after {checked}"
            )
        part = candidates[start : start + chunk]
        start += len(part)
        ra, rb = (
            run_prepared(
                prepared,
                cfg,
                feeds,
                prepared.job_dir("diff"),
                limits,
                save_optimized=False,
                model_path=_marked(prepared, tensors, "marked.onnx"),
                cancel=cancel,
            )
            for prepared, feeds, tensors in (
                (pa, feeds_a, [p[2] for p in part]),
                (pb, feeds_b, [p[3] for p in part]),
            )
        )
        if not (ra.ok and rb.ok):
            bad = ra if not ra.ok else rb
            return PairDivergence(
                False, "", "", "", "", "", None, checked, total, f"a marked run failed: {bad.error}"
            )
        xa, xb = ra.output_arrays(), rb.output_arrays()
        returned = sum(np.asarray(xa[p[2]]).nbytes for p in part if p[2] in xa)
        chunk = next_chunk(len(part), returned, len(part), limits)
        for i, j, ta, tb in part:
            checked += 1
            if ta not in xa or tb not in xb:
                continue
            d = delta(ta, np.asarray(xa[ta]), np.asarray(xb[tb]), atol, rtol)
            if d.status != "ok" or not d.allclose:
                return PairDivergence(
                    True,
                    f"main:{i}",
                    f"main:{j}",
                    ta,
                    tb,
                    ga.node[i].op_type,
                    d,
                    checked,
                    total,
                    "",
                )
    more = f" (first {max_tensors} of {total})" if total > max_tensors else ""
    return PairDivergence(
        False,
        "",
        "",
        "",
        "",
        "",
        None,
        checked,
        total,
        f"no matched intermediate tensor differs{more}",
    )


def _timing(diff: ModelDiff, ra: RunResult, rb: RunResult) -> tuple[PairTiming, ...]:
    _, rows_a = node_timing_table((ra,))
    _, rows_b = node_timing_table((rb,))
    ta = {r.node_id: r.times_us[0] for r in rows_a if r.node_id}
    tb = {r.node_id: r.times_us[0] for r in rows_b if r.node_id}
    rows = [
        PairTiming(p.a_id, p.b_id, p.a_name, p.b_name, p.op_type, ta.get(p.a_id), tb.get(p.b_id))
        for p in diff.pairs
        if p.a_id in ta or p.b_id in tb
    ]
    rows.sort(key=lambda r: -max(r.a_us or 0.0, r.b_us or 0.0))
    return tuple(rows)


def behaviour_diff(
    a: LoadedModel,
    b: LoadedModel,
    diff: ModelDiff,
    inputs: Mapping[str, Any],
    config: RunConfig | None = None,
    *,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    divergence: bool = True,
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> BehaviourDiff:
    """Run ``a`` and ``b`` on the same ``inputs`` (keyed by A's input names) under ``config``
    (CPU, all optimizations by default) and compare them."""
    config = config or RunConfig(label="A vs B")
    mapping, warnings = match_inputs(a, b)
    feeds_b = {mapping[k]: v for k, v in inputs.items()}
    say = progress or (lambda _text: None)
    limits = a.limits
    pa = prepare(a)
    try:
        pb = prepare(b)
        try:
            say(f"running {a.name}")
            ra = run_prepared(
                pa,
                replace(config, label=f"A: {a.name}"),
                inputs,
                pa.job_dir(),
                limits,
                cancel=cancel,
            )
            say(f"running {b.name}")
            rb = run_prepared(
                pb,
                replace(config, label=f"B: {b.name}"),
                feeds_b,
                pb.job_dir(),
                limits,
                cancel=cancel,
            )
            found = None
            if divergence and ra.ok and rb.ok:
                say("searching the first matched tensor that differs")
                found = first_pair_divergence(
                    diff, pa, pb, config, inputs, feeds_b, atol, rtol, limits, cancel
                )
        finally:
            pb.cleanup()
    finally:
        pa.cleanup()
    outputs = (
        compare(ra, rb, atol, rtol)
        if ra.ok and rb.ok
        else Comparison(reference=ra.label, candidate=rb.label, atol=atol, rtol=rtol, outputs=())
    )
    return BehaviourDiff(
        config=config.label,
        input_map=tuple(mapping.items()),
        warnings=tuple(warnings),
        a=ra,
        b=rb,
        outputs=outputs,
        timing=_timing(diff, ra, rb) if ra.ok and rb.ok else (),
        divergence=found,
    )
