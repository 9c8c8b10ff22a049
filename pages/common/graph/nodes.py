"""The Graph page's node table: shape inference's reach, the filtered nodes (those of the drawn
part only, when one is drawn) and the structural issues."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from inspector.model.graph import GraphRecord, NodeRow
from inspector.records import rows_frame

#: Rows sent to the browser: a table of 100,000 rows is slow to send and to scroll.
TABLE_ROWS = 5000


def summary(graph: GraphRecord) -> None:
    si = graph.shape_inference
    st.caption(
        f"{len(graph.nodes):,} nodes in all graphs · shape inference "
        + ("ok" if si.ok else "failed (shapes partial)")
        + f" · {si.tensors_typed:,}/{si.tensors_total:,} outputs typed"
    )
    if not si.ok:
        st.text(f"Shape inference: {si.error}")


def table(graph: GraphRecord, rows: Sequence[NodeRow], in_scope: set[str] | None) -> None:
    """``rows`` (the filter's matches), only those in ``in_scope`` when a part is drawn."""
    if in_scope is not None:  # the table follows the drawn scope
        rows = [r for r in rows if r.id in in_scope]
    matched = len(rows)
    rows = rows[:TABLE_ROWS]
    st.dataframe(
        rows_frame(
            rows,
            [
                "id",
                "name",
                "op_type",
                "domain",
                "graph",
                "inputs",
                "outputs",
                "output_shapes",
                "attributes",
            ],
        ),
        hide_index=True,
        height=420,
    )
    st.caption(
        f"{matched:,} of {len(graph.nodes):,} nodes"
        + (" (the drawn part only)" if in_scope is not None else "")
        + (
            f"; the first {TABLE_ROWS:,} listed, filter to see others"
            if matched > TABLE_ROWS
            else ""
        )
    )


def issues(graph: GraphRecord) -> None:
    if graph.issues:
        st.subheader("Structural issues")
        st.dataframe(rows_frame(graph.issues), hide_index=True)
