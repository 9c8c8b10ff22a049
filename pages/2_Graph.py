"""Graph: Netron (same origin, patched), the node table with filters, the op-type histogram.

Above the node budget (``graph_node_budget``) Netron is never given the whole graph: the page
opens the name-scope tree instead, draws one scope (or a node's neighbourhood) at a time, and
the node table follows the scope."""

import streamlit as st

from inspector.charts import op_histogram
from inspector.errors import InspectorError
from inspector.model.scopes import SEP, neighbourhood, sub_model
from inspector.records import rows_frame
from pages.common import models, published
from pages.common.picker import page_header
from pages.common.text import plain

model, source = page_header("Graph")
budget = model.limits.graph_node_budget
main = model.proto.graph
in_scope: set[str] | None = None  # node ids the table shows (None: all)
TABLE_ROWS = 5000


def draw_part(tag: str, indices: list[int], title: str) -> None:
    url = published.netron_view_url(
        source, tag, lambda: sub_model(model, indices, title, for_viewing=True).SerializeToString()
    )
    st.iframe(published.app_base_path() + url, height=620)


def set_scope(path: str) -> None:
    st.session_state.setdefault("g_scope", {})[source.key] = path


if len(main.node) <= budget:
    url, note = published.netron_url(source)
    if note:
        st.info(note)
    st.iframe(published.app_base_path() + url, height=620)
else:
    tree = models.record("scopes", source)
    st.info(
        f"{len(main.node):,} nodes in the main graph: over the {budget:,} Netron lays out at "
        "once, so it draws one scope or one node's neighbourhood at a time (the limit "
        "graph_node_budget; bench/bench_graph.py measures why)."
    )
    mode = st.radio("Draw", ["A scope", "A node's neighbourhood"], horizontal=True, key="g_mode")
    if mode == "A scope":
        path = st.session_state.setdefault("g_scope", {}).get(source.key, SEP)
        try:
            here = tree.get(path)
        except InspectorError:
            here = tree.get(SEP)
        while here.nodes > budget and len(kids := tree.children(here.path)) == 1:
            here = kids[0]  # a single child (e.g. "/model"): go straight in
        crumbs = [SEP] + [
            SEP + SEP.join(here.path.split(SEP)[1 : i + 1])
            for i in range(1, len(here.path.split(SEP)))
            if here.path != SEP
        ]
        # A crumb that would only step straight back in (one child, over budget) is left out.
        crumbs = [
            c
            for c in crumbs
            if c == here.path or tree.get(c).nodes <= budget or len(tree.children(c)) != 1
        ]
        cols = st.columns(min(len(crumbs), 8))
        for col, crumb in zip(cols, crumbs[-8:], strict=False):
            label = "whole graph" if crumb == SEP else crumb.rsplit(SEP, 1)[-1]
            col.button(
                plain(label),
                key=f"crumb_{crumb}",
                on_click=set_scope,
                args=(crumb,),
                disabled=crumb == here.path,
                width="stretch",
            )
        children = tree.children(here.path)
        if here.nodes <= budget:
            shown = here
        else:
            shown = next((c for c in children if c.nodes <= budget), None)
        left, right = st.columns([2, 3])
        with left:
            st.markdown(
                f"**{plain(here.path)}** · {here.nodes:,} nodes"
                + (f" ({here.own:,} of its own)" if here.own and children else "")
            )
            if children:
                pick = st.dataframe(
                    [
                        {
                            "scope": c.path.rsplit(SEP, 1)[-1],
                            "nodes": c.nodes,
                            "ops": c.ops,
                            "opens": "drawn" if c.nodes <= budget else "its parts",
                        }
                        for c in children
                    ],
                    hide_index=True,
                    height=560,
                    on_select="rerun",
                    selection_mode="single-row",
                    key=f"g_children_{here.path}",
                )
                rows = pick.selection.rows if pick and pick.selection else []
                if rows:
                    chosen = children[rows[0]]
                    if chosen.nodes > budget:
                        set_scope(chosen.path)
                        st.rerun()
                    shown = chosen
        with right:
            if shown is None:
                st.warning(
                    f"No part of {plain(here.path)} fits the budget; pick a scope on the left."
                )
            else:
                idx = tree.nodes_of(shown.path)
                st.caption(
                    f"Drawn: {plain(shown.path)} — {shown.nodes:,} nodes ({plain(shown.ops)}); "
                    "its boundary tensors are the drawing's inputs and outputs."
                )
                draw_part("scope:" + shown.path, idx, shown.path)
                in_scope = {f"main:{i}" for i in idx}
    else:
        c1, c2 = st.columns([3, 1])
        wanted = c1.text_input(
            "Node name or id",
            key="g_center",
            placeholder="e.g. /model/layers.3/attn/Softmax_5 or main:50",
        )
        hops = c2.number_input("Hops", 1, 20, 3, key="g_hops")
        if wanted:
            index = next(
                (i for i, n in enumerate(main.node) if n.name == wanted or f"main:{i}" == wanted),
                None,
            )
            if index is None:
                st.warning(plain(f"No node named {wanted!r} in the main graph (ids: main:0 …)."))
            else:
                idx = neighbourhood(main, index, int(hops))
                if len(idx) > budget:
                    st.warning(
                        f"{len(idx):,} nodes within {hops} hops: drawing the {budget:,} nearest "
                        "in graph order; lower the hops to see all."
                    )
                    at = index
                    idx = sorted(sorted(idx, key=lambda j: abs(j - at))[:budget])
                st.caption(
                    f"{plain(main.node[index].name or f'main:{index}')} and {len(idx) - 1:,} "
                    f"nodes within {hops} hops."
                )
                draw_part(f"hops:{index}:{hops}", idx, f"{main.node[index].name} ±{hops}")
                in_scope = {f"main:{i}" for i in idx}

graph = models.record("graph", source)  # after the drawing: the node table of 100k nodes waits
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
    if in_scope is not None:  # the table follows the drawn scope
        rows = [r for r in rows if r.id in in_scope]
    matched = len(rows)
    rows = rows[:TABLE_ROWS]  # a browser table of 100,000 rows is slow to send and to scroll
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
if graph.issues:
    st.subheader("Structural issues")
    st.dataframe(rows_frame(graph.issues), hide_index=True)
