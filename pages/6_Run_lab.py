"""Run lab: choose EPs × optimization levels × options and inputs; run in isolated workers.
The widgets fill a RunForm (pages/common/run_form.py); RunRequest checks and resolves it."""

from dataclasses import replace

import streamlit as st

from inspector import InspectorError
from inspector.run.setup.config import Matrix
from inspector.run.setup.demo import demo_ep
from inspector.run.setup.eps import discover
from inspector.run.setup.plan import ep_choices
from inspector.run.setup.request import RunRequest
from pages.common import ep_check, models, runs
from pages.common import expected as expected_outputs
from pages.common.job_panel import job_banner, job_panel
from pages.common.persist import interrupted_matrix
from pages.common.picker import page_header
from pages.common.run_form import (
    ep_table,
    fallback_demo,
    queued_prober,
    run_form,
    save_form,
    show_probe,
)
from pages.common.run_results import results_table
from pages.common.text import plain

model, source = page_header("Run lab")
job_banner(runs.latest_job(source), "Running the matrix")
eps = discover()
choices = ep_choices(eps)
fallback_demo(demo_ep())
ep_check.real_demo(eps)
ep_check.show(source, model, eps)
ep_table(eps, usable=len(choices) > 1)
missing = [e.name for e in eps if not e.usable and e.source == "not installed"]
form, files = run_form(model, source, choices, missing)

if st.button(
    "Run the matrix", type="primary", key="rl_go", disabled=not form.eps or not form.levels
):
    save_form(source, form)
    overview = models.record("overview", source)
    try:
        run = RunRequest.from_form(form, choices, files).resolve(
            model,
            graph=(overview.inputs, overview.outputs),
            prober=queued_prober(source, model),
            on_probe=show_probe,
        )
        job = runs.submit(source, model, run.matrix, run.inputs, run.limits)
        expected_outputs.remember(job, run.expected)
    except InspectorError as exc:
        st.error(plain(exc))
        st.stop()

latest = runs.latest_job(source)
bundled = latest.base if latest is not None and latest.base is not None else None
if latest is not None and latest.origin:
    bundled = latest
if bundled is not None:  # results from a session bundle: show where, offer to re-run them here
    st.info(plain(f"Runs {bundled.origin}."))
    if latest is bundled and st.button(
        "Re-run here",
        key="rerun_bundle",
        help="The bundle's configurations and exact inputs on this machine; the results are "
        "shown beside the bundled ones (labels start with 'here').",
    ):
        here = Matrix(tuple(replace(r.config, label=f"here · {r.label}") for r in bundled.results))
        try:
            runs.submit(source, model, here, dict(bundled.inputs), model.limits, base=bundled)
        except InspectorError as exc:  # e.g. a configuration over this server's limits
            st.error(plain(exc))
        latest = runs.latest_job(source)
again = interrupted_matrix(latest)
if latest is not None and again is not None and st.button("Run it again", key="rl_again"):
    try:
        runs.submit(source, model, again, dict(latest.inputs), model.limits)
    except InspectorError as exc:  # e.g. over limits this server has now
        st.error(plain(exc))
    latest = runs.latest_job(source)
job_panel(latest, "Running the matrix", lambda job: results_table(source))
