"""Compare: latency, per-node timing, EP assignment and fallback, output deltas, first
divergence, optimizer ablation, optimized graphs, the graph coloured by EP or time."""

import json

import streamlit as st

from inspector.bundle import about, write_bundle
from inspector.charts import (
    error_histogram,
    latency,
    node_colors,
    op_type_times,
    overlay_dot,
    slowest_nodes,
)
from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL
from inspector.model.scopes import scope_times
from inspector.records import rows_frame, to_jsonable
from inspector.report import html_report
from inspector.run.analysis import AblationRow, Divergence, ablation, first_divergence
from inspector.run.compare import compare, node_changes, node_timing_csv, node_timing_table
from inspector.run.inputs import inputs_npz
from inspector.run.results import latency_delta
from inspector.run.sanity import warnings_of
from pages.common import expected as expected_outputs
from pages.common import handoff, models, runs
from pages.common.picker import page_header
from pages.common.tasks import task_panel
from pages.common.text import plain


def show_divergence(fd: Divergence) -> None:
    if fd.found:
        st.error(
            plain(
                f"First divergence: {fd.node_id} ({fd.op_type}) output {fd.tensor!r}, "
                f"max |Δ| {fd.error.max_abs:.3g}; chain to the output: " + " → ".join(fd.chain)
                if fd.error and fd.error.max_abs is not None
                else f"First divergence: {fd.node_id} ({fd.op_type}) output {fd.tensor!r}"
            )
        )
    else:
        st.success(
            f"No diverging intermediate tensor ({fd.checked_tensors} checked). " + plain(fd.detail)
        )
    for s in fd.skipped:
        st.text(f"note: {s}")


def show_ablation(rows: tuple[AblationRow, ...]) -> None:
    st.dataframe(
        rows_frame(
            rows,
            [
                "disabled",
                "status",
                "median_ms",
                "time_ratio",
                "ratio_ci",
                "within_noise",
                "max_abs_vs_baseline",
                "graph_changed",
                "note",
            ],
        ),
        hide_index=True,
    )


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
    st.session_state.pop("cmp_cand", None)
cand_label = c2.selectbox("Candidate", others, key="cmp_cand")
# Tolerances only compare (no worker, no limit to follow); a negative one would fail every
# element, so they start at 0.
atol = c3.number_input("atol", 0.0, value=DEFAULT_ATOL, format="%.1e", key="cmp_atol")
rtol = c4.number_input("rtol", 0.0, value=DEFAULT_RTOL, format="%.1e", key="cmp_rtol")
ref = results[labels.index(ref_label)]
cand = results[labels.index(cand_label)]

for r in results:
    if not r.ok:
        st.error(plain(r.error))

tab_time, tab_ep, tab_out, tab_graph, tab_dl = st.tabs(
    ["Timing", "EP assignment", "Outputs", "Graph", "Downloads"],
    default=focus.tab,  # the fallback demo lands on EP assignment
)

