"""Model diff's structure tabs: matched, changed, added and removed nodes; inputs, outputs,
opsets and op counts; initializers."""

from __future__ import annotations

import streamlit as st

from inspector.model.diff import ModelDiff
from inspector.records import rows_frame
from pages.common.text import plain


def nodes(diff: ModelDiff) -> None:
    if diff.changed_pairs:
        st.subheader("Changed nodes")
        st.dataframe(
            rows_frame(diff.changed_pairs, ["a_name", "b_name", "op_type", "how", "changes"]),
            hide_index=True,
        )
    if diff.lone:
        st.subheader("Added and removed nodes")
        st.dataframe(rows_frame(diff.lone, ["side", "name", "op_type", "node_id"]), hide_index=True)
    st.subheader(f"All {len(diff.pairs)} matched pairs")
    st.dataframe(
        rows_frame(diff.pairs, ["a_id", "b_id", "a_name", "b_name", "op_type", "how"]),
        hide_index=True,
    )


def values(diff: ModelDiff) -> None:
    """IR version, opsets, inputs and outputs, op counts, external-data layout."""
    st.write(f"IR version: {diff.ir[0]} → {diff.ir[1]}")
    if diff.opsets:
        st.dataframe(
            [{"domain": d or "ai.onnx", "A": va, "B": vb} for d, va, vb in diff.opsets],
            hide_index=True,
        )
    if diff.values:
        st.dataframe(rows_frame(diff.values), hide_index=True)
    else:
        st.write("Inputs and outputs: same names, types and dims.")
    if diff.ops:
        st.subheader("Op counts that differ")
        st.dataframe(rows_frame(diff.ops), hide_index=True)
    if diff.external:
        st.subheader("External-data layout")
        st.dataframe([{"": k, "A": va, "B": vb} for k, va, vb in diff.external], hide_index=True)


def initializers(diff: ModelDiff, weights: bool) -> None:
    """``weights``: values were compared (else types and shapes only)."""
    if diff.initializers:
        st.dataframe(rows_frame(diff.initializers), hide_index=True)
    else:
        st.write("No initializer differs." if weights else "No initializer differs in type.")
    for line in diff.skipped:
        st.caption(f"Skipped: {plain(line)}")
