"""Subgraphs: the tree of If/Loop/Scan bodies and functions, with drill-in to each body."""

import streamlit as st

from inspector.records import rows_frame
from pages.common import models
from pages.common.picker import page_header
from pages.common.text import plain

model, source = page_header("Subgraphs")
tree = models.record("subgraphs", source)
if len(tree.graphs) == 1:
    st.info("No If/Loop/Scan bodies or local functions: the model is a single graph.")
    st.stop()
st.caption(f"{len(tree.graphs)} graphs · deepest nesting {tree.max_depth}")
for cycle in tree.recursive_functions:
    st.error("Recursive functions: " + " → ".join(plain(c) for c in cycle))
if tree.not_walked:
    st.warning(
        f"Bodies of {plain(', '.join(tree.not_walked))} are nested too deep and were not walked."
    )
rows = [
    {
        "graph": "    " * g.depth + g.id,
        "kind": g.kind,
        "owner": g.owner_op,
        "nodes": g.nodes,
        "nodes incl. nested": g.nodes_nested,
        "inputs": ", ".join(g.inputs),
        "outputs": ", ".join(g.outputs),
    }
    for g in tree.graphs
]
st.dataframe(rows, hide_index=True)
choice = st.selectbox("Show the nodes of", [g.id for g in tree.graphs], key="sub_pick")
graph = models.record("graph", source)
st.dataframe(
    rows_frame(
        graph.filter(graph=choice),
        ["id", "name", "op_type", "inputs", "outputs", "output_shapes", "subgraphs"],
    ),
    hide_index=True,
)
