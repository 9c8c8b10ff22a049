"""Small pieces pages use to wait for a queued job: its status line, a bounded wait in the
script, a polling fragment. A job's full panel (progress, cancel, results) is
:func:`pages.common.job_panel.job_panel`."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from inspector.run.execute.jobs import Job
from pages.common.server import job_queue
from pages.common.text import plain


def status_text(job: Job, doing: str) -> str:
    """``doing``, and where the job stands: waiting for a slot (how many ahead) or running —
    as escaped text (``doing`` may name configurations from a bundle)."""
    if job.state == "queued":
        ahead = job_queue().position(job)
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
        job_queue().wait(job, 0.5)
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
