"""A panel for one analysis task (first divergence, ablation, a two-model run): its queue
position, what it is doing, a cancel button, then its result — drawn inside a fragment that
ticks while the task runs, so the rest of the page stays usable and leaving the page loses
nothing (the task runs in the server's job queue)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from pages.common import state
from pages.common.text import plain


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