with tab_time:
    st.plotly_chart(latency(results, labels.index(ref_label)), key="lat")
    vs = latency_delta(ref, cand)
    if vs is not None:  # the verdict, then what it rests on
        lat_r, lat_c = ref.latency, cand.latency
        st.markdown(
            f"**{plain(cand.label)}** vs **{plain(ref.label)}**: {vs.ratio:.3f}× "
            f"[{vs.ratio_ci[0]:.3f}, {vs.ratio_ci[1]:.3f}] — **{plain(vs.verdict)}**"
        )
        st.caption(
            plain(
                "; ".join(
                    f"{r.label}: {lat.stop_detail or f'fixed {len(lat.runs_ms)} runs'}"
                    for r, lat in ((ref, lat_r), (cand, lat_c))
                    if lat
                )
            )
            + ". A difference counts as within noise when the medians' 95 % intervals overlap "
            "once each is widened to at least ±5 % (two sessions of one configuration differ by "
            "that much on a shared machine)."
        )
    if any(r.placement for r in results):  # ran on a Ray cluster: machine vs machine
        st.dataframe(
            [{"configuration": r.label, **dict(r.placement)} for r in results if r.placement],
            hide_index=True,
        )
    t_labels, rows = node_timing_table(tuple(r for r in results if r.ok))
    if rows:
        event = st.plotly_chart(
            slowest_nodes(t_labels, rows), key="slow", on_select="rerun", selection_mode="points"
        )
        points = (event.selection.points if event and event.selection else []) or []
        if points:
            node = points[0]["customdata"][-1]
            row = next((x for x in rows if (x.node_id or x.node) == node), None)
            if row:
                st.text(
                    f"Selected {row.label} ({row.node_id or 'ONNX Runtime'}), kernel {row.node}"
                )
                via = row.via or tuple("" for _ in t_labels)
                st.dataframe(
                    [
                        {
                            "configuration": lbl,
                            "µs": t,
                            "interval µs": "–".join(f"{x:.1f}" for x in span) if span else "",
                            "EP": ep,
                            "how": how or "its own kernel",
                        }
                        for lbl, t, ep, how, span in zip(
                            t_labels,
                            row.times_us,
                            row.eps,
                            via,
                            [row.interval(k) for k in range(len(t_labels))],
                            strict=True,
                        )
                    ],
                    hide_index=True,
                )
        if ref.ok and cand.ok and ref.label in t_labels and cand.label in t_labels:
            changes = node_changes(rows, t_labels.index(ref.label), t_labels.index(cand.label))
            real = [c for c in changes if not c.within_noise]
            st.markdown(
                f"**Per-node changes beyond noise** ({plain(cand.label)} − {plain(ref.label)}): "
                f"{len(real):,}; {len(changes) - len(real):,} more within noise (not ranked)"
            )
            if real:
                st.dataframe(
                    rows_frame(
                        real[:50],
                        [
                            "label",
                            "op_type",
                            "reference_us",
                            "candidate_us",
                            "delta_us",
                            "ratio",
                            "derived",
                        ],
                    ),
                    hide_index=True,
                )
        st.plotly_chart(op_type_times(results), key="ops")
        st.caption(
            "Nodes by name and op type. A hatched bar is derived: the time of a fused, shared or "
            "EP-compiled kernel split evenly over the original nodes it computes (mapped through "
            "tensor and node names). ONNX Runtime's own kernels (layout Reorders, inserted "
            "Reshapes, Q/DQ pairs) are bars of their own."
        )
    else:
        st.info("No profiled runs: set 'profiled runs' above 0 in the run lab.")

with tab_ep:
    st.caption(
        "Nodes per EP come from ONNX Runtime's assignment record: every graph (If/Loop bodies "
        "too), counted when EPs were assigned — passes that run after that may still fuse, so "
        "the Graph tab's main-graph count of the saved optimized model can be lower."
    )
    for r in results:
        if not (r.ok and r.fallback):
            continue
        fb = r.fallback
        per_ep = ", ".join(
            f"{k.removesuffix('ExecutionProvider')}: {v}" for k, v in fb.nodes_per_ep
        )
        st.markdown(f"**{plain(r.label)}**")
        st.text(f"preferred {fb.preferred_ep} · nodes per EP: {per_ep} (from {fb.source})")
        if fb.requested_inactive:
            st.warning(
                "Requested but not active: "
                + plain(", ".join(fb.requested_inactive))
                + " — ONNX Runtime ran these nodes elsewhere without an error."
            )
        if fb.off_preferred:
            st.dataframe(rows_frame(fb.off_preferred), hide_index=True)
        for note in r.notes:
            st.text(f"note: {note}")

with tab_out:
    for r in (ref, cand):  # deltas between garbage outputs are noise (issue 23)
        for warning in warnings_of(r.notes):
            st.warning(plain(f"{r.label}: {warning}"))
    if ref.ok and cand.ok:
        comparison = compare(ref, cand, atol, rtol)
        st.dataframe(
            rows_frame(
                comparison.outputs,
                [
                    "output",
                    "status",
                    "shape",
                    "max_abs",
                    "mean_abs",
                    "p99_abs",
                    "max_rel",
                    "cosine",
                    "allclose",
                    "mismatches",
                    "elements",
                    "worst_index",
                    "detail",
                ],
            ),
            hide_index=True,
        )
        for d in comparison.outputs:
            if d.histogram_counts:
                st.plotly_chart(error_histogram(d), key=f"eh_{d.output}")
        expected_outputs.show(source, (ref, cand))
        fd_about = about("divergence", ref.label, cand.label)
        if st.button("Find the first diverging node", key="cmp_fd"):

            def find_divergence(job, ref=ref, cand=cand, feeds=stored.inputs, tol=(atol, rtol)):
                return first_divergence(
                    model, ref, cand, feeds, atol=tol[0], rtol=tol[1], cancel=job.cancel_event
                )

            runs.submit_task(source, model, "divergence", fd_about, find_divergence)
        task_panel(
            source,
            "divergence",
            fd_about,
            show_divergence,
            "Re-running both configurations with intermediate tensors marked",
        )
        abl_about = about("ablation", ref.label, cand.label)
        if st.button("Ablate optimizer passes of the candidate", key="cmp_abl"):

            def run_ablation(job, cand=cand, feeds=stored.inputs):
                def progress(i: int, n: int, label: str, phase: str) -> None:
                    job.current = f"{i + 1} of {n}: {label}"

                return ablation(
                    model, cand.config, feeds, progress=progress, cancel=job.cancel_event
                )

            runs.submit_task(source, model, "ablation", abl_about, run_ablation)
        task_panel(
            source,
            "ablation",
            abl_about,
            show_ablation,
            "Re-running the candidate with single passes disabled",
        )
    else:
        st.info("Both configurations must have run successfully to compare outputs.")

