"""The "Expected outputs" section of the Run lab and Compare: when the uploaded inputs were an
onnx test-data folder (``input_<i>.pb`` + ``output_<i>.pb``), each run's outputs against the
folder's expected outputs. The records come from
``inspector.run.analyses.compare.check_expected``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from inspector.records import rows_frame
from inspector.run.analyses.compare import check_expected
from inspector.run.execute.jobs import Job
from inspector.run.readout.results import RunResult
from pages.common import models, runs

_KEY = "expected_outputs"  # job id → expected outputs by name


def remember(job: Job, expected: Mapping[str, Any] | None) -> None:
    """Keep the expected outputs of the files a job's inputs came from (none: forget)."""
    held = st.session_state.setdefault(_KEY, {})
    if expected:
        held[job.id] = dict(expected)
    else:
        held.pop(job.id, None)


def show(source: models.Source, results: Sequence[RunResult]) -> None:
    """The section for ``results`` of this model's latest job, if its inputs had any."""
    job = runs.latest_job(source)
    expected = st.session_state.get(_KEY, {}).get(job.id) if job is not None else None
    if not expected:
        return
    checks = [check_expected(r, expected) for r in results if r.ok]
    if not checks:
        return
    st.markdown("**Expected outputs** (the uploaded output_*i*.pb)")
    st.caption(
        f"rtol {checks[0].rtol:g}, atol {checks[0].atol:g} as onnx's backend tests use them "
        "(bfloat16: two ULPs)."
    )
    st.dataframe(
        rows_frame(
            [o for c in checks for o in c.outputs],
            [
                "output",
                "status",
                "max_abs",
                "cosine",
                "allclose",
                "mismatches",
                "elements",
                "detail",
            ],
        ).assign(configuration=[c.candidate for c in checks for _ in c.outputs]),
        hide_index=True,
    )
