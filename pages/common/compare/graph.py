"""Compare's Graph tab: each configuration's saved optimized graph, the candidate's fused and
runtime kernels, and the model's graph coloured by the candidate's EPs or node times (a large
graph one part at a time: a scope, or a page in graph order)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from inspector import LoadedModel
from inspector.charts import ep_legend_dot, node_colors, overlay_dot
from inspector.model.scopes import SEP, scope_times
from inspector.records import rows_frame
from inspector.run.analyses.compare import main_node_times
from inspector.run.readout.results import RunResult
from pages.common import models
from pages.common.graph.draw import drawn_scope
from pages.common.models import Source
from pages.common.text import plain


def show_optimized(results: Sequence[RunResult], cand: RunResult) -> None:
    """Node and op counts of each saved optimized graph; the candidate's non-own kernels."""
    st.dataframe(
        [
            {
                "configuration": r.label,
                "nodes in the saved optimized main graph": str(r.optimized_nodes)
                if r.optimized_nodes is not None
                else "not saved (EP-compiled graph)",
                "ops": ", ".join(f"{o} {n}" for o, n in r.optimized_ops[:12]),
            }
            for r in results
            if r.ok
        ],
        hide_index=True,
    )
    if not (cand.ok and cand.kernels):
        return
    fused = [
        {
            "kernel": k.kernel,
            "op": k.op_type,
            "kind": k.kind,
            "original nodes (derived)": ", ".join(k.ids) or k.note,
        }
        for k in cand.kernels
        if k.kind not in ("own", "renamed")
    ]
    if fused:
        st.subheader(f"Fused, shared and ONNX Runtime's own kernels in {plain(cand.label)}")
        st.dataframe(fused, hide_index=True)


def show_overlay(model: LoadedModel, source: Source, cand: RunResult, mode: str) -> None:
    """The main graph filled by ``cand``'s EP per node (``mode`` "EP") or time ("time"); over
    the overlay's node limit, the part the user picks."""
    graph = models.record("graph", source)
    main_ids = [n.id for n in graph.nodes if n.graph == "main"]
    colors, node_labels = node_colors(cand, mode)
    per_part = model.limits.overlay_max_nodes
    pages = max(1, -(-len(main_ids) // per_part))
    part = main_ids
    if pages > 1:
        tree = models.record("scopes", source)
        if mode == "time" and cand.ok:
            costly = scope_times(tree, main_node_times(cand))[:15]
            if costly:
                st.markdown(f"**Where {plain(cand.label)} spends its time, by scope**")
                st.dataframe(
                    rows_frame(costly, ["path", "nodes", "timed_nodes", "us", "share"]),
                    hide_index=True,
                )
        by = st.radio(
            f"{len(main_ids):,} nodes: colour one part at a time",
            ["A scope", "Graph order"],
            horizontal=True,
            key="cmp_part_by",
        )
        if by == "A scope":
            fits = tree.fitting(per_part)
            drawn = drawn_scope(source) or SEP  # the Graph page's scope: start in it
            inside = drawn.rstrip(SEP) + SEP
            start = next(
                (i for i, f in enumerate(fits) if f.path == drawn or f.path.startswith(inside)), 0
            )
            chosen = st.selectbox(
                f"Scope (the {len(fits):,} largest of at most {per_part} nodes)",
                [f.path for f in fits],
                index=start,
                key="cmp_scope",
            )
            part = [f"main:{i}" for i in tree.nodes_of(chosen)] if chosen else []
        else:
            page = st.number_input(
                f"Part (of {pages}, {per_part} nodes each)", 1, pages, 1, key="cmp_part"
            )
            part = main_ids[(page - 1) * per_part : page * per_part]
    if mode == "EP":  # the legend: the EP bars' colours (charts.ep_color)
        st.graphviz_chart(ep_legend_dot(sorted({a.ep for a in cand.assignment})))
    st.graphviz_chart(overlay_dot(graph, colors, node_labels, part))
