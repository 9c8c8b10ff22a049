"""Run-lab jobs that outlive the page: a queue, a few runner threads, results kept as they come.

A matrix submitted here runs outside whoever submitted it (for the app: outside the session's
script thread), so the user can browse, reload or open a second tab while it runs, and come back
to every configuration finished so far. The queue is fair across owners (round robin: one user's
50-configuration matrix does not starve the others), at most ``limits.max_concurrent_runs`` jobs
run at once (0: one per CPU core), and a job can be cancelled: its current worker is killed, no
further configuration starts, and its private folder is removed.

A job is either a matrix or a *task*: a callable that produces one value (the first diverging
node, an optimizer ablation, a two-model run), queued, run, cancelled and kept the same way, so
that long analyses also survive navigation and show in the same queue.

Every worker the server starts goes through here — matrices, analyses, the Overview's load
check, the Run lab's size probe — so ``max_concurrent_runs`` and the memory share per slot
(``worker_memory``) hold for all of them. A job's limits are capped by the deployment's
(:func:`inspector.limits.within`: its timeout is min(the user's, the deployment's)) and its
configurations are checked against them when it is submitted.

Configurations of one job run one after another, as in :func:`run_matrix`: timings stay honest.
Jobs from different owners may run at the same time; each result says so (``concurrent``).
No Streamlit here: the app keeps job ids in its session, the registry keeps the jobs.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from inspector.limits import Limits, deployment_limits, run_slots, within
from inspector.model.load import LoadedModel
from inspector.run.config import Matrix
from inspector.run.results import RunResult
from inspector.run.runner import run_matrix

JobState = Literal["queued", "running", "done", "cancelled", "failed"]
Task = Callable[["Job"], Any]  # gets its job (cancel_event, current), returns the job's value


@dataclass
class Job:
    """One submitted matrix or task and everything known about it so far (read it, don't
    write it)."""

    id: str
    owner: str
    key: str  # what the owner submitted it for (the app: the model's content key)
    model: LoadedModel
    matrix: Matrix | None  # None for a task
    inputs: Mapping[str, Any]
    limits: Limits | None
    context: Any = None  # the submitter's own handle (the app: the model's upload)
    state: JobState = "queued"
    results: list[RunResult] = field(default_factory=list)
    current: str = ""  # label of the configuration running now
    error: str = ""
    overlapped: bool = False  # another job ran at the same time (timings may be noisier)
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    origin: str = ""  # where finished results came from (a bundle: its machine and versions)
    base: Job | None = None  # results shown before this job's own (a bundle it re-runs)
    kind: str = "matrix"  # or the task's kind ("divergence", "ablation", …)
    about: str = ""  # what a task is about, in the submitter's words (e.g. "ref → cand")
    task: Task | None = field(default=None, repr=False)
    value: Any = None  # a finished task's result

    @property
    def shown_results(self) -> list[RunResult]:
        """The base job's results, then this job's (machine vs machine, side by side)."""
        return (list(self.base.results) if self.base else []) + list(self.results)

    @property
    def total(self) -> int:
        return len(self.matrix.configs) if self.matrix is not None else 1

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobQueue:
    """The process-wide queue (one per server; :func:`queue` returns it)."""

    def __init__(
        self, slots: int = 0, keep_s: float = 3600.0, limits: Limits | None = None
    ) -> None:
        self.slots = slots or (os.cpu_count() or 1)
        self.limits = limits  # the deployment's ceilings (None: this process's environment)
        self.keep_s = keep_s  # finished jobs are kept this long, then forgotten
        self._jobs: dict[str, Job] = {}
        self._waiting: dict[str, deque[Job]] = {}  # owner → their queued jobs, in order
        self._last_served: dict[str, float] = {}  # owner → when their last job started
        self._running = 0
        self._lock = threading.Condition()

    # -------------------------------------------------------------- submitting and reading

    def submit(
        self,
        owner: str,
        key: str,
        model: LoadedModel,
        matrix: Matrix,
        inputs: Mapping[str, Any],
        limits: Limits | None = None,
        context: Any = None,
        base: Job | None = None,
    ) -> Job:
        """Queue ``matrix``; ConfigError when a configuration asks for more than the limits
        allow. ``limits`` (default: the model's) are capped by the deployment's."""
        limits = within(limits or model.limits, self.ceiling)
        for config in matrix.configs:
            config.check_limits(limits)
        job = Job(secrets.token_urlsafe(9), owner, key, model, matrix, inputs, limits, context)
        job.base = base
        return self._enqueue(job)

    @property
    def ceiling(self) -> Limits:
        """The limits no job may exceed: the deployment's."""
        return self.limits or deployment_limits()

    def _enqueue(self, job: Job) -> Job:
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
            self._waiting.setdefault(job.owner, deque()).append(job)
            self._start_runners()
        return job

    def submit_task(
        self,
        owner: str,
        key: str,
        kind: str,
        model: LoadedModel,
        task: Task,
        *,
        about: str = "",
        inputs: Mapping[str, Any] | None = None,
        context: Any = None,
    ) -> Job:
        """Queue a task (fair with matrices: same lanes, same slots); its value lands in
        ``job.value``. The task gets its job: it should stop early once ``job.cancel_event`` is
        set, and may say what it is doing in ``job.current``."""
        job = Job(secrets.token_urlsafe(9), owner, key, model, None, inputs or {}, None, context)
        job.kind, job.about, job.task = kind, about, task
        return self._enqueue(job)

    def add_done_task(
        self,
        owner: str,
        key: str,
        kind: str,
        model: LoadedModel,
        value: Any,
        *,
        about: str,
        origin: str,
        context: Any = None,
    ) -> Job:
        """Register a task's value made elsewhere (a bundle) as a finished task."""
        job = Job(secrets.token_urlsafe(9), owner, key, model, None, {}, None, context)
        job.kind, job.about, job.value = kind, about, value
        return self._register_done(job, origin)

    def add_done(
        self,
        owner: str,
        key: str,
        model: LoadedModel,
        results: list[RunResult],
        inputs: Mapping[str, Any],
        origin: str,
        context: Any = None,
    ) -> Job:
        """Register results made elsewhere (a bundle) as a finished job: every page shows them
        as it shows its own runs, and a re-run can use them as its base."""
        matrix = Matrix(tuple(r.config for r in results))
        job = Job(secrets.token_urlsafe(9), owner, key, model, matrix, inputs, None, context)
        job.results = list(results)
        return self._register_done(job, origin)

    def _register_done(self, job: Job, origin: str) -> Job:
        job.state, job.origin = "done", origin
        job.started = job.finished = time.time()
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self, owner: str, key: str | None = None, kind: str | None = None) -> list[Job]:
        """An owner's jobs (for one key, of one kind), oldest first."""
        return sorted(
            (
                j
                for j in list(self._jobs.values())
                if j.owner == owner and key in (None, j.key) and kind in (None, j.kind)
            ),
            key=lambda j: j.submitted,
        )

    def position(self, job: Job) -> int:
        """How many jobs start before this one (0 when it is running or next)."""
        with self._lock:
            if job.state != "queued":
                return 0
            order = self._order()
            return order.index(job) if job in order else 0

    def forget(self, owner: str, key: str) -> None:
        """Cancel an owner's jobs for ``key`` and drop them (their results free memory)."""
        for job in self.jobs(owner, key):
            self.cancel(job.id)
            if not job.active:
                self._jobs.pop(job.id, None)
            else:  # running: the runner drops it when it stops
                job.key = ""

    def forget_owner(self, owner: str) -> int:
        """Cancel and drop every job of ``owner`` (their browser is gone); return how many."""
        jobs = self.jobs(owner)
        for key in {j.key for j in jobs}:
            self.forget(owner, key)
        return len(jobs)

    def cancel(self, job_id: str) -> None:
        """Stop a job: the running worker is killed, queued configurations never start."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.active:
                return
            job.cancel_event.set()
            if job.state == "queued":
                self._waiting[job.owner].remove(job)
                job.state, job.finished = "cancelled", time.time()
            self._lock.notify_all()

    # ------------------------------------------------------------------------- running

    def _pick(self, lanes: Mapping[str, deque[Job]], last: Mapping[str, float]) -> str | None:
        """The owner whose turn it is: the one served longest ago (never served: first),
        ties by who queued first."""
        waiting = [o for o, lane in lanes.items() if lane]
        if not waiting:
            return None
        return min(waiting, key=lambda o: (last.get(o, 0.0), lanes[o][0].submitted))

    def _order(self) -> list[Job]:
        """Queued jobs in the order they will start."""
        lanes = {o: deque(lane) for o, lane in self._waiting.items()}
        last = dict(self._last_served)
        out: list[Job] = []
        tick = time.time()
        while (owner := self._pick(lanes, last)) is not None:
            out.append(lanes[owner].popleft())
            tick += 1
            last[owner] = tick
        return out

    def _next(self) -> Job | None:
        owner = self._pick(self._waiting, self._last_served)
        if owner is None:
            return None
        self._last_served[owner] = time.time()
        return self._waiting[owner].popleft()

    def _start_runners(self) -> None:
        while self._running < self.slots and any(self._waiting.values()):
            job = self._next()
            if job is None:
                break
            self._running += 1
            job.state, job.started = "running", time.time()
            threading.Thread(
                target=self._run, args=(job,), daemon=True, name=f"job-{job.id}"
            ).start()

    def _run(self, job: Job) -> None:
        def progress(i: int, n: int, label: str, phase: str) -> None:
            job.current = label if phase == "start" else ""
            if self._running > 1:
                job.overlapped = True

        def keep(result: RunResult) -> None:
            job.results.append(result)  # every finished configuration, as it comes

        try:
            if job.task is not None:
                job.current = job.kind
                job.value = job.task(job)
                job.state = "cancelled" if job.cancel_event.is_set() else "done"
                return
            assert job.matrix is not None
            address = os.environ.get("INSPECTOR_RAY_ADDRESS", "")
            if address:  # the server's configurations run on the team's Ray cluster
                from inspector.run.cluster import run_matrix_ray

                job.current = f"{job.total} configurations on Ray"
                job.results.extend(
                    run_matrix_ray(job.model, job.matrix, job.inputs, address, limits=job.limits)
                )
                job.state = "done"
                return
            run_matrix(
                job.model,
                job.matrix,
                job.inputs,
                limits=job.limits,
                progress=progress,
                on_result=keep,
                cancel=job.cancel_event,
            )
            job.state = "cancelled" if job.cancel_event.is_set() else "done"
        except Exception as exc:  # noqa: BLE001 - a job failing must not kill the runner
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished, job.current = time.time(), ""
            with self._lock:
                if not job.key:  # forgotten while it ran: nobody will read it
                    self._jobs.pop(job.id, None)
                self._running -= 1
                self._start_runners()
                self._lock.notify_all()

    def _forget_old(self) -> None:
        now = time.time()
        for jid, job in list(self._jobs.items()):
            if not job.active and job.finished and now - job.finished > self.keep_s:
                del self._jobs[jid]

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Block until ``job`` is no longer active (tests, the CLI); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while job.active:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left if left is not None else 1.0)
        return True


_QUEUE: JobQueue | None = None
_QUEUE_LOCK = threading.Lock()


def queue(limits: Limits | None = None) -> JobQueue:
    """The server's job queue, created on first use."""
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None:
            limits = limits or deployment_limits()
            _QUEUE = JobQueue(run_slots(limits), limits=limits)
        return _QUEUE
