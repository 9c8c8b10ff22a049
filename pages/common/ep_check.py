"""The Run lab's "Which EPs take this model?": each usable second EP's session created and not
run (:mod:`inspector.run.execute.epcheck`), its nodes per EP drawn and its reasons listed — for
the open model, in seconds, before anyone waits for a matrix."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from inspector import InspectorError
from inspector.charts import ep_assignment
from inspector.model.load import LoadedModel
from inspector.run.execute.epcheck import EP_CHECK, check_eps
from inspector.run.execute.jobs import Job
from inspector.run.readout.results import RunResult
from inspector.run.setup.demo import demo_matrix
from inspector.run.setup.eps import EpInfo
from inspector.run.setup.request import RunForm, RunRequest
from pages.common import models, runs, tasks
from pages.common.compare.eps import show_reasons
from pages.common.models import Source
from pages.common.run_form import run_demo
from pages.common.text import plain


def show(source: Source, model: LoadedModel, eps: Sequence[EpInfo]) -> None:
    second = [e.name for e in eps if e.usable and e.name != "CPUExecutionProvider"]
    if not second:  # the fallback demo above already says no second EP is usable here
        return
    job = runs.task(source, EP_CHECK, source.key)
    button, text = st.columns([1, 3])
    text.caption(
        "Creates one session per usable second EP ("
        + plain(", ".join(e.removesuffix("ExecutionProvider") for e in second))
        + ", each with CPU for the rest, all optimizations) without running the model: the "
        "nodes each EP takes and, where it takes few or none, its own reason."
    )
    busy = job is not None and job.active
    if button.button("Which EPs take this model?", key="rl_epcheck", disabled=busy):

        def work(job: Job[tuple[RunResult, ...]]) -> tuple[RunResult, ...]:
            return check_eps(model, second, model.limits, cancel=job.cancel_event)

        job = runs.submit_task(source, EP_CHECK, source.key, work)
    if job is None:
        return
    if job.active:
        tasks.poll(job, "Creating a session per EP")
        return
    if job.state != "done" or not job.value:
        st.error(plain(f"The EP check did not finish: {job.error or job.state}."))
        return
    results = job.value
    st.plotly_chart(ep_assignment(results), key="rl_epcheck_bars")
    for r in results:
        if not r.ok:
            st.warning(plain(r.error))
            continue
        for e in r.ep_reports:
            st.text(e.why or f"{e.ep}: took {e.took} of {e.total} nodes")
            if 0 < e.took < e.total:  # part of it: the fallback demo, on this model
                _demo(source, model, e.ep)
    with st.expander("Per op type, and the log lines"):
        show_reasons(results)


def _demo(source: Source, model: LoadedModel, ep: str) -> None:
    """The fallback demo's matrix (``ep`` → CPU against CPU, two levels, strict copies) on the
    open model with the Run lab's default inputs, then Compare's EP assignment tab."""
    short = ep.removesuffix("ExecutionProvider")
    if not st.button(f"Fallback demo on this model ({plain(short)})", key=f"rl_epdemo_{ep}"):
        return
    overview = models.record("overview", source)
    try:
        run = RunRequest.from_form(RunForm(eps=("CPU",)), {"CPU": "cpu"}).resolve(
            model, graph=(overview.inputs, overview.outputs)
        )
        wait_s = model.limits.run_timeout_s * len(demo_matrix(ep).configs)
        run_demo(source, model, ep, dict(run.inputs), wait_s)
    except InspectorError as exc:
        st.error(plain(exc))
