"""The Run lab's "Which EPs take this model?": each usable second EP's session created and not
run (:mod:`inspector.run.execute.epcheck`), its nodes per EP drawn and its reasons listed — for
the open model, in seconds, before anyone waits for a matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from inspector import InspectorError
from inspector.charts import ep_assignment
from inspector.model.load import LoadedModel
from inspector.model.packaged import FALLBACK_DEMO, by_id, locate
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

#: Session key: the model whose EP check was started by the real-model demo's one click — when
#: that check finds an EP taking part of it, the fallback demo starts without a second click.
_AUTO = "ep_check_auto_demo"


def real_demo(eps: Sequence[EpInfo]) -> None:
    """One click beside the sample's demo: open the real export the demo uses (a pinned wheel
    the app installs), check which EPs take it and, where one takes part of it, run the
    fallback demo on it; where none does, the check shows each EP's reason."""
    second = _second(eps)
    if not second:  # the sample's demo above already says no second EP is usable
        return
    found = locate(by_id(FALLBACK_DEMO))
    button, text = st.columns([1, 3])
    if not found.path:
        text.info(plain(f"The real-model fallback demo is not installed here: {found.reason}."))
        return
    text.caption(
        f"One click: open {plain(Path(found.model.member).name)}, a real export from the "
        f"pinned wheel {plain(found.model.dist)} {plain(found.model.version)} "
        f"({plain(found.model.title)}), see which EPs take it and — where one takes part of "
        "it — run the fallback demo on it; where none does, each EP's reason."
    )
    if not button.button("Fallback demo on a real model", key="rl_realdemo"):
        return
    try:
        source = models.packaged_source(FALLBACK_DEMO)
        models.add(source)
        _submit(source, models.load(source), second)
    except InspectorError as exc:  # its file changed, or a read-only link
        st.error(plain(exc))
        return
    st.session_state[_AUTO] = source.key
    st.rerun()


def _second(eps: Sequence[EpInfo]) -> list[str]:
    return [e.name for e in eps if e.usable and e.name != "CPUExecutionProvider"]


def _submit(source: Source, model: LoadedModel, second: list[str]) -> Job:
    def work(job: Job[tuple[RunResult, ...]]) -> tuple[RunResult, ...]:
        return check_eps(model, second, model.limits, cancel=job.cancel_event)

    return runs.submit_task(source, EP_CHECK, source.key, work)


def show(source: Source, model: LoadedModel, eps: Sequence[EpInfo]) -> None:
    if st.session_state.get(_AUTO) not in (None, source.key):  # the user moved on: no demo
        del st.session_state[_AUTO]  # starts later, unasked, when they come back
    second = _second(eps)
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
        job = _submit(source, model, second)
    if job is None:
        return
    if job.active:
        tasks.poll(job, "Creating a session per EP")
        return
    auto = st.session_state.get(_AUTO) == source.key  # this check was the demo's click
    if auto:
        del st.session_state[_AUTO]
    if job.state != "done" or not job.value:
        st.error(plain(f"The EP check did not finish: {job.error or job.state}."))
        return
    results = job.value
    st.plotly_chart(ep_assignment(results), key="rl_epcheck_bars")
    partial, whole = [], []
    for r in results:
        if not r.ok:
            st.warning(plain(r.error))
            continue
        for e in r.ep_reports:
            st.text(e.why or f"{e.ep}: took {e.took} of {e.total} nodes")
            if 0 < e.took < e.total:  # part of it: the fallback demo, on this model
                partial.append(e.ep)
                if not auto:
                    _demo(source, model, e.ep)
            elif e.took == e.total > 0:
                whole.append(e.ep.removesuffix("ExecutionProvider"))
    for e in eps:  # installed here but not usable: its reason belongs beside the others
        if e.source == "plugin" and not e.usable:
            st.text(f"{e.name.removesuffix('ExecutionProvider')}: not usable here — {e.reason}")
    with st.expander("Per op type, and the log lines"):
        show_reasons(results)
    if auto and partial:  # the real-model demo's one click: run the demo on the first such EP
        _start_demo(source, model, partial[0])
    elif auto and whole:
        st.info(
            plain(", ".join(whole)) + " took every node of this model: nothing falls back, so "
            "there is no fallback to show on it. The fallback demo on the sample (above) shows "
            "a node falling back here."
        )
    elif auto:
        st.info(
            "No EP usable on this server takes part of this model: each one's reason is above. "
            "The fallback demo on the sample (above) shows a node falling back here."
        )


def _demo(source: Source, model: LoadedModel, ep: str) -> None:
    """The fallback demo's matrix (``ep`` → CPU against CPU, two levels, strict copies) on the
    open model with the Run lab's default inputs, then Compare's EP assignment tab."""
    short = ep.removesuffix("ExecutionProvider")
    if st.button(f"Fallback demo on this model ({plain(short)})", key=f"rl_epdemo_{ep}"):
        _start_demo(source, model, ep)


def _start_demo(source: Source, model: LoadedModel, ep: str) -> None:
    overview = models.record("overview", source)
    try:
        run = RunRequest.from_form(RunForm(eps=("CPU",)), {"CPU": "cpu"}).resolve(
            model, graph=(overview.inputs, overview.outputs)
        )
        wait_s = model.limits.run_timeout_s * len(demo_matrix(ep).configs)
        run_demo(source, model, ep, dict(run.inputs), wait_s)
    except InspectorError as exc:
        st.error(plain(exc))
