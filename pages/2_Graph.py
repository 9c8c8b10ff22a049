"""Graph: Netron (same origin, patched), the node table with filters, the op-type histogram.

Above the node budget (``graph_node_budget``) Netron is never given the whole graph flat: the
page draws it collapsed (each name scope, or run of consecutive nodes, one box that opens on a
click), or one scope, or a node's neighbourhood; the node table and op histogram follow.
The form: what to draw and the table's filters; the sections (``pages/common/graph/``) draw
them."""

from collections import Counter
from dataclasses import replace

import streamlit as st

from inspector.charts import op_histogram
from pages.common import models
from pages.common.graph import draw, nodes
from pages.common.picker import page_header

model, source = page_header("Graph")
budget = model.limits.graph_node_budget
main = model.proto.graph
in_scope: set[str] | None = None  # node ids the table shows (None: all)

if len(main.node) <= budget:
    draw.whole(source)
else:
    tree = models.record("scopes", source)
    st.info(
        f"{len(main.node):,} nodes in the main graph: over the {budget:,} Netron lays out at "
        "once, so it draws the graph collapsed — a box per scope — or one node's "
        "neighbourhood (the limit graph_node_budget; bench/bench_graph.py measures why)."
    )
    mode = st.radio(
        "Draw", ["Scopes, collapsed", "A node's neighbourhood"], horizontal=True, key="g_mode"
    )
    if mode == "Scopes, collapsed":
        in_scope = draw.scope_browser(model, source, tree)
    else:
        c1, c2 = st.columns([3, 1])
        wanted = c1.text_input(
            "Node name or id",
            key=source.widget("g_center"),
            placeholder="e.g. /model/layers.3/attn/Softmax_5 or main:50",
        )
        hops = c2.number_input("Hops", 1, 20, 3, key="g_hops")
        if wanted:
            in_scope = draw.around(model, source, wanted, int(hops))

graph = models.record("graph", source)  # after the drawing: the node table of 100k nodes waits
nodes.summary(graph)
left, right = st.columns([3, 1])
with right:
    drawn = graph
    if in_scope is not None:  # the histogram of the part drawn
        counts = Counter(n.op_type for n in graph.nodes if n.id in in_scope)
        drawn = replace(
            graph, op_histogram=tuple(sorted(counts.items(), key=lambda o: (-o[1], o[0])))
        )
    st.plotly_chart(op_histogram(drawn), key="ops_hist")
with left:
    c1, c2, c3, c4 = st.columns(4)
    name = c1.text_input("Name or id contains", key=source.widget("g_name"))
    ops = sorted({n.op_type for n in graph.nodes})
    op = c2.selectbox("Op type", ["(any)"] + ops, key=source.widget("g_op"))
    domains = sorted({n.domain for n in graph.nodes})
    domain = c3.selectbox("Domain", ["(any)"] + domains, key=source.widget("g_domain"))
    shape = c4.text_input(
        "Output shape contains", key=source.widget("g_shape"), placeholder="e.g. 1, 64"
    )
    rows = graph.filter(
        name or None,
        None if op == "(any)" else op,
        None if domain == "(any)" else domain,
        shape or None,
    )
    nodes.table(graph, rows, in_scope)
nodes.issues(graph)
