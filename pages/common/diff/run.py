"""Model diff's Run both tab: A and B run on the same generated inputs under one configuration
(a task in the job queue), then their outputs, the first matched tensor that differs, and the
matched nodes' times."""

from __future__ import annotations

import streamlit as st

from inspector import InspectorError, LoadedModel
from inspector.model.diff import ModelDiff
from inspector.records import rows_frame
from inspector.run.analyses.diff import BehaviourDiff, behaviour_diff
from inspector.run.setup.config import RunConfig
from inspector.run.setup.inputs import default_inputs
from pages.common import models, runs
from pages.common.job_panel import drawing_value, job_panel
from pages.common.models import Source
from pages.common.text import plain


def section(
    model: LoadedModel,
    source: Source,
    b_model: LoadedModel,
    b_source: Source,
    diff: ModelDiff,
    config: RunConfig,
) -> None:
    """A button that queues the run of both under ``config``, and its task's panel."""
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

            runs.submit_task(source, "model_diff_run", run_about, run_both)
        except InspectorError as exc:
            st.error(plain(exc))
    job_panel(
        runs.task(source, "model_diff_run", run_about),
        "Running both models",
        drawing_value(show_run),
    )


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
