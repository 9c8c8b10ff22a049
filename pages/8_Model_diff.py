"""Model diff: the current model (A) against another open model (B) — structure, weights, both
graphs, and a run of both on the same inputs. Same records as ``onnx-inspector diff A B``."""

import streamlit as st

from inspector import InspectorError
from inspector.charts import diff_colors, overlay_dot
from inspector.records import human_bytes, rows_frame
from inspector.run.config import OPT_LEVELS, RunConfig, parse_eps, parse_level
from inspector.run.diff import BehaviourDiff, behaviour_diff
from inspector.run.eps import discover
from inspector.run.inputs import default_inputs
from inspector.run.plan import ep_choices
from pages.common import models, published, runs
from pages.common.job_panel import drawing_value, job_panel
from pages.common.picker import page_header
from pages.common.text import plain


def show_run(result: BehaviourDiff) -> None:
    for w in result.warnings:
        st.warning(plain(w))
    for r in (result.a, result.b):
        if not r.ok:
            st.error(plain(r.error))
        elif r.latency:
            st.write(f"{plain(r.label)}: median {r.latency.median_ms:.3f} ms")
    if result.outputs.outputs:
        st.subheader("Outputs (B against A)")
        st.dataframe(
            rows_frame(
                result.outputs.outputs,
                ["output", "status", "max_abs", "mean_abs", "cosine", "allclose", "detail"],
            ),
            hide_index=True,
        )
    d = result.divergence
    if d is not None and d.found:
        st.error(
            f"First matched tensor that differs: {plain(d.a_tensor)} (A {plain(d.a_id)}) ↔ "
            f"{plain(d.b_tensor)} (B {plain(d.b_id)}), {plain(d.op_type)}, max |Δ| "
            + (f"{d.error.max_abs:.4g}" if d.error and d.error.max_abs is not None else "—")
        )
    elif d is not None:
        st.success(plain(f"First divergence: {d.detail} ({d.checked} tensor pairs checked)."))
    if result.timing:
        st.subheader("Matched nodes, slowest first (µs)")
        st.dataframe(
            rows_frame(result.timing, ["a_name", "b_name", "op_type", "a_us", "b_us"]),
            hide_index=True,
        )


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
    key="diff_weights",
    help=f"Both models hold {human_bytes(weight_bytes)} of weights"
    + ("; off by default for models this large: structure only reads no tensor." if big else "."),
)
diff = models.model_diff(source, b_source, weights)

st.markdown("\n".join(f"- {plain(line)}" for line in diff.summary()))
st.caption("CLI: `onnx-inspector diff A.onnx B.onnx [--run] [--json]` prints the same records.")

nodes, values, inits, graphs, run = st.tabs(
    ["Nodes", "Inputs, outputs, ops", "Initializers", "Graphs", "Run both"]
)
with nodes:
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
with values:
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
with inits:
    if diff.initializers:
        st.dataframe(rows_frame(diff.initializers), hide_index=True)
    else:
        st.write("No initializer differs." if weights else "No initializer differs in type.")
    for line in diff.skipped:
        st.caption(f"Skipped: {plain(line)}")
with graphs:
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
with run:
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
    run_about = f"{b_source.key} · {config.label}"
    if st.button("Run both", key="diff_run"):
        try:
            feeds = default_inputs(model, models.record("overview", source).inputs)

            def run_both(job, feeds=feeds, config=config, b_model=b_model, diff=diff):
                def say(text: str) -> None:
                    job.current = text

                return behaviour_diff(
                    model, b_model, diff, feeds, config, progress=say, cancel=job.cancel_event
                )

            runs.submit_task(source, model, "model_diff_run", run_about, run_both)
        except InspectorError as exc:
            st.error(plain(exc))
    job_panel(
        runs.task(source, "model_diff_run", run_about),
        "Running both models",
        drawing_value(show_run),
    )
