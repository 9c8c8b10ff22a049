"""Compare's Timing tab: the latency verdict and what it rests on, then per-node timing (the
slowest nodes, a selected node per configuration, changes beyond noise, op types)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from inspector.charts import latency, op_type_times, slowest_nodes
from inspector.records import rows_frame
from inspector.run.analyses.compare import NodeTimingRow, node_changes, node_timing_table
from inspector.run.readout.results import RunResult, latency_delta
from inspector.run.readout.timing import NOISE_RULE
from pages.common.text import plain


def show(results: Sequence[RunResult], ref: RunResult, cand: RunResult) -> None:
    """The whole tab: ``ref`` and ``cand`` are two of ``results``."""
    show_latency(results, ref, cand)
    if any(r.placement for r in results):  # ran on a Ray cluster: machine vs machine
        st.dataframe(
            [{"configuration": r.label, **dict(r.placement)} for r in results if r.placement],
            hide_index=True,
        )
    t_labels, rows = node_timing_table(tuple(r for r in results if r.ok))
    if not rows:
        st.info("No profiled runs: set 'profiled runs' above 0 in the run lab.")
        return
    show_slowest(t_labels, rows)
    if ref.ok and cand.ok and ref.label in t_labels and cand.label in t_labels:
        show_changes(rows, t_labels.index(ref.label), t_labels.index(cand.label), ref, cand)
    st.plotly_chart(op_type_times(results), key="ops")
    st.caption(
        "Nodes by name and op type. A hatched bar is derived: the time of a fused, shared or "
        "EP-compiled kernel split evenly over the original nodes it computes (mapped through "
        "tensor and node names). ONNX Runtime's own kernels (layout Reorders, inserted "
        "Reshapes, Q/DQ pairs) are bars of their own."
    )


def show_latency(results: Sequence[RunResult], ref: RunResult, cand: RunResult) -> None:
    """Median latency per configuration; the candidate against the reference: the verdict,
    then what it rests on."""
    st.plotly_chart(latency(results, [r.label for r in results].index(ref.label)), key="lat")
    vs = latency_delta(ref, cand)
    if vs is None:
        return
    lat_r, lat_c = ref.latency, cand.latency
    st.markdown(
        f"**{plain(cand.label)}** vs **{plain(ref.label)}**: {vs.ratio:.3f}× "
        f"[{vs.ratio_ci[0]:.3f}, {vs.ratio_ci[1]:.3f}] — **{plain(vs.verdict)}**"
    )
    st.caption(
        plain(
            "; ".join(
                f"{r.label}: {lat.stop_detail or f'fixed {len(lat.runs_ms)} runs'}"
                for r, lat in ((ref, lat_r), (cand, lat_c))
                if lat
            )
        )
        + ". A difference counts as within noise when "
        + plain(NOISE_RULE)
        + "."
    )


def show_slowest(t_labels: tuple[str, ...], rows: tuple[NodeTimingRow, ...]) -> None:
    """The slowest nodes' chart; a clicked bar's node, configuration by configuration."""
    event = st.plotly_chart(
        slowest_nodes(t_labels, rows), key="slow", on_select="rerun", selection_mode="points"
    )
    points = (event.selection.points if event and event.selection else []) or []
    if not points:
        return
    node = points[0]["customdata"][-1]
    row = next((x for x in rows if (x.node_id or x.node) == node), None)
    if not row:
        return
    st.text(f"Selected {row.label} ({row.node_id or 'ONNX Runtime'}), kernel {row.node}")
    via = row.via or tuple("" for _ in t_labels)
    st.dataframe(
        [
            {
                "configuration": lbl,
                "µs": t,
                "interval µs": "–".join(f"{x:.1f}" for x in span) if span else "",
                "EP": ep,
                "how": how or "its own kernel",
            }
            for lbl, t, ep, how, span in zip(
                t_labels,
                row.times_us,
                row.eps,
                via,
                [row.interval(k) for k in range(len(t_labels))],
                strict=True,
            )
        ],
        hide_index=True,
    )


def show_changes(
    rows: tuple[NodeTimingRow, ...], ref_col: int, cand_col: int, ref: RunResult, cand: RunResult
) -> None:
    """Per-node changes from column ``ref_col`` to ``cand_col``: those beyond noise, ranked."""
    changes = node_changes(rows, ref_col, cand_col)
    real = [c for c in changes if not c.within_noise]
    st.markdown(
        f"**Per-node changes beyond noise** ({plain(cand.label)} − {plain(ref.label)}): "
        f"{len(real):,}; {len(changes) - len(real):,} more within noise (not ranked)"
    )
    if real:
        st.dataframe(
            rows_frame(
                real[:50],
                [
                    "label",
                    "op_type",
                    "reference_us",
                    "candidate_us",
                    "delta_us",
                    "ratio",
                    "derived",
                ],
            ),
            hide_index=True,
        )
