"""This owner's runs of a model: jobs in the server's queue (they outlive the page), their
results, the analyses made of them, and session bundles opened as finished runs."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from inspector import InspectorError, LoadedModel
from inspector.bundle import ANALYSES, Analysis
from inspector.limits import Limits
from inspector.run.execute.jobs import MATRIX, Job, MatrixRun, Work
from inspector.run.setup.config import Matrix
from inspector.run.setup.plan import StoredRuns
from pages.common.models import Source, add, load, make_source, models, session_bytes
from pages.common.server import LIMITS, job_queue, owner, shared


def submit(
    source: Source,
    model: LoadedModel,
    matrix: Matrix,
    inputs: dict,
    limits: Limits,
    base: Job | None = None,
) -> Job:
    """Queue a matrix for ``source``; it runs outside this script and survives navigation.
    ``base``: a bundled job whose results are shown beside this one's (a re-run here)."""
    read_only()
    work = MatrixRun(model, matrix, inputs, limits)
    return job_queue().submit(owner(), source.key, work, context=source, base=base)


def submit_task(source: Source, kind: str, about: str, task: Work[Any]) -> Job[Any]:
    """Queue an analysis of this model's runs (first divergence, ablation, a two-model run):
    it runs outside this script like a matrix, so leaving the page does not lose it."""
    read_only()
    return job_queue().submit(owner(), source.key, task, kind=kind, about=about, context=source)


def read_only() -> None:
    """Refuse to queue anything for the viewer of a read-only share link (whatever the page
    shows them: this is the server's check, not the hidden button's)."""
    if shared() is not None:
        raise InspectorError("this is a read-only link: nothing can be run from it")


def task(source: Source, kind: str, about: str) -> Job | None:
    """The latest ``kind`` task about ``about`` for this model (running or finished); an
    analysis only of the runs shown (:func:`_of_shown_runs`)."""
    jobs = [j for j in _of_shown_runs(source, kind) if j.about == about]
    return jobs[-1] if jobs else None


def _of_shown_runs(source: Source, kind: str) -> list[Job]:
    """This model's ``kind`` jobs; for an analysis of runs (first divergence, ablation), those
    queued since its latest matrix: labels leave out dims, ranges and EP options, so a new
    matrix under the same labels once showed — and bundled — the old runs' analyses."""
    jobs = job_queue().jobs(owner(), source.key, kind)
    if kind not in ANALYSES:
        return jobs
    latest = latest_job(source)
    if latest is None:
        return jobs
    # A re-run of a bundle shows the bundle's runs beside its own: their analyses stay.
    since = (latest.base or latest).submitted
    return [j for j in jobs if j.submitted >= since]


def analyses(source: Source, labels: set[str]) -> list[Analysis]:
    """Finished analyses of this model whose configurations are all among ``labels`` (the
    runs shown), the latest per subject: what a session bundle carries beside the runs."""
    latest: dict[tuple[str, str], Analysis] = {}
    for kind in ANALYSES:
        for job in _of_shown_runs(source, kind):
            named = set(job.about.split(" → ")) if kind == "divergence" else {job.about}
            if job.state == "done" and job.value is not None and named <= labels:
                latest[(kind, job.about)] = Analysis(kind, job.about, job.value)
    return list(latest.values())


def latest_job(source: Source) -> Job | None:
    jobs = job_queue().jobs(owner(), source.key, MATRIX)
    return jobs[-1] if jobs else None


def runs(source: Source) -> StoredRuns | None:
    """The latest run-lab results for this model (so far, while its job runs)."""
    job = latest_job(source)
    if job is None or not job.shown_results:
        return None
    results = tuple(job.shown_results)
    return StoredRuns(Matrix(tuple(r.config for r in results)), results, job.inputs)


def forget_runs(source: Source) -> None:
    """Cancel this model's jobs and drop their results (the user closed the model)."""
    from pages.common.persist import forget

    job_queue().forget(owner(), source.key)
    forget(owner(), source.key)
    st.session_state.get("bundle_bytes", {}).pop(source.key, None)


def open_bundle(data: bytes) -> str:
    """Open a session bundle: its model (bundled, or an open model with the same SHA-256) and
    its runs as a finished job, so every page shows them without re-running."""
    from inspector.bundle import read_bundle

    quota_left = LIMITS.max_session_upload_bytes - session_bytes()
    bundle = read_bundle(data, LIMITS, quota_bytes=quota_left)
    name = bundle.model_name
    found: Source | None
    if name in bundle.model_files:
        files = dict(bundle.model_files)
        found = make_source(name, files.pop(name), files)
    else:
        found = next(
            (
                s
                for s in models().values()
                if hashlib.sha256(s.data).hexdigest() == bundle.model_sha256
            ),
            None,
        )
        if found is None:
            same_name = next((s for s in models().values() if s.name == name), None)
            if same_name is not None:  # e.g. a re-export: its runs would not describe this file
                mine = hashlib.sha256(same_name.data).hexdigest()
                raise InspectorError(
                    f"its runs were made on another {name} (SHA-256 {bundle.model_sha256[:12]}…; "
                    f"the open one is {mine[:12]}…). Open the bundled model, or ask for a "
                    "bundle that includes it."
                )
            raise InspectorError(
                f"it does not hold its model ({name}); open that model first, then drop the "
                "bundle again."
            )
    source = found
    add(source)
    # the runs' arrays and profiles stay in memory with the session's jobs: they count
    held = st.session_state.setdefault("bundle_bytes", {})
    held[source.key] = (
        held.get(source.key, 0)
        + sum(
            sum(a.nbytes for a in r.output_arrays().values()) + len(r.profile_trace())
            for r in bundle.results
        )
        + sum(a.nbytes for a in bundle.inputs.values() if isinstance(a, np.ndarray))
    )
    load(source)  # the bundled model must load before its runs are shown
    env = bundle.environment
    origin = (
        f"bundled {bundle.created} on {env.get('cpu', '?')}, onnxruntime "
        f"{env.get('onnxruntime', '?')}"
    )
    job_queue().register(
        owner(),
        source.key,
        tuple(bundle.results),
        kind=MATRIX,
        origin=origin,
        results=bundle.results,
        inputs=bundle.inputs,
        context=source,
    )
    for a in bundle.analyses:
        job_queue().register(
            owner(), source.key, a.value, kind=a.kind, about=a.about, origin=origin, context=source
        )
    extra = f" and {len(bundle.analyses)} analyses" if bundle.analyses else ""
    skipped = "".join(f" Skipped {s}." for s in bundle.skipped)
    return f"Opened a bundle: {len(bundle.results)} runs{extra} of {name} ({origin}).{skipped}"
