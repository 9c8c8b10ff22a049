"""Compare's Cost tab: static cost next to measured time — each node's achieved GFLOP/s against
its arithmetic intensity and the machine's measured roofs, per op type, and the nodes furthest
below their roof. Also the model's cost record, cached by model content and input shapes (the
Overview's totals read it too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from inspector.charts import memory_bars, roofline_scatter
from inspector.errors import InspectorError
from inspector.model.cost import CostRecord, build_cost
from inspector.model.load import LoadedModel
from inspector.records import rows_frame
from inspector.run.analyses.roofline import (
    Roofline,
    input_shapes,
    peaks_for,
    roofline,
    suggested_shapes,
)
from inspector.run.readout.results import RunResult
from pages.common.models import Source, load
from pages.common.text import plain


@st.cache_resource(max_entries=64, show_spinner="Counting FLOPs and bytes…")
def _cost(key: str, shapes: tuple[tuple[str, tuple[int, ...]], ...], _source: Source) -> Any:
    try:
        return build_cost(load(_source), dict(shapes))
    except InspectorError as e:  # shapes that do not fit the model: a message, not a dead tab
        return str(e)


def cost_record(source: Source, shapes: Mapping[str, tuple[int, ...]]) -> CostRecord | str:
    """The model's cost at ``shapes``, once per model content and shapes (records are frozen
    and shared, as :func:`pages.common.models.record`'s are); the error in words where the
    shapes do not fit the model."""
    return _cost(source.key, tuple(sorted(shapes.items())), source)


@st.cache_resource(max_entries=64, show_spinner="Counting FLOPs and bytes…")
def _suggested(key: str, _source: Source) -> Any:
    try:
        shapes = suggested_shapes(load(_source))
    except InspectorError as e:  # an input that cannot be generated
        return str(e)
    return _cost(key, tuple(sorted(shapes.items())), _source)


def suggested_cost(source: Source) -> CostRecord | str:
    """The model's cost at the suggested input sizes (those a run uses when nobody chose
    any), once per model content; why not, in words, where it cannot be counted."""
    return _suggested(source.key, source)


def show_memory(results: Sequence[RunResult]) -> None:
    """The workers' resident memory per configuration: before the session, creating it,
    running it (a level that builds more, or an EP that copies weights, stands out)."""
    if not any(r.memory is not None for r in results):
        return
    st.plotly_chart(memory_bars(results), key="cmp_memory")
    separate = all(r.memory.separate for r in results if r.memory is not None)
    st.caption(
        "The worker process's resident memory (the kernel's VmRSS/VmHWM), interpreter and "
        "onnxruntime included. "
        + (
            "Each phase's peak is its own (the mark is reset between them)."
            if separate
            else "This server's workers may not reset the high-water mark between phases, so "
            "the running peak includes the session's creation."
        )
    )


def show(
    model: LoadedModel,
    source: Source,
    inputs: Mapping[str, Any],
    ref: RunResult,
    cand: RunResult,
    results: Sequence[RunResult] = (),
) -> None:
    """The whole tab: every configuration's memory, then the candidate's (or the reference's)
    cost next to its time at the shapes the runs fed."""
    show_memory(results)
    cost = cost_record(source, input_shapes(inputs))
    if isinstance(cost, str):
        st.error(plain(cost))
        return
    ran = list({r.label: r for r in (cand, ref) if r.ok and r.profile and r.profile.nodes}.values())
    if not ran:
        st.info("No profiled runs: set 'profiled runs' above 0 in the run lab.")
        return
    labels = [r.label for r in ran]
    pick = st.radio(
        "Configuration", labels, horizontal=True, key="cmp_cost_cfg", format_func=plain
    )  # labels are Markdown in a radio: a bundle's label must stay text
    result = ran[labels.index(pick)] if pick in labels else ran[0]
    with st.spinner("Measuring this machine's peak GFLOP/s and bandwidth (once)…"):
        for r in ran:
            peaks_for(r)
    rls = {r.label: roofline(r, cost) for r in ran}
    rl = rls[result.label]
    show_totals(rls)
    peaks = rl.peaks
    if peaks.error:
        st.warning(plain(f"No roofs: {peaks.error}"))
    ops = [p.op_type for x in rls.values() for p in x.points]  # one colour per op in both
    st.plotly_chart(roofline_scatter(rl, ops), key="cmp_roofline")
    st.caption(
        plain(
            "Each point is a node, or the nodes one fused kernel computes (timed together, "
            "FLOPs and bytes summed). Bytes are parameters read + activations read and "
            "written, at the run's input shapes "
            + ", ".join(f"{k} {list(v)}" for k, v in rl.input_shapes)
            + f". Roofs measured on this machine: {peaks.how}. Units that ran as int8 kernels "
            "are held to the int8 roof. A point still above its roof moved its data faster "
            "than a 4 MiB copy (from a core's own cache), or a neighbour's kernel did part of "
            "its work (ONNX Runtime moved a QuantizeLinear into the kernel before it)."
        )
    )
    show_far_below(rl)
    st.markdown("**Per op type** (a fused unit's op types joined by '+')")
    st.dataframe(
        rows_frame(
            rl.by_op,
            [
                "op_type",
                "units",
                "nodes",
                "time_us",
                "gflops",
                "intensity",
                "fraction",
                "gbs",
                "lost_us",
                "flops",
                "bytes",
            ],
        ),
        hide_index=True,
    )
    with st.expander(f"Left off the chart ({len(rl.apart):,})"):
        st.dataframe(rows_frame(rl.apart, ["label", "op_type", "why", "time_us", "key"]))


def show_totals(rls: Mapping[str, Roofline]) -> None:
    """Per configuration: its FLOPs over its timed units' time, and how much time that is."""
    st.dataframe(
        [
            {
                "configuration": rl.label,
                "achieved GFLOP/s": rl.gflops,
                "GFLOPs": rl.flops / 1e9,
                "timed units µs": rl.placed_us,
                "all kernels µs": rl.time_us,
                "peak GFLOP/s": rl.peaks.gflops,
                "int8 peak GOP/s": rl.peaks.int8_gops,
                "memory GB/s": rl.peaks.bandwidth_gbs,
                "in-cache GB/s": max((g for _, g in rl.peaks.cache_bandwidths), default=None),
            }
            for rl in rls.values()
        ],
        hide_index=True,
    )


def show_far_below(rl: Roofline, top: int = 15) -> None:
    """The units a kernel at their roof would speed up most."""
    far = rl.far_below(top)
    if not far:
        return
    st.markdown(
        "**Furthest below their roof**: ranked by the time a kernel at the roof would save "
        "(time − FLOPs ÷ roof)"
    )
    st.dataframe(
        rows_frame(
            far,
            [
                "label",
                "op_type",
                "time_us",
                "lost_us",
                "fraction",
                "gflops",
                "roof_gflops",
                "intensity",
                "key",
                "how",
            ],
        ),
        hide_index=True,
    )
