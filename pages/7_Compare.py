"""Compare: latency, per-node timing, EP assignment and fallback, output deltas, first
divergence, optimizer ablation, optimized graphs, the graph coloured by EP or time.

The form: a reference and a candidate among this model's runs, and the output tolerances;
each tab's section (``pages/common/compare/``) draws their records."""

import streamlit as st

from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL
from inspector.run.readout.outcome import default_candidate
from pages.common import handoff, runs
from pages.common.compare import cost, downloads, eps, graph, outcomes, outputs, share, timing
from pages.common.picker import page_header

model, source = page_header("Compare")
stored = runs.runs(source)
if not stored:
    st.info("No runs yet for this model.")
    st.page_link("pages/6_Run_lab.py", label="Open the run lab →")
    st.stop()
results = stored.results
labels = [r.label for r in results]
c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
ref_label = c1.selectbox("Reference", labels, index=stored.matrix.reference, key="cmp_ref")
others = [x for x in labels if x != ref_label] or labels
focus = handoff.compare_focus()  # e.g. the fallback demo: its fallback configuration
if focus.candidate in others:
    st.session_state["cmp_cand"] = focus.candidate
if st.session_state.get("cmp_cand") not in others:
    # One where an EP other than CPU ran nodes, else one that ran (outcome.default_candidate).
    st.session_state["cmp_cand"] = default_candidate(results, ref_label) or others[0]
cand_label = c2.selectbox("Candidate", others, key="cmp_cand")
# Tolerances only compare (no worker, no limit to follow); a negative one would fail every
# element, so they start at 0.
atol = c3.number_input("atol", 0.0, value=DEFAULT_ATOL, format="%.1e", key="cmp_atol")
rtol = c4.number_input("rtol", 0.0, value=DEFAULT_RTOL, format="%.1e", key="cmp_rtol")
ref = results[labels.index(ref_label)]
cand = results[labels.index(cand_label)]

outcomes.show(results)  # failures as errors; strict refusals the demo expects as notes
share.show(source)  # read-only links for a teammate (owners only)

tab_time, tab_ep, tab_out, tab_graph, tab_cost, tab_dl = st.tabs(
    ["Timing", "EP assignment", "Outputs", "Graph", "Cost", "Downloads"],
    default=focus.tab,  # the fallback demo lands on EP assignment
)
with tab_time:
    timing.show(results, ref, cand)
with tab_ep:
    eps.show_chart(results)
    eps.show(results)
with tab_out:
    outputs.show(model, source, stored.inputs, ref, cand, atol, rtol)
with tab_graph:
    graph.show_optimized(results, cand)
    mode = st.radio("Colour the graph by", ["EP", "time"], horizontal=True, key="cmp_mode")
    graph.show_overlay(model, source, cand, mode)
with tab_cost:  # FLOPs and bytes next to time: the roofline
    cost.show(model, source, stored.inputs, ref, cand, results)
with tab_dl:
    downloads.show(model, source, stored, cand)
