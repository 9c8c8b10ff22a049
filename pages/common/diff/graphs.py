"""Model diff's Graphs tab: what differs drawn on each side (the changed, removed or added nodes
with their neighbours, at most ``OVERLAY_READABLE_NODES``), a table of the differing nodes the
drawing leaves out, then both whole models in Netron side by side.

The page draws this tab only while it is open: a Netron drawn inside a hidden tab measures
every box as zero and lays the graph out as a dot, and drawing both graphs on every rerun made
choosing B wait for two layouts nobody was looking at."""

from __future__ import annotations

import streamlit as st

from inspector import LoadedModel
from inspector.charts import diff_colors, overlay_dot, stacked_dot
from inspector.model.diff import ModelDiff, overlay_focus
from pages.common import models, published
from pages.common.models import Source
from pages.common.text import plain


def show(model: LoadedModel, source: Source, b_source: Source, diff: ModelDiff) -> None:
    st.subheader("What differs")
    st.caption(
        "Fill: :orange[changed], :red[removed] (A only), :green[added] (B only); grey: their "
        "neighbours, up to two edges away."
    )
    left, right = st.columns(2)
    rest: list[dict[str, str]] = []
    for col, src, side in ((left, source, "a"), (right, b_source, "b")):
        with col:
            graph = models.record("graph", src)
            focus = overlay_focus(diff, graph, side)
            if not focus.differing:
                st.write("No node differs on this side.")
                continue
            colors, labels = diff_colors(diff, side)
            st.caption(
                f"{int(focus.differing)} node(s) differ; {len(focus.drawn)} drawn with their "
                "neighbours" + (f", {len(focus.left_out)} listed below." if focus.left_out else ".")
            )
            st.graphviz_chart(
                stacked_dot(overlay_dot(graph, colors, labels, focus.drawn)), width="stretch"
            )
            names = {n.id: n for n in graph.nodes}
            rest += [
                {
                    "side": side.upper(),
                    "node_id": nid,
                    "name": names[nid].name,
                    "op_type": names[nid].op_type,
                    "what": labels.get(nid, ""),
                }
                for nid in focus.left_out
            ]
    if rest:
        st.subheader("Differing nodes not drawn")
        st.dataframe(rest, hide_index=True)
    st.subheader("Both graphs")
    left, right = st.columns(2)
    for col, src, title in ((left, source, "A"), (right, b_source, "B")):
        with col:
            st.markdown(f"**{title}: {plain(src.name)}**")
            url, note = published.netron_url(src)
            if note:
                st.info(note)
            st.iframe(published.app_base_path() + url + "&fit=1", height=520)  # fit the pane
