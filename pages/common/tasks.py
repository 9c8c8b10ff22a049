"""A panel for one analysis task (first divergence, ablation, a two-model run): its queue
position, what it is doing, a cancel button, then its result — drawn inside a fragment that
ticks while the task runs, so the rest of the page stays usable and leaving the page loses
nothing (the task runs in the server's job queue). Also the small pieces other pages use to
wait for a queued job: its status line, a bounded wait in the script, a polling fragment."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from inspector.run.jobs import Job
from pages.common import state
from pages.common.text import plain


def status_text(job: Job, doing: str) -> str:
    """``doing``, and where the job stands: waiting for a slot (how many ahead) or running —
    as escaped text (``doing`` may name configurations from a bundle)."""
    if job.state == "queued":
        ahead = state.job_queue().position(job)
        return plain(f"{doing} — waiting for a free slot ({ahead} job(s) ahead)")
    spent = time.time() - (job.started or time.time())
    return plain(f"{doing}… ({spent:.0f} s)")


def wait_for(job: Job, slot: Any, doing: str, seconds: float | None = None) -> bool:
    """Wait in the script for ``job`` (at most ``seconds``), its status shown in ``slot`` (an
    ``st.empty``). Each update lets a rerun or a page switch stop the wait; the job goes on in
    the queue either way. True when the job has finished."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while job.active:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        slot.info(status_text(job, doing))
        state.job_queue().wait(job, 0.5)
    slot.empty()
    return True


def poll(job: Job, doing: str) -> None:
    """While ``job`` is queued or running: its status, refreshed every second in a fragment
    (the rest of the page stays usable); once it has finished, one full rerun draws what it
    made (asked on every tick until it has happened)."""

    def panel() -> None:
        if not job.active:
            st.rerun()
        st.info(status_text(job, doing))

    st.fragment(run_every=1.0)(panel)()


def task_panel(
    source: state.Source,
    kind: str,
    about: str,
    draw: Callable[[Any], None],
    running_text: str,
) -> None:
    """Show the latest ``kind`` task about ``about``; ``draw(value)`` draws a finished one."""
    job = state.task(source, kind, about)
    if job is None:
        return
    shown_key = f"task_shown_{kind}_{about}"

    def panel() -> None:
        job = state.task(source, kind, about)
        if job is None:
            return
        if job.active:
            if job.state == "queued":
                ahead = state.job_queue().position(job)
                st.info(f"{running_text} — waiting for a free slot ({ahead} job(s) ahead)")
            else:
                spent = time.time() - (job.started or time.time())
                doing = f" — {plain(job.current)}" if job.current and job.current != kind else ""
                st.info(f"{running_text} ({spent:.0f} s){doing}")
            if st.button("Cancel", key=f"cancel_{job.id}"):
                state.job_queue().cancel(job.id)
            return
        if job.origin:
            st.caption(plain(f"From the bundle: {job.origin}"))
        if job.state == "failed":
            st.error(plain(f"It failed: {job.error}"))
        elif job.state == "cancelled":
            st.warning("Cancelled (its worker was stopped).")
        if job.value is not None:
            draw(job.value)
        if st.session_state.get(shown_key) != job.id:
            # A full run stops the ticking; asked on every tick until one has happened.
            st.rerun()

    if not job.active:
        st.session_state[shown_key] = job.id
    st.fragment(run_every=1.0 if job.active else None)(panel)()
