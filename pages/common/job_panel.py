"""The one panel for a queued job — a matrix or an analysis: where it stands (queue position,
progress, what runs now), a cancel button, how it ended, and what it made, drawn by the caller.

It is drawn in a fragment that ticks while the job is queued or running, so the rest of the
page stays usable and leaving the page loses nothing (the job runs in the server's queue). The
fragment ticks only if the job was active when the page drew it: once a tick sees the job
finished it asks for one full run, which draws the panel again without ``run_every``. That
instance never reruns anything, so the page settles: nothing depends on a session key set
after the panel (issue 24: the Run lab's panel kept re-rendering, and Compare's download
buttons stayed disabled).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from inspector.run.execute.jobs import Job
from inspector.run.readout.outcome import outcomes
from pages.common.server import job_queue, shared
from pages.common.text import plain

#: Seconds between a running job's refreshes.
TICK_S = 1.0


def job_panel(job: Job[Any] | None, doing: str, draw: Callable[[Job[Any]], None]) -> None:
    """Show ``job`` (none: nothing): ``doing`` while it runs; ``draw(job)`` draws what it made,
    so far while it runs, then once it has finished."""
    if job is None:
        return
    ticking = job.active

    def panel() -> None:
        if job.active:
            _progress(job, doing)
            label = "Cancel this run" if job.unit else "Cancel"
            if shared() is None and st.button(label, key=f"cancel_{job.id}"):
                job_queue().cancel(job.id)
            draw(job)
            return
        if ticking:  # it finished since this instance was drawn: a full run replaces it
            st.rerun()
        _outcome(job)
        draw(job)

    st.fragment(run_every=TICK_S if ticking else None)(panel)()


def job_banner(job: Job[Any] | None, doing: str) -> None:
    """A running job's progress at the top of a long page (the panel itself, with results and
    Cancel, sits below the form, off screen on a first look). Ticks while the job runs; the
    panel's full rerun at the end draws the page without it."""
    if job is None or not job.active:
        return

    def banner() -> None:
        if job.active:
            _progress(job, doing)
            st.caption("Cancel and results: below the form.")

    st.fragment(run_every=TICK_S)(banner)()


def drawing_value(draw: Callable[[Any], None]) -> Callable[[Job[Any]], None]:
    """A panel's ``draw`` for an analysis: ``draw(job.value)`` once it has one."""

    def draw_job(job: Job[Any]) -> None:
        if job.value is not None:
            draw(job.value)

    return draw_job


def _progress(job: Job[Any], doing: str) -> None:
    if job.state == "queued":
        wait = f"waiting for a free slot ({job_queue().position(job)} job(s) ahead)"
    else:
        spent = time.time() - (job.started or time.time())
        wait = f"running {job.current}" if job.unit else f"{spent:.0f} s"
    if not job.unit:
        now = f" — {job.current}" if job.current else ""
        st.info(plain(f"{doing} — {wait}" if job.state == "queued" else f"{doing} ({wait}){now}"))
        return
    text = f"{job.done} of {job.total} {job.unit}"
    if job.state == "queued" or job.current:
        text += f" — {wait}"
    st.progress(job.done / max(job.total, 1), text=plain(text))


def _outcome(job: Job[Any]) -> None:
    if job.origin and not job.unit:
        st.caption(plain(f"From the bundle: {job.origin}"))
    if job.state == "failed":
        st.error(plain(f"{'The run' if job.unit else 'It'} failed: {job.error}"))
    elif job.state == "cancelled":
        if job.unit:
            st.warning(f"Cancelled after {job.done} of {job.total} {job.unit} (workers stopped).")
        else:
            st.warning("Cancelled (its worker was stopped).")
    elif job.unit:
        ended = [o.kind for o in outcomes(job.results)]
        failed, refused = ended.count("failed"), ended.count("expected_refusal")
        said = "Re-run here done" if job.base else "Done"
        # A strict configuration refused as the fallback demo expects is not a failure.
        also = f", {refused} refused as expected (strict)" if refused else ""
        (st.success if not failed else st.warning)(
            f"{said}: {job.done - failed - refused} ok{also}, {failed} failed"
        )
