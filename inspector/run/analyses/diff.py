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

import onnx

from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL, Limits
from inspector.model.diff import ModelDiff
from inspector.model.load import LoadedModel
from inspector.records import Record
from inspector.run.analyses.bisect import BisectProgress, Side, TensorPair, first_differing
from inspector.run.analyses.compare import Comparison, OutputDelta, compare, node_timing_table
from inspector.run.execute.prepare import PreparedModel, RunError, prepare
from inspector.run.execute.runner import run_prepared
from inspector.run.readout.results import RunResult
from inspector.run.setup.config import RunConfig


@dataclass(frozen=True, kw_only=True)
class PairTiming(Record):
    a_id: str
    b_id: str
    a_name: str
    b_name: str
    op_type: str
    a_us: float | None
    b_us: float | None


@dataclass(frozen=True, kw_only=True)
class PairDivergence(Record):
    found: bool
    a_id: str
    b_id: str
    a_tensor: str
    b_tensor: str
    op_type: str
    error: OutputDelta | None
    checked: int  # pairs compared
    candidates: int
    detail: str
    skipped: tuple[str, ...] = ()  # why some pairs were not compared (also in ``detail``)


@dataclass(frozen=True, kw_only=True)
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


def _tensor_pairs(diff: ModelDiff, a: onnx.GraphProto, b: onnx.GraphProto) -> list[TensorPair]:
    """The outputs of the structural diff's matched nodes (the pairs the user sees), in A's
    order, A's graph outputs left out."""
    index = lambda node_id: int(node_id.split(":", 1)[1])  # noqa: E731 - "main:<i>"
    pairs = sorted((index(p.a_id), index(p.b_id)) for p in diff.pairs)
    out_a = {o.name for o in a.output}
    return [
        TensorPair(a_node=i, b_node=j, a_tensor=ta, b_tensor=tb)
        for i, j in pairs
        for ta, tb in zip(a.node[i].output, b.node[j].output, strict=False)
        if ta and tb and ta not in out_a
    ]


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
    progress: BisectProgress | None = None,
) -> PairDivergence:
    """The first matched tensor pair (A's order) where B's output differs from A's beyond
    ``atol + rtol·|ref|``; at most ``limits.divergence_max_tensors`` pairs are checked."""
    max_tensors = limits.divergence_max_tensors
    ga = pa.original.graph
    candidates = _tensor_pairs(diff, ga, pb.original.graph)
    total = len(candidates)
    search = first_differing(
        candidates[:max_tensors],
        Side(prepared=pa, config=config, feeds=feeds_a),
        Side(prepared=pb, config=config, feeds=feeds_b),
        atol=atol,
        rtol=rtol,
        limits=limits,
        cancel=cancel,
        progress=progress,
    )
    if search.cancelled:
        detail = f"cancelled after {search.checked}"
    elif search.failure or search.pair:
        detail = search.failure
    else:
        more = f" (first {max_tensors} of {total})" if total > max_tensors else ""
        compared = f" of the {search.checked} compared" if search.skipped else ""
        detail = f"no matched intermediate tensor{compared} differs{more}"
    if search.skipped:
        detail = "; ".join((detail, *search.notes()) if detail else search.notes())
    pair = search.pair
    return PairDivergence(
        found=pair is not None,
        a_id=f"main:{pair.a_node}" if pair else "",
        b_id=f"main:{pair.b_node}" if pair else "",
        a_tensor=pair.a_tensor if pair else "",
        b_tensor=pair.b_tensor if pair else "",
        op_type=ga.node[pair.a_node].op_type if pair else "",
        error=search.error,
        checked=search.checked,
        candidates=total,
        detail=detail,
        skipped=search.notes(),
    )


def _timing(diff: ModelDiff, ra: RunResult, rb: RunResult) -> tuple[PairTiming, ...]:
    _, rows_a = node_timing_table((ra,))
    _, rows_b = node_timing_table((rb,))
    ta = {r.node_id: r.times_us[0] for r in rows_a if r.node_id}
    tb = {r.node_id: r.times_us[0] for r in rows_b if r.node_id}
    rows = [
        PairTiming(
            a_id=p.a_id,
            b_id=p.b_id,
            a_name=p.a_name,
            b_name=p.b_name,
            op_type=p.op_type,
            a_us=ta.get(p.a_id),
            b_us=tb.get(p.b_id),
        )
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
            runs = []
            for side, loaded, prepared, feeds in (("A", a, pa, inputs), ("B", b, pb, feeds_b)):
                say(f"running {loaded.name}")
                cfg = replace(config, label=f"{side}: {loaded.name}")
                runs.append(
                    run_prepared(prepared, cfg, feeds, prepared.job_dir(), limits, cancel=cancel)
                )
            ra, rb = runs
            found = None
            if divergence and ra.ok and rb.ok:
                searching = "searching the first matched tensor that differs"
                say(searching)

                def checked(done: int, of: int) -> None:
                    say(f"{searching} ({done:,} of {of:,} tensor pairs checked)")

                found = first_pair_divergence(
                    diff, pa, pb, config, inputs, feeds_b, atol, rtol, limits, cancel, checked
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
