"""Weights: every initializer and Constant value; statistics and a histogram on selection."""

import streamlit as st

from inspector.charts import value_histogram
from inspector.records import human_bytes, rows_frame
from pages.common import models
from pages.common.picker import page_header
from pages.common.text import plain

model, source = page_header("Weights")
table = models.record("initializers", source)
st.caption(
    f"{len(table.rows):,} weights · {table.total_elements:,} values · "
    f"{human_bytes(table.total_bytes)}"
)
if not table.rows:
    st.info("This model has no initializers or Constant values.")
    st.stop()
frame = rows_frame(
    table.rows, ["key", "source", "dtype", "shape", "elements", "bytes", "storage", "location"]
)
event = st.dataframe(
    frame,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key=source.widget("weights_table"),
    height=380,
)
picked = event.selection.rows if event and event.selection else []
key = table.rows[picked[0]].key if picked and picked[0] < len(table.rows) else table.rows[0].key
st.subheader(f"Statistics · {plain(key)}")
stats = models.weight_stats(source, key)
if stats.error:
    st.error(f"Cannot decode this tensor: {plain(stats.error)}")
elif stats.min is None and stats.preview:
    st.text(f"{stats.count} strings, {stats.invalid_utf8} not valid UTF-8 (shown escaped)")
    st.dataframe({"first values": list(stats.preview)}, hide_index=True)
else:
    cols = st.columns(7)
    for col, (label, value) in zip(  # noqa: B905
        cols,
        [
            ("min", stats.min),
            ("max", stats.max),
            ("mean", stats.mean),
            ("std", stats.std),
            ("zeros", stats.zero_fraction),
            ("NaN", stats.nan_count),
            ("Inf", stats.inf_count),
        ],
    ):
        col.metric(
            label,
            "—"
            if value is None
            else (f"{value:.4g}" if isinstance(value, float) else f"{value:,}"),
        )
    if stats.histogram_counts:
        st.plotly_chart(
            value_histogram(
                stats.histogram_counts, stats.histogram_edges, f"Values of {key} ({stats.dtype})"
            ),
            key="w_hist",
        )
