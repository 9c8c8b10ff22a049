"""Compare's Downloads tab: the session bundle, the HTML report, the runs' inputs, results and
per-node timing, and the candidate's profile and optimized graph."""

from __future__ import annotations

import json

import streamlit as st

from inspector import LoadedModel
from inspector.bundle import write_bundle
from inspector.records import to_jsonable
from inspector.report import html_report
from inspector.run.analyses.compare import node_timing_csv, node_timing_table
from inspector.run.readout.results import RunResult
from inspector.run.setup.inputs import inputs_npz
from inspector.run.setup.plan import StoredRuns
from pages.common import models, runs
from pages.common.models import Source
from pages.common.server import shared
from pages.common.text import plain


def show(model: LoadedModel, source: Source, stored: StoredRuns, cand: RunResult) -> None:
    """Every download is ``on_click="ignore"``: a click that also re-ran the page raced its
    own file. The bundle and the report are made on click (a deferred file), and Streamlit
    drops the file's answer when it lands in the outgoing queue just as a full run starts
    (the queue is cleared, keeping lifecycle messages only): the button then stayed disabled
    for good — issue 24's Compare download that never came."""
    results = stored.results
    # Looked up now: the download callbacks run outside this session's script.
    done_analyses = runs.analyses(source, {r.label for r in results})
    shown_inputs = stored.inputs
    link = shared()
    with_model = link is None or link.with_model  # a read-only link may leave the model out
    st.download_button(
        "Session bundle (.zip: these runs, their analyses, inputs, outputs, environment"
        + (
            " and the model; "
            if with_model
            else "; without the model, which this link does not share; "
        )
        + "drop it into the app anywhere to re-open)",
        lambda: write_bundle(
            model,
            results,
            shown_inputs,
            include_model=with_model,
            model_bytes=source.data,
            analyses=done_analyses,
        ),
        f"{model.name.removesuffix('.onnx')}-session.zip",
        "application/zip",
        key="dl_bundle",
        on_click="ignore",
    )
    st.download_button(
        "Report (HTML: overview, verdict, diagnostics, these runs; opens offline)",
        lambda: html_report(  # built on click only; cost at the runs' own input sizes
            model,
            results,
            analyses=done_analyses,
            session=models.finished_check(source),
            inputs=shown_inputs,
        ),
        f"{model.name.removesuffix('.onnx')}-report.html",
        "text/html",
        key="dl_report",
        on_click="ignore",
    )
    st.download_button(
        "Inputs of these runs (.npz; reproduce with --input)",
        inputs_npz(stored.inputs),
        "inputs.npz",
        "application/octet-stream",
        key="dl_inputs",
        on_click="ignore",
    )
    st.download_button(
        "Results (JSON)",
        json.dumps(to_jsonable(results), indent=2, default=str),
        "results.json",
        "application/json",
        key="dl_json",
        on_click="ignore",
    )
    if node_timing_table(ok_results := tuple(r for r in results if r.ok))[1]:
        st.download_button(
            "Per-node timing (CSV)",
            node_timing_csv(ok_results),
            "node_timing.csv",
            "text/csv",
            key="dl_csv",
            on_click="ignore",
        )
    if cand.ok and cand.profile_trace():
        st.download_button(
            f"Profile of {plain(cand.label)} (Chrome/Perfetto trace)",
            cand.profile_trace(),
            "profile.json",
            "application/json",
            key="dl_trace",
            on_click="ignore",
        )
    if with_model and cand.ok and cand.optimized_model():
        st.download_button(
            f"Optimized graph of {plain(cand.label)} (.onnx, weights over 1 KB left out)",
            cand.optimized_model(),
            "optimized.onnx",
            "application/octet-stream",
            key="dl_opt",
            on_click="ignore",
        )
