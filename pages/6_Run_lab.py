"""Run lab: choose EPs × optimization levels × options and inputs; run in isolated workers.
The widgets fill a RunForm (pages/common/run_form.py); RunRequest checks and resolves it."""

from dataclasses import replace

import streamlit as st

from inspector import InspectorError
from inspector.run.config import Matrix
from inspector.run.demo import demo_ep
from inspector.run.eps import discover
from inspector.run.plan import ep_choices
from inspector.run.request import RunRequest
from pages.common import expected as expected_outputs
from pages.common import models, runs, state
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


def job_panel(source: state.Source) -> None:
    """The latest job of this model: progress, queue position, cancel; refreshes while it runs
    (a fragment: the rest of the page stays usable, and the job goes on if the user leaves)."""
    job = state.latest_job(source)
    if job is None:
        return

    def panel() -> None:
        job = state.latest_job(source)
        if job is None:
            return
        done, n = len(job.results), job.total
        if job.active:
            ahead = state.job_queue().position(job)
            text = f"{done} of {n} configurations"
            if job.state == "queued":
                text += f" — waiting for a free slot ({ahead} job(s) ahead)"
            elif job.current:
                text += f" — running {job.current}"
            st.progress(done / n, text=text)
            if st.button("Cancel this run", key=f"cancel_{job.id}"):
                state.job_queue().cancel(job.id)
            results_table(source)  # the configurations finished so far
            return
        failed = sum(1 for r in job.results if not r.ok)
        if job.state == "done":
            done_text = "Re-run here done" if job.base else "Done"
            (st.success if not failed else st.warning)(
                f"{done_text}: {done - failed} ok, {failed} failed"
            )
        elif job.state == "cancelled":
            st.warning(f"Cancelled after {done} of {n} configurations (workers stopped).")
        else:
            st.error(plain(f"The run failed: {job.error}"))
        results_table(source)
        if st.session_state.get("results_shown") != job.id:
            # A full run stops the ticking; asked again on every tick until one has happened
            # (with eight busy sessions a request was seen to be lost).
            st.rerun()

    shown = st.session_state.get("results_shown") == job.id
    st.fragment(run_every=1.0 if job.active or not shown else None)(panel)()


model, source = page_header("Run lab")
eps = discover()
choices = ep_choices(eps)
fallback_demo(demo_ep())
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

latest = state.latest_job(source)
bundled = latest if latest is not None and latest.origin else None
if latest is not None and latest.base is not None:
    bundled = latest.base
if bundled is not None:  # results from a session bundle: show where, offer to re-run them here
    st.info(plain(f"Runs {bundled.origin}."))
    if latest is bundled and st.button(
        "Re-run here",
        key="rerun_bundle",
        help="The bundle's configurations and exact inputs on this machine; the results are "
        "shown beside the bundled ones (labels start with 'here').",
    ):
        try:
            here = Matrix(
                tuple(
                    replace(c, label=f"here · {c.label}")
                    for c in (r.config for r in bundled.results)
                )
            )
            state.submit(source, model, here, dict(bundled.inputs), model.limits, base=bundled)
        except InspectorError as exc:  # e.g. a configuration over this server's limits
            st.error(plain(exc))
        latest = state.latest_job(source)
if latest is not None and not latest.active:
    st.session_state["results_shown"] = latest.id  # the panel stops ticking
job_panel(source)
