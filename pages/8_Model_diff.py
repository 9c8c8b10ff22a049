"""Model diff: the current model (A) against another open model (B) — structure, weights, both
graphs, and a run of both on the same inputs. Same records as ``onnx-inspector diff A B``.

The form: which model is B, whether weight values are compared, and what both run on; each
tab's section (``pages/common/diff/``) draws the records. Only the open tab is drawn (a rerun
when another opens): the Graphs tab's two Netron layouts and two Graphviz layouts took ~17 s of
the browser's time on every choice of B, and a Netron drawn in a hidden tab came out as a dot."""

import streamlit as st

from inspector import InspectorError
from inspector.records import human_bytes
from inspector.run.setup.config import OPT_LEVELS, RunConfig, parse_eps, parse_level
from inspector.run.setup.eps import discover
from inspector.run.setup.plan import ep_choices
from pages.common import models
from pages.common.diff import graphs, run, structure
from pages.common.picker import page_header
from pages.common.text import plain

model, source = page_header("Model diff")
names = models.labels()
others = [key for key in names if key != source.key]  # by content: a same-named re-export too
if not others:
    st.info(
        "Open a second model in the sidebar (upload it, or add a sample): this page compares "
        "the current model (A) with it (B)."
    )
    st.stop()
b_key = st.selectbox(
    "Compare with (B)", others, format_func=lambda k: names.get(k, k), key="diff_b"
)
b_source = models.models()[str(b_key)]
try:
    b_model = models.load(b_source)
except InspectorError as exc:
    st.error(plain(exc))
    st.stop()

weight_bytes = (
    models.record("initializers", source).total_bytes
    + models.record("initializers", b_source).total_bytes
)
big = weight_bytes > model.limits.max_stats_tensor_bytes
weights = st.checkbox(
    "Compare weight values (statistics deltas, quantization error)",
    value=not big,
    key=source.widget(b_source.widget("diff_weights")),  # its default follows the pair's size
    help=f"Both models hold {human_bytes(weight_bytes)} of weights"
    + ("; off by default for models this large: structure only reads no tensor." if big else "."),
)
diff = models.model_diff(source, b_source, weights)

st.markdown("\n".join(f"- {plain(line)}" for line in diff.summary()))
st.caption("CLI: `onnx-inspector diff A.onnx B.onnx [--run] [--json]` prints the same records.")

# Widgets of a tab not drawn in a run lose their state; these keep what the user chose.
for key in ("diff_eps", "diff_lv"):
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]
nodes, values, inits, graph_tab, run_tab = st.tabs(
    ["Nodes", "Inputs, outputs, ops", "Initializers", "Graphs", "Run both"],
    key="diff_tab",
    on_change="rerun",
)
if nodes.open:
    with nodes:
        structure.nodes(diff)
if values.open:
    with values:
        structure.values(diff)
if inits.open:
    with inits:
        structure.initializers(diff, weights)
if graph_tab.open:
    with graph_tab:
        graphs.show(model, source, b_source, diff)
if run_tab.open:
    with run_tab:
        st.write(
            "Runs A and B on the same generated inputs (A's input names; B's matched by name, else "
            "by position) under one configuration, each in its own isolated worker, then looks for "
            "the first matched intermediate tensor that differs."
        )
        choices = ep_choices(discover())
        c1, c2 = st.columns(2)
        ep_choice = c1.selectbox("EP priority list", list(choices), key="diff_eps")
        level = c2.selectbox(
            "Optimization level", list(OPT_LEVELS), index=len(OPT_LEVELS) - 1, key="diff_lv"
        )
        config = RunConfig(
            eps=parse_eps(choices[ep_choice]),
            opt_level=parse_level(level),
            label=f"{ep_choice} · {level}",
        )
        run.section(model, source, b_model, b_source, diff, config)