with tab_graph:
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
    if cand.ok and cand.kernels:
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
    graph = models.record("graph", source)
    main_ids = [n.id for n in graph.nodes if n.graph == "main"]
    mode = st.radio("Colour the graph by", ["EP", "time"], horizontal=True, key="cmp_mode")
    colors, node_labels = node_colors(cand, mode)
    per_part = model.limits.overlay_max_nodes
    pages = max(1, -(-len(main_ids) // per_part))
    part = main_ids
    if pages > 1:
        tree = models.record("scopes", source)
        if mode == "time" and cand.ok:
            _, trows = node_timing_table((cand,))
            per_node = {
                int(x.node_id.split(":")[1]): x.times_us[0]
                for x in trows
                if x.node_id.startswith("main:") and x.times_us[0] is not None
            }
            costly = scope_times(tree, per_node)[:15]
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
            chosen = st.selectbox(
                f"Scope (the {len(fits):,} largest of at most {per_part} nodes)",
                [f.path for f in fits],
                key="cmp_scope",
            )
            part = [f"main:{i}" for i in tree.nodes_of(chosen)] if chosen else []
        else:
            page = st.number_input(
                f"Part (of {pages}, {per_part} nodes each)", 1, pages, 1, key="cmp_part"
            )
            part = main_ids[(page - 1) * per_part : page * per_part]
    st.graphviz_chart(overlay_dot(graph, colors, node_labels, part))
    if mode == "EP":
        st.caption(
            "Fill: "
            + plain(
                ", ".join(sorted({a.ep.removesuffix("ExecutionProvider") for a in cand.assignment}))
            )
            + " (grey: no record)"
        )

with tab_dl:
    # Looked up now: the download callbacks run outside this session's script.
    done_analyses = runs.analyses(source, set(labels))
    shown_inputs = stored.inputs
    st.download_button(
        "Session bundle (.zip: these runs, their analyses, inputs, outputs, environment and the "
        "model; "
        "drop it into the app anywhere to re-open)",
        lambda: write_bundle(
            model,
            results,
            shown_inputs,
            include_model=True,
            model_bytes=source.data,
            analyses=done_analyses,
        ),
        f"{model.name.removesuffix('.onnx')}-session.zip",
        "application/zip",
        key="dl_bundle",
    )
    st.download_button(
        "Report (HTML: overview, verdict, diagnostics, these runs; opens offline)",
        lambda: html_report(  # built on click only
            model, results, analyses=done_analyses, session=models.finished_check(source)
        ),
        f"{model.name.removesuffix('.onnx')}-report.html",
        "text/html",
        key="dl_report",
    )
    st.download_button(
        "Inputs of these runs (.npz; reproduce with --input)",
        inputs_npz(stored.inputs),
        "inputs.npz",
        "application/octet-stream",
        key="dl_inputs",
    )
    st.download_button(
        "Results (JSON)",
        json.dumps(to_jsonable(results), indent=2, default=str),
        "results.json",
        "application/json",
        key="dl_json",
    )
    if node_timing_table(ok_results := tuple(r for r in results if r.ok))[1]:
        st.download_button(
            "Per-node timing (CSV)",
            node_timing_csv(ok_results),
            "node_timing.csv",
            "text/csv",
            key="dl_csv",
        )
    if cand.ok and cand.profile_trace():
        st.download_button(
            f"Profile of {plain(cand.label)} (Chrome/Perfetto trace)",
            cand.profile_trace(),
            "profile.json",
            "application/json",
            key="dl_trace",
        )
    if cand.ok and cand.optimized_model():
        st.download_button(
            f"Optimized graph of {plain(cand.label)} (.onnx, weights over 1 KB left out)",
            cand.optimized_model(),
            "optimized.onnx",
            "application/octet-stream",
            key="dl_opt",
        )
