"""The Overview's "does it load" verdict: ONNX Runtime's load check runs in a worker queued like
every run (issue 22), so the page is drawn first and the verdict fills its slot at the end."""

from __future__ import annotations

from typing import Any

import streamlit as st

from inspector.model.compat import INCONCLUSIVE_CHECKS, CompatVerdict
from inspector.run.execute.jobs import Job
from inspector.run.execute.loadcheck import SessionCheck
from pages.common import models
from pages.common.models import Source
from pages.common.tasks import poll, wait_for
from pages.common.text import plain

#: Seconds the script waits for a load check that got a run slot before a polling fragment takes
#: over (one still queued is polled at once): a check takes well under a second, and the verdict
#: then comes with the page.
CHECK_GRACE_S = 10.0
CHECKING = "Checking that onnxruntime creates a session for it"


def settle(source: Source, slot: Any) -> SessionCheck | Job:
    """The load check of ``source``: finished, or its job — waited for a little while it runs
    (its status shown in ``slot``, an ``st.empty``)."""
    check = models.load_check(source)
    if (
        isinstance(check, Job)
        and check.state == "running"  # it had a free slot
        and wait_for(check, slot, CHECKING, CHECK_GRACE_S)
    ):
        check = models.load_check(source)
    return check


def show_check(check: SessionCheck | Job, compat: CompatVerdict) -> None:
    """Does the installed onnxruntime load it: ONNX Runtime's own verdict (``compat`` holds it
    once the check finished), or where its check stands in the run queue."""
    if isinstance(check, Job):
        if check.active:
            poll(check, CHECKING)
        else:
            st.error(plain(f"The load check did not finish: {check.error or check.state}"))
        return
    version = check.ort_version or compat.installed_ort
    if check.ok:
        st.success(
            f"onnxruntime {plain(version)} created a session for it (CPU EP, optimizations on) in "
            f"{(check.seconds or 0) * 1000:.0f} ms: it loads this model."
        )
    elif check.kind in INCONCLUSIVE_CHECKS:
        st.warning(plain(f"ONNX Runtime's load check did not finish: {check.message}"))
    else:
        st.error(
            f"onnxruntime {plain(version)} does not load this model: it could not create a "
            f"session: {plain(check.message)}"
        )
    if check.fix:
        st.text("Fix: " + check.fix)
    if compat.load_evidence != "session" and compat.installed_loads == "no":
        st.error(
            plain(
                f"onnxruntime {compat.installed_ort} does not load this model: "
                + "; ".join(compat.installed_load_reasons)
            )
        )
