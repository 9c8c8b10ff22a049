"""Graph: Netron (same origin, patched), the node table with filters, the op-type histogram."""

import streamlit as st

from inspector.charts import op_histogram
from inspector.records import rows_frame
from pages.common import state
from pages.common.picker import page_header

model, source = page_header("Graph")

url, note = state.netron_url(source)
if note:
    st.info(note)
st.iframe(state.app_base_path() + url, height=620)

graph = state.record("graph", source)
si = graph.shape_inference
st.caption(
    f"{len(graph.nodes):,} nodes in all graphs · shape inference "
    + ("ok" if si.ok else "failed (shapes partial)")
    + f" · {si.tensors_typed:,}/{si.tensors_total:,} outputs typed"
)
if not si.ok:
    st.text(f"Shape inference: {si.error}")

left, right = st.columns([3, 1])
with right:
    st.plotly_chart(op_histogram(graph), key="ops_hist")
with left:
    c1, c2, c3, c4 = st.columns(4)
    name = c1.text_input("Name or id contains", key="g_name")
    ops = sorted({n.op_type for n in graph.nodes})
    op = c2.selectbox("Op type", ["(any)"] + ops, key="g_op")
    domains = sorted({n.domain for n in graph.nodes})
    domain = c3.selectbox("Domain", ["(any)"] + domains, key="g_domain")
    shape = c4.text_input("Output shape contains", key="g_shape", placeholder="e.g. 1, 64")
    rows = graph.filter(
        name or None,
        None if op == "(any)" else op,
        None if domain == "(any)" else domain,
        shape or None,
    )
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
    st.caption(f"{len(rows):,} of {len(graph.nodes):,} nodes")
if graph.issues:
    st.subheader("Structural issues")
    st.dataframe(rows_frame(graph.issues), hide_index=True)
