"""The server's store (``inspector/store.py``) and its job queue: every run-lab matrix and
analysis is recorded when it is queued and when it ends (its results as a session bundle, its
model once by content), and an owner's stored jobs come back into the queue — as finished
jobs every page shows as its own — when a session of theirs starts after a restart (or after
their tabs were gone long enough for the queue to drop them). A matrix that was queued or
running when the server stopped comes back failed, "interrupted", with what it asked for, so
the Run lab can run it again."""

from __future__ import annotations

import threading
from typing import Any

from inspector.bundle import ANALYSES, Analysis, read_bundle, write_bundle
from inspector.run.execute.jobs import MATRIX, Job, MatrixRun
from inspector.run.setup.config import Matrix, RunConfig
from inspector.store import INTERRUPTED, Store, StoredJob
from pages.common.models import Source, load, make_source
from pages.common.server import LIMITS, job_queue, shared, store

#: Kinds of job the store keeps (not the load check or the size probe: they are remade).
KEPT = (MATRIX, *ANALYSES)
INTERRUPTED_NOTE = (
    "interrupted: the server stopped while it was queued or running. Its configurations and "
    "inputs were kept: run it again."
)

_lock = threading.Lock()
_restored: dict[str, set[str]] = {}  # owner → stored job ids already back in the queue


def record(kept: Store, job: Job[Any], stored_origin: bool = False) -> None:
    """The queue's watcher: ``job`` was queued, or it ended (``stored_origin``: a job
    registered from a bundle, stored on purpose by :func:`keep`)."""
    source = job.context
    if job.kind not in KEPT or not isinstance(source, Source) or (job.origin and not stored_origin):
        return
    if job.active:
        kept.put_model(source.key, source.name, source.data, source.companions)
        request: bytes | None = None
        configs: tuple[dict[str, Any], ...] = ()
        if isinstance(job.work, MatrixRun):
            run = job.work
            request = write_bundle(run.model, (), run.inputs, model_bytes=source.data)
            configs = tuple(c.to_dict() for c in run.matrix.configs)
        kept.job_queued(
            job.id,
            job.owner,
            source.key,
            job.kind,
            job.about,
            job.submitted,
            request=request,
            configs=configs,
        )
        return
    result = None
    if job.kind == MATRIX and job.results:
        model = job.work.model if isinstance(job.work, MatrixRun) else load(source)
        result = write_bundle(model, job.results, job.inputs, model_bytes=source.data)
    elif job.kind in ANALYSES and job.state == "done" and job.value is not None:
        analysis = Analysis(job.kind, job.about, job.value)
        result = write_bundle(load(source), (), {}, model_bytes=source.data, analyses=[analysis])
    kept.job_ended(job.id, job.state, job.finished or job.submitted, job.error, result)
    if kept.size() > LIMITS.store_max_bytes:  # a full clean walks every blob: only when over
        kept.clean(LIMITS.store_max_age_days * 86400, LIMITS.store_max_bytes)


def keep(kept: Store, owner: str, source: Source) -> None:
    """Store ``owner``'s finished jobs of ``source`` the store does not hold (runs opened
    from a bundle are registered, not queued): what a share link then shows."""
    have = kept.job_ids(owner, source.key)
    for job in job_queue().jobs(owner, source.key):
        if job.kind in KEPT and not job.active and job.id not in have:
            kept.put_model(source.key, source.name, source.data, source.companions)
            kept.job_queued(job.id, owner, source.key, job.kind, job.about, job.submitted)
            record(kept, job, stored_origin=True)


def restore(owner: str) -> int:
    """Bring ``owner``'s stored jobs that the queue does not hold back into it, in the order
    they were queued; how many came back. The viewer of a share link gets copies of the
    sharer's jobs of the shared model under a name of its own (``share:<token>``)."""
    kept = store()
    if kept is None:
        return 0
    rows_of, only = owner, None
    link = shared()
    if link is not None and owner == f"share:{link.token}":  # a read-only link's viewer:
        rows_of, only = link.owner, link.model  # the sharer's runs of that model, as copies
    back = 0
    with _lock:
        done = _restored.setdefault(owner, set())
        known = {j.id for j in job_queue().jobs(owner)} | done
        for row in kept.jobs(rows_of, only):
            if row.id in known:
                continue
            done.add(row.id)
            stored = kept.model(row.model)
            if stored is None:
                continue  # cleaned: nothing to show its runs on
            source = make_source(stored.name, stored.data, dict(stored.companions))
            back += _register(owner, source, row)
    return back


def _register(owner: str, source: Source, row: StoredJob) -> int:
    queue = job_queue()
    job: Job[Any]
    if row.result is not None:
        bundle = read_bundle(row.result, LIMITS)
        if row.kind != MATRIX:
            for a in bundle.analyses:
                queue.register(
                    owner,
                    source.key,
                    a.value,
                    kind=a.kind,
                    about=a.about,
                    origin="",
                    context=source,
                    submitted=row.submitted,
                )
            return len(bundle.analyses)
        job = queue.register(
            owner,
            source.key,
            tuple(bundle.results),
            kind=MATRIX,
            origin="",
            results=bundle.results,
            inputs=bundle.inputs,
            context=source,
            submitted=row.submitted,
        )
        if row.state != "done":  # a matrix cancelled (or failed) part-way: its results, marked
            job.state = "cancelled" if row.state == "cancelled" else "failed"
            job.error = row.error or INTERRUPTED_NOTE
        return 1
    if row.kind != MATRIX:
        return 0  # an analysis that failed or was interrupted: nothing to show
    inputs = read_bundle(row.request, LIMITS).inputs if row.request else {}
    matrix = Matrix(tuple(RunConfig.from_dict(c) for c in row.configs))
    job = queue.register(
        owner,
        source.key,
        matrix,
        kind=MATRIX,
        origin="",
        inputs=inputs,
        context=source,
        submitted=row.submitted,
    )
    job.total, job.unit = len(matrix.configs), "configurations"
    job.state = "failed" if row.state == INTERRUPTED else row.state  # type: ignore[assignment]
    job.error = INTERRUPTED_NOTE if row.state == INTERRUPTED else row.error
    job.about = INTERRUPTED if row.state == INTERRUPTED else ""
    return 1


def interrupted_matrix(job: Job[Any] | None) -> Matrix | None:
    """The configurations of ``job`` if it is a matrix the server stopped (to run again)."""
    if job is not None and job.about == INTERRUPTED and isinstance(job.value, Matrix):
        return job.value
    return None


def forget(owner: str, key: str) -> None:
    """The owner closed a model: its stored jobs and links go too."""
    kept = store()
    if kept is not None:
        kept.forget(owner, key)


def forget_owner(owner: str) -> None:
    """The queue dropped ``owner``'s jobs (their tabs were gone): restore them on return."""
    with _lock:
        _restored.pop(owner, None)
