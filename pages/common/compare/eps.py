"""Compare's EP assignment tab: per configuration, the nodes each execution provider took,
an EP requested but not active, and the nodes that left the preferred EP."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from inspector.charts import ep_assignment
from inspector.records import rows_frame
from inspector.run.readout.results import RunResult
from pages.common.text import plain


def show_chart(results: Sequence[RunResult]) -> None:
    """Nodes per EP of every configuration as stacked bars, in the colours the graph uses."""
    st.plotly_chart(ep_assignment(results), key="ep_bars")


def show(results: Sequence[RunResult]) -> None:
    st.caption(
        "Nodes per EP come from ONNX Runtime's assignment record: every graph (If/Loop bodies "
        "too), counted when EPs were assigned — passes that run after that may still fuse, so "
        "the Graph tab's main-graph count of the saved optimized model can be lower."
    )
    show_reasons(results)  # why each EP took what it took, before the per-node detail
    for r in results:
        if not (r.ok and r.fallback):
            continue
        fb = r.fallback
        per_ep = ", ".join(
            f"{k.removesuffix('ExecutionProvider')}: {v}" for k, v in fb.nodes_per_ep
        )
        st.markdown(f"**{plain(r.label)}**")
        st.text(f"preferred {fb.preferred_ep} · nodes per EP: {per_ep} (from {fb.source})")
        if fb.requested_inactive:
            st.warning(
                "Requested but not active: "
                + plain(", ".join(fb.requested_inactive))
                + " — ONNX Runtime ran these nodes elsewhere without an error."
            )
        if fb.off_preferred:
            st.dataframe(rows_frame(fb.off_preferred), hide_index=True)
        for note in r.notes:
            st.text(f"note: {note}")


def show_reasons(results: Sequence[RunResult]) -> None:
    """Per configuration and requested EP besides CPU: per op type, the nodes it claimed and
    not, with the EP's reason where its log gives one, and the lines it and ONNX Runtime
    logged while the session was set up (failed configurations too: an EP that claimed a node
    and could not run it). Configurations of CPU alone have no EP to explain: their lines
    share one expander at the end."""
    shown = [r for r in results if r.ep_reports]
    rest = [r for r in results if r.ep_log and not r.ep_reports]
    if not shown and not rest:
        return
    st.markdown("**Why each EP took what it took**")
    for r in shown:
        st.markdown(plain(r.label))
        for e in r.ep_reports:
            st.text(e.why or f"{e.ep}: took {e.took} of {e.total} nodes")
            if e.ops:
                st.dataframe(rows_frame(e.ops), hide_index=True)
        with st.expander(f"Log lines · {plain(r.label)}"):
            st.code("\n".join(r.ep_log) or "(nothing logged)", language=None, wrap_lines=True)
    if rest:
        n = f"{len(rest)} configuration{'s' if len(rest) > 1 else ''}"
        with st.expander(f"Log lines · {plain(n)} of CPU alone"):
            for r in rest:
                st.markdown(plain(r.label))
                st.code("\n".join(r.ep_log), language=None, wrap_lines=True)
