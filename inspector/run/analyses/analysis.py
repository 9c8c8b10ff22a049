"""Deeper comparisons that re-run the model: first divergence and optimizer ablation.

**First divergence** finds the earliest original node whose output differs beyond tolerance
between two configurations. Marking a tensor as a graph output stops ORT from fusing across
it, so only tensors that survive in *both* optimized graphs are marked — the runs are then the
graphs that ship. Tensors are checked in topological order, a chunk at a time (bounded memory:
never every intermediate of a large model at once), stopping at the first chunk that diverges.

**Ablation** re-runs one configuration with single optimizer passes disabled (ORT's config
key takes a *semicolon*-separated list) and reports which pass changed outputs, time or the
optimized graph; a pass name ORT does not know is silently ignored by ORT, so "no effect on
the graph" is reported as such.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL, Limits
from inspector.model.load import LoadedModel
from inspector.model.proto import GraphProto, ModelProto
from inspector.records import Record
from inspector.run.analyses.bisect import BisectProgress, Side, TensorPair, first_differing
from inspector.run.analyses.compare import OutputDelta, compare
from inspector.run.execute.prepare import PreparedModel, prepare
from inspector.run.execute.runner import ProgressFn, run_matrix
from inspector.run.readout.results import RunResult, compared_latency, failed
from inspector.run.readout.timing import ratio_interval, within_noise
from inspector.run.setup.config import Matrix, RunConfig

#: Passes worth ablating by default (ORT 1.32 names; unknown names are ignored by ORT).
DEFAULT_PASSES = (
    "ConstantFolding",
    "ConvBNFusion",
    "ConvActivationFusion",
    "NchwcTransformer",
    "MatMulAddFusion",
    "GeluFusionL1",
    "GeluFusionL2",
    "LayerNormFusionL1",
    "LayerNormFusionL2",
    "MatMulScaleFusion",
    "AttentionFusion",
    "SkipLayerNormFusion",
    "BiasGeluFusion",
    "FastGeluFusion",
)


@dataclass(frozen=True, kw_only=True)
class Divergence(Record):
    reference: str
    candidate: str
    found: bool
    node_id: str  # original node whose output first diverges ("" if none)
    node_name: str
    op_type: str
    tensor: str
    error: OutputDelta | None
    chain: tuple[str, ...]  # node ids from the diverging node to a diverging graph output
    checked_tensors: int
    candidate_tensors: int
    skipped: tuple[str, ...]  # why some tensors could not be marked or compared
    detail: str
    # The tolerances it searched with (None in bundles written before they were kept).
    atol: float | None = None
    rtol: float | None = None


def _survivors(result: RunResult, original: ModelProto) -> set[str] | None:
    """Tensor names materialised in the graph this configuration really ran."""
    data = result.optimized_model()
    if data:
        proto = ModelProto()
        proto.ParseFromString(data)
        return {t for n in proto.graph.node for t in (*n.input, *n.output) if t}
    if result.assignment:
        # EP-compiled graphs cannot be saved: nodes outside compiled subgraphs, and the
        # tensors at their edges, are what survives.
        by_name = {n.name: n for n in original.graph.node}
        compiled = {a.ep for a in result.assignment if a.ep != "CPUExecutionProvider"}
        keep: set[str] = set()
        for a in result.assignment:
            if a.ep not in compiled and a.node in by_name:
                keep.update(t for t in (*by_name[a.node].input, *by_name[a.node].output) if t)
        return keep
    return None


def _topo_tensors(graph: GraphProto) -> list[tuple[int, str]]:
    """(node index, output tensor) in topological order (nodes on a cycle are left out)."""
    from graphlib import CycleError, TopologicalSorter

    produced = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    sorter: TopologicalSorter[int] = TopologicalSorter()
    for i, n in enumerate(graph.node):
        sorter.add(i, *{produced[t] for t in n.input if t in produced and produced[t] != i})
    try:
        order = list(sorter.static_order())
    except CycleError:
        return []
    return [(i, o) for i in order for o in graph.node[i].output if o]


def _chain(graph: GraphProto, start: int, diverging_outputs: set[str]) -> tuple[str, ...]:
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(graph.node):
        for t in n.input:
            consumers.setdefault(t, []).append(i)
    parent: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        i = queue.popleft()
        if any(o in diverging_outputs for o in graph.node[i].output):
            path = []
            node: int | None = i
            while node is not None:
                path.append(f"main:{node}")
                node = parent[node]
            return tuple(reversed(path))
        for o in graph.node[i].output:
            for c in consumers.get(o, ()):
                if c not in parent:
                    parent[c] = i
                    queue.append(c)
    return (f"main:{start}",)


def first_divergence(
    model: LoadedModel,
    reference: RunResult,
    candidate: RunResult,
    inputs: Mapping[str, np.ndarray],
    *,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    limits: Limits | None = None,
    prepared: PreparedModel | None = None,
    cancel: threading.Event | None = None,
    progress: BisectProgress | None = None,
) -> Divergence:
    """The earliest original node whose output differs beyond ``atol + rtol·|ref|``.

    Tensors are marked as outputs ``limits.divergence_chunk`` at first, then as many as fit
    ``limits.divergence_chunk_bytes`` (:func:`inspector.run.analyses.bisect.next_chunk`), at most
    ``limits.divergence_max_tensors`` in all (the model's limits by default). ``prepared``: a
    model prepared by the caller (reused, not removed). ``cancel``, once set, stops the running
    worker and the search (the result then says so); ``progress`` hears (tensors checked, of
    how many) after each chunk that agrees."""
    limits = limits or model.limits
    max_tensors = limits.divergence_max_tensors
    owner = prepared is None
    if prepared is None:
        prepared = prepare(model)
    try:
        original = prepared.original
        graph = original.graph
        graph_outputs = {o.name for o in graph.output}
        skipped: list[str] = []
        keep: set[str] | None = None
        for r in (reference, candidate):
            s = _survivors(r, original)
            if s is None:
                skipped.append(f"{r.label}: no optimized graph or EP record; all tensors marked")
                continue
            keep = s if keep is None else keep & s
        ordered = _topo_tensors(graph)
        candidates = [
            TensorPair(a_node=i, b_node=i, a_tensor=t, b_tensor=t)
            for i, t in ordered
            if (keep is None or t in keep) and t not in graph_outputs
        ]
        dropped = len(ordered) - len(candidates) - sum(1 for _, t in ordered if t in graph_outputs)
        if dropped:
            skipped.append(
                f"{dropped} tensor{'s' if dropped != 1 else ''} fused away in one of the "
                "optimized graphs"
            )
        if len(candidates) > max_tensors:
            skipped.append(f"only the first {max_tensors} of {len(candidates)} tensors checked")
            candidates = candidates[:max_tensors]
        search = first_differing(
            candidates,
            Side(prepared=prepared, config=reference.config, feeds=inputs),
            Side(prepared=prepared, config=candidate.config, feeds=inputs),
            atol=atol,
            rtol=rtol,
            limits=limits,
            cancel=cancel,
            progress=progress,
        )
        outputs_cmp = compare(reference, candidate, atol, rtol)
        diverging_outputs = {
            o.output for o in outputs_cmp.outputs if o.status == "ok" and not o.allclose
        }
        node = graph.node[search.pair.a_node] if search.pair else None
        if search.cancelled:
            detail = f"cancelled after {search.checked} of {len(candidates)} tensors"
        elif search.failure or search.pair:
            detail = search.failure
        else:
            compared = f" of the {search.checked} compared" if search.skipped else ""
            detail = f"no intermediate tensor{compared} diverges" + (
                f"; graph output{'s' if len(diverging_outputs) > 1 else ''} "
                f"{', '.join(sorted(diverging_outputs))} "
                f"{'do' if len(diverging_outputs) > 1 else 'does'}"
                if diverging_outputs
                else "; outputs agree too"
            )
        return Divergence(
            reference=reference.label,
            candidate=candidate.label,
            found=search.pair is not None,
            node_id=f"main:{search.pair.a_node}" if search.pair else "",
            node_name=node.name if node else "",
            op_type=node.op_type if node else "",
            tensor=search.pair.a_tensor if search.pair else "",
            error=search.error,
            chain=_chain(graph, search.pair.a_node, diverging_outputs) if search.pair else (),
            checked_tensors=search.checked,
            candidate_tensors=len(candidates),
            skipped=(*skipped, *search.notes()),
            detail=detail,
            atol=atol,
            rtol=rtol,
        )
    finally:
        if owner:
            prepared.cleanup()


@dataclass(frozen=True, kw_only=True)
class AblationRow(Record):
    disabled: str  # pass name ("" for the baseline)
    status: str
    median_ms: float | None
    time_ratio: float | None  # median vs the baseline's median (same configuration)
    ratio_ci: tuple[float, float] | None  # 95% bootstrap interval of that ratio
    within_noise: bool | None  # the medians' intervals overlap (timing.py), or no graph change
    max_abs_vs_baseline: float | None
    graph_changed: bool  # the optimized graph differs from the baseline's
    optimized_ops: tuple[tuple[str, int], ...]
    note: str


def ablation(
    model: LoadedModel,
    config: RunConfig,
    inputs: Mapping[str, np.ndarray],
    passes: Sequence[str] = DEFAULT_PASSES,
    *,
    limits: Limits | None = None,
    out_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    prepared: PreparedModel | None = None,
    cancel: threading.Event | None = None,
) -> tuple[AblationRow, ...]:
    """Re-run ``config`` with each pass disabled in turn, against ``config`` itself.

    Timings are noisy: each ratio comes with a 95% bootstrap interval over the timed runs, and
    the baseline runs twice (first and last), so the table shows what noise alone looks like.
    A row is *within noise* when its median and the baseline's are (their intervals overlap
    once each is ±5 %, ±10 % for timed runs under 0.1 s: :func:`.results.compared_latency`, as
    Compare says it) — or
    when the pass did not change the graph, since then any difference cannot be its effect."""
    base = replace(config, profiled_runs=0, label="ablation · baseline")
    configs = [base] + [
        replace(
            base, disabled_optimizers=(*config.disabled_optimizers, p), label=f"ablation · -{p}"
        )
        for p in passes
    ]
    configs.append(replace(base, label="ablation · baseline (again)"))
    results = run_matrix(
        model,
        Matrix(tuple(configs)),
        inputs,
        limits=limits,
        out_dir=out_dir,
        progress=progress,
        prepared=prepared,
        cancel=cancel,
    )
    if len(results) < len(configs):  # cancelled: the rows run so far, the rest say so
        results = (
            *results,
            *(failed(c, "cancelled", f"{c.label}: cancelled") for c in configs[len(results) :]),
        )
    baseline = results[0]
    rows = []
    for p, r in zip(("", *passes, "(baseline again)"), results, strict=True):
        if not r.ok:
            rows.append(
                AblationRow(
                    disabled=p,
                    status="error",
                    median_ms=None,
                    time_ratio=None,
                    ratio_ci=None,
                    within_noise=None,
                    max_abs_vs_baseline=None,
                    graph_changed=False,
                    optimized_ops=(),
                    note=r.error,
                )
            )
            continue
        ratio = ci = None
        if baseline.ok and baseline.latency and r.latency:
            ratio = r.latency.median_ms / baseline.latency.median_ms
            if p:  # the baseline against itself has no interval to show
                ci = ratio_interval(baseline.latency.runs_ms, r.latency.runs_ms)
        diff = compare(baseline, r).worst_max_abs if baseline.ok else None
        changed = r.optimized_ops != baseline.optimized_ops
        if p == "(baseline again)":
            note = "the baseline once more: its ratio is what noise alone does"
        elif not p or changed:
            note = ""
        else:
            note = (
                "no effect on the graph (pass not applied here, or not a pass name this "
                "onnxruntime knows): any time difference is noise"
            )
        within = None
        a, b = compared_latency(baseline), compared_latency(r)
        if ci is not None and a and b:  # as Compare says it (results.latency_delta)
            within = (not changed and p != "") or within_noise(a, b)
        rows.append(
            AblationRow(
                disabled=p,
                status="ok",
                median_ms=r.latency.median_ms if r.latency else None,
                time_ratio=ratio,
                ratio_ci=ci,
                within_noise=within,
                max_abs_vs_baseline=diff,
                graph_changed=changed,
                optimized_ops=r.optimized_ops,
                note=note,
            )
        )
    return tuple(rows)
