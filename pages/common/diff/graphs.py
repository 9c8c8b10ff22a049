"""Model diff's Graphs tab: both models in Netron side by side, then both main graphs filled
by what happened to each node (at most the overlay's node limit: over it, the nodes that
differ)."""

from __future__ import annotations

import streamlit as st

from inspector import LoadedModel
from inspector.charts import diff_colors, overlay_dot
from inspector.model.diff import ModelDiff
from pages.common import models, published
from pages.common.models import Source
from pages.common.text import plain


def show(model: LoadedModel, source: Source, b_source: Source, diff: ModelDiff) -> None:
    left, right = st.columns(2)
    for col, src, title in ((left, source, "A"), (right, b_source, "B")):
        with col:
            st.markdown(f"**{title}: {plain(src.name)}**")
            url, note = published.netron_url(src)
            if note:
                st.info(note)
            st.iframe(published.app_base_path() + url, height=480)
    st.subheader("Overlay")
    st.caption(
        "Fill: :orange[changed], :red[removed] (A only), :green[added] (B only); grey: unchanged."
    )
    per_part = model.limits.overlay_max_nodes
    left, right = st.columns(2)
    for col, src, side in ((left, source, "a"), (right, b_source, "b")):
        with col:
            graph = models.record("graph", src)
            ids = [n.id for n in graph.nodes if n.graph == "main"]
            colors, labels = diff_colors(diff, side)
            shown = [i for i in ids if i in colors] if len(ids) > per_part else ids
            if len(ids) > per_part:
                st.caption(f"{len(ids):,} nodes: only the {len(shown[:per_part])} that differ.")
            st.graphviz_chart(overlay_dot(graph, colors, labels, shown[:per_part]))
