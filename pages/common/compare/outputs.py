"""Compare's Outputs tab: the candidate's outputs against the reference's, then two analyses
run as tasks in the job queue — the first diverging node, and the candidate's optimizer passes
disabled one at a time."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import streamlit as st

from inspector import LoadedModel
from inspector.bundle import about
from inspector.charts import error_histogram
from inspector.records import rows_frame
from inspector.run.analyses.analysis import AblationRow, Divergence, ablation, first_divergence
from inspector.run.analyses.compare import compare
from inspector.run.readout.results import RunResult
from inspector.run.readout.sanity import warnings_of
from pages.common import expected as expected_outputs
from pages.common import runs
from pages.common.job_panel import drawing_value, job_panel
from pages.common.models import Source
from pages.common.server import shared
from pages.common.text import plain


def show(
    model: LoadedModel,
    source: Source,
    feeds: Mapping[str, np.ndarray],
    ref: RunResult,
    cand: RunResult,
    atol: float,
    rtol: float,
) -> None:
    """The whole tab: ``feeds`` are the inputs both ran on; the tolerances judge outputs."""
    for r in (ref, cand):  # deltas between garbage outputs are noise (issue 23)
        for warning in warnings_of(r.notes):
            st.warning(plain(f"{r.label}: {warning}"))
    if not (ref.ok and cand.ok):
        st.info("Both configurations must have run successfully to compare outputs.")
        return
    show_deltas(ref, cand, atol, rtol)
    expected_outputs.show(source, (ref, cand))
    divergence_section(model, source, feeds, ref, cand, atol, rtol)
    ablation_section(model, source, feeds, ref, cand)


def show_deltas(ref: RunResult, cand: RunResult, atol: float, rtol: float) -> None:
    comparison = compare(ref, cand, atol, rtol)
    st.dataframe(
        rows_frame(
            comparison.outputs,
            [
                "output",
                "status",
                "shape",
                "max_abs",
                "mean_abs",
                "p99_abs",
                "max_rel",
                "cosine",
                "allclose",
                "mismatches",
                "elements",
                "worst_index",
                "detail",
            ],
        ),
        hide_index=True,
    )
    for d in comparison.outputs:
        if d.histogram_counts:
            st.plotly_chart(error_histogram(d), key=f"eh_{d.output}")


def divergence_section(
    model: LoadedModel,
    source: Source,
    feeds: Mapping[str, np.ndarray],
    ref: RunResult,
    cand: RunResult,
    atol: float,
    rtol: float,
) -> None:
    """A button that queues the first-divergence search, and its task's panel."""
    fd_about = about("divergence", ref.label, cand.label)
    if shared() is None and st.button("Find the first diverging node", key="cmp_fd"):

        def find_divergence(job, ref=ref, cand=cand, feeds=feeds, tol=(atol, rtol)):
            return first_divergence(
                model, ref, cand, feeds, atol=tol[0], rtol=tol[1], cancel=job.cancel_event
            )

        runs.submit_task(source, "divergence", fd_about, find_divergence)
    job_panel(
        runs.task(source, "divergence", fd_about),
        "Re-running both configurations with intermediate tensors marked",
        drawing_value(lambda fd: show_divergence(fd, (atol, rtol))),
    )


def ablation_section(
    model: LoadedModel,
    source: Source,
    feeds: Mapping[str, np.ndarray],
    ref: RunResult,
    cand: RunResult,
) -> None:
    """A button that queues the ablation of the candidate's optimizer passes, and its panel."""
    abl_about = about("ablation", ref.label, cand.label)
    if shared() is None and st.button("Ablate optimizer passes of the candidate", key="cmp_abl"):

        def run_ablation(job, cand=cand, feeds=feeds):
            def progress(i: int, n: int, label: str, phase: str) -> None:
                job.current = f"{i + 1} of {n}: {label}"

            return ablation(model, cand.config, feeds, progress=progress, cancel=job.cancel_event)

        runs.submit_task(source, "ablation", abl_about, run_ablation)
    job_panel(
        runs.task(source, "ablation", abl_about),
        "Re-running the candidate with single passes disabled",
        drawing_value(show_ablation),
    )


def show_divergence(fd: Divergence, now: tuple[float, float] | None = None) -> None:
    """The search's answer, at the tolerances it searched with; ``now``: the page's, which
    the answer does not follow (a note says so when they differ)."""
    if fd.atol is not None and fd.rtol is not None:
        used = f"searched at atol {fd.atol:.1e}, rtol {fd.rtol:.1e}"
        if now is not None and now != (fd.atol, fd.rtol):
            used += " — not the tolerances above: search again to use them"
        st.caption(plain(used))
    if fd.found:
        st.error(
            plain(
                f"First divergence: {fd.node_id} ({fd.op_type}) output {fd.tensor!r}, "
                f"max |Δ| {fd.error.max_abs:.3g}; chain to the output: " + " → ".join(fd.chain)
                if fd.error and fd.error.max_abs is not None
                else f"First divergence: {fd.node_id} ({fd.op_type}) output {fd.tensor!r}"
            )
        )
    elif fd.detail.startswith("no intermediate tensor"):  # the search ran to its end
        st.success(plain(f"{fd.detail[0].upper()}{fd.detail[1:]} ({fd.checked_tensors} compared)."))
    else:  # cancelled, or a marked run failed: nothing is known past what was compared
        st.warning(plain(f"No answer: {fd.detail} ({fd.checked_tensors} compared)."))
    for s in fd.skipped:
        st.text(f"note: {s}")


def show_ablation(rows: tuple[AblationRow, ...]) -> None:
    st.dataframe(
        [
            {
                "disabled": r.disabled or "(baseline)",
                "status": r.status,
                "median ms": round(r.median_ms, 3) if r.median_ms is not None else None,
                "time ratio": f"{r.time_ratio:.3f}" if r.time_ratio is not None else None,
                # the ratio's 95 % interval, as the CLI prints it (not 16-digit floats)
                "95 % interval": f"[{r.ratio_ci[0]:.3f}, {r.ratio_ci[1]:.3f}]"
                if r.ratio_ci
                else None,
                "within noise": r.within_noise,
                "max |Δ| vs baseline": f"{r.max_abs_vs_baseline:.3g}"
                if r.max_abs_vs_baseline is not None
                else None,
                "graph changed": r.graph_changed,
                "note": r.note,
            }
            for r in rows
        ],
        hide_index=True,
    )
