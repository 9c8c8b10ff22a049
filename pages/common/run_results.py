"""The Run lab's "Last results": the latest job's :class:`~inspector.run.readout.summary.RunSummary`
as a table, its errors and output warnings, and the expected-output checks."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from inspector.run.readout.results import Memory, RunResult
from inspector.run.readout.summary import RunSummary
from inspector.run.readout.timing import NOISE_RULE
from pages.common import expected as expected_outputs
from pages.common import models, runs
from pages.common.compare import outcomes
from pages.common.text import plain


def results_table(source: models.Source) -> None:
    """The latest job's results (drawn by the job panel, so they appear the moment it ends)."""
    stored = runs.runs(source)
    if not stored:
        return
    st.subheader("Last results")
    summary = RunSummary.of(stored.results, stored.matrix.reference)
    memory = {r.label: r.memory for r in stored.results}
    st.dataframe(
        [
            {
                # What the EPs took and why first: on a real model the table is wider than the
                # page, and these were the columns scrolled out of sight.
                "configuration": r.label,
                "status": r.status,
                "median ms": round(r.median_ms, 3) if r.median_ms is not None else None,
                "peak MiB": _mib(memory.get(r.label)),
                "vs reference": r.versus,
                "nodes per EP": r.eps_text,
                "fell back": r.fallback_nodes,
                "notes / error": r.remarks,
                # How sure the median is: its 95 % interval, and why timing stopped.
                "± (95 % interval)": r.spread or None,
                "timing": r.stop or None,
                "CV": f"{100 * r.cv:.1f} %" if r.cv is not None else None,
                "p90 ms": round(r.p90_ms, 3) if r.p90_ms is not None else None,
                **({"where": r.machine} if r.placed else {}),
            }
            for r in summary.rows
        ],
        hide_index=True,
    )
    outcomes.show(stored.results)  # failures as errors, expected strict refusals as a note
    for r in summary.rows:
        for warning in r.output_warnings:  # NaN/Inf or absurd outputs: deltas are noise
            st.warning(plain(f"{r.label}: {warning}"))
    ep_logs(stored.results)
    expected_outputs.show(source, stored.results)
    st.caption(
        "Timing stops once the median's 95 % interval is within the target or the time budget "
        "is spent. 'within noise': " + plain(NOISE_RULE) + "."
    )
    st.page_link("pages/7_Compare.py", label="Compare these runs →")


def ep_logs(results: Sequence[RunResult]) -> None:
    """Per configuration that asked for an EP besides CPU: what each took and why, and the lines
    ONNX Runtime and the EP logged while the session was set up (``run --json``: ep_reports,
    ep_log)."""
    for r in results:
        if not (r.ep_reports or r.ep_log):
            continue
        with st.expander(f"Why the EPs took what they took · {plain(r.label)}"):
            for e in r.ep_reports:
                st.text(e.why or f"{e.ep}: took {e.took} of {e.total} nodes")
            st.code("\n".join(r.ep_log) or "(nothing logged)", language=None, wrap_lines=True)


def _mib(memory: Memory | None) -> float | None:
    """The worker's resident high-water mark (session and runs), in MiB."""
    peak = memory.peak_bytes if memory is not None else None
    return round(peak / 2**20, 1) if peak is not None else None
