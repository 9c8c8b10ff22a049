"""Jobs that outlive whoever submitted them: a queue, a few runner threads, results kept as
they come.

A job's *work* is a callable that gets its job and returns the job's value: a matrix
(:class:`MatrixRun`), the first diverging node, an optimizer ablation, a two-model run, a load
check. It runs outside its submitter (for the app: outside the session's script thread), so the
user can browse, reload or open a second tab while it runs, and come back to what it made. The
work reports through its job: ``job.cancel_event`` (stop early once set), ``job.progress`` (the
executors' ``progress(i, n, label, phase)``: what runs now, how many steps are done) and
``job.emit`` (each result as it finishes: a matrix's configurations). Pages read ``job.value``
once it has finished and ``job.results`` (so far) while it runs.

The queue is fair across owners (round robin: one user's 50-configuration matrix does not
starve the others), at most ``limits.max_concurrent_runs`` jobs run at once (0: one per CPU
core), and a job can be cancelled: its current worker is killed, no further configuration
starts, its private folder is removed and it ends "cancelled" — on local workers and on Ray
alike (:mod:`inspector.run.execute.cluster`: the executor is chosen by ``INSPECTOR_RAY_ADDRESS``).

Every worker the server starts goes through here — matrices, analyses, the Overview's load
check, the Run lab's size probe — so ``max_concurrent_runs`` and the memory share per slot
(``worker_memory``) hold for all of them. A matrix's limits are capped by the deployment's
(:func:`inspector.limits.within`: its timeout is min(the user's, the deployment's)) and its
configurations are checked against them when it is submitted.

Configurations of one job run one after another, as in :func:`run_matrix`: timings stay honest.
Jobs from different owners may run at the same time; each job says so (``overlapped``).
No Streamlit here: the app keeps job ids in its session, the registry keeps the jobs.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar, cast

from inspector.limits import Limits, deployment_limits, run_slots, within
from inspector.model.load import LoadedModel
from inspector.run.execute.cluster import executor
from inspector.run.readout.results import RunResult
from inspector.run.setup.config import Matrix

JobState = Literal["queued", "running", "done", "cancelled", "failed"]
T = TypeVar("T")
#: A job's work: gets its job (cancel_event, progress, emit), returns the job's value.
Work = Callable[["Job[T]"], T]
MATRIX = "matrix"


@dataclass(eq=False)
class Job(Generic[T]):
    """One submitted piece of work and everything known about it so far (read it, don't
    write it: the work reports through :meth:`progress` and :meth:`emit`)."""

    id: str
    owner: str
    key: str  # what the owner submitted it for (the app: the model's content key)
    kind: str  # "matrix", or the task's ("divergence", "ablation", "load_check", …)
    work: Work[T] | None = field(default=None, repr=False)  # None: registered finished
    about: str = ""  # what it is about, in the submitter's words (e.g. "ref → cand")
    inputs: Mapping[str, Any] = field(default_factory=dict, repr=False)  # a matrix's feeds
    total: int = 1  # steps (a matrix: its configurations)
    unit: str = ""  # what a step is ("configurations"); "" when the work has no steps
    context: Any = None  # the submitter's own handle (the app: the model's source)
    base: Job[Any] | None = None  # results shown before this job's own (a bundle it re-runs)
    origin: str = ""  # where a registered job's value came from (a bundle: machine, versions)
    state: JobState = "queued"
    value: T | None = None  # the work's return value, once it finished (or was cancelled)
    results: list[RunResult] = field(default_factory=list)  # emitted so far, in order
    current: str = ""  # what runs now (a configuration's label)
    error: str = ""
    overlapped: bool = False  # another job ran at the same time (timings may be noisier)
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, i: int, n: int, label: str, phase: str) -> None:
        """An executor's ``progress``: step ``i`` of ``n`` (``label``) starts or is done."""
        self.total = n
        self.current = label if phase == "start" else ""

    def emit(self, result: RunResult) -> None:
        """An executor's ``on_result``: one more finished configuration."""
        self.results.append(result)

    @property
    def done(self) -> int:
        """Steps finished (a matrix: configurations with a result)."""
        return len(self.results) if self.unit else int(not self.active)

    @property
    def shown_results(self) -> list[RunResult]:
        """The base job's results, then this job's (machine vs machine, side by side)."""
        return (list(self.base.results) if self.base else []) + list(self.results)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


@dataclass(frozen=True)
class MatrixRun:
    """A matrix as a job's work: every configuration on this machine's workers, or on the Ray
    cluster named by ``INSPECTOR_RAY_ADDRESS`` when it is set; results stream into the job."""

    model: LoadedModel
    matrix: Matrix
    inputs: Mapping[str, Any]
    limits: Limits | None = None  # None: the model's

    def __call__(self, job: Job[tuple[RunResult, ...]]) -> tuple[RunResult, ...]:
        run = executor()  # read when the job starts: the server's setting at that moment
        return run(
            self.model,
            self.matrix,
            self.inputs,
            limits=self.limits,
            progress=job.progress,
            on_result=job.emit,
            cancel=job.cancel_event,
        )


class JobQueue:
    """The process-wide queue (one per server; :func:`queue` returns it)."""

    def __init__(
        self, slots: int = 0, keep_s: float = 3600.0, limits: Limits | None = None
    ) -> None:
        self.slots = slots or (os.cpu_count() or 1)
        self.limits = limits  # the deployment's ceilings (None: this process's environment)
        self.keep_s = keep_s  # finished jobs are kept this long, then forgotten
        self._jobs: dict[str, Job[Any]] = {}
        self._waiting: dict[str, deque[Job[Any]]] = {}  # owner → their queued jobs, in order
        self._last_served: dict[str, float] = {}  # owner → when their last job started
        self._running = 0
        self._lock = threading.Condition()
        #: Called with a job when it is queued and when it ends (done, cancelled, failed),
        #: outside the queue's lock; an exception in one is swallowed (the app's store
        #: records jobs this way: a failing disk must not stop the queue).
        self.watchers: list[Callable[[Job[Any]], None]] = []

    def _notify(self, job: Job[Any]) -> None:
        for watch in list(self.watchers):
            try:
                watch(job)
            except Exception:  # noqa: BLE001, S112 - a watcher must not break the queue
                continue

    # -------------------------------------------------------------- submitting and reading

    def submit(
        self,
        owner: str,
        key: str,
        work: Work[T],
        *,
        kind: str = "",
        about: str = "",
        context: Any = None,
        base: Job[Any] | None = None,
    ) -> Job[T]:
        """Queue ``work`` for ``owner`` (fair with everyone's: same lanes, same slots).

        A :class:`MatrixRun` is a job of kind "matrix" whose limits (default: the model's) are
        capped by the deployment's; ConfigError when a configuration asks for more than they
        allow. Other work should stop early once ``job.cancel_event`` is set, and may say what
        it does in ``job.current``. ``base``: a finished job whose results are shown before
        this one's (a bundle it re-runs)."""
        job: Job[T] = Job(secrets.token_urlsafe(9), owner, key, kind or "task", work, about)
        if isinstance(work, MatrixRun):
            limits = within(work.limits or work.model.limits, self.ceiling)
            for config in work.matrix.configs:
                config.check_limits(limits)
            job.work = cast(Work[T], replace(work, limits=limits))
            job.kind, job.inputs = kind or MATRIX, work.inputs
            job.total, job.unit = len(work.matrix.configs), "configurations"
        job.context, job.base = context, base
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
            self._waiting.setdefault(job.owner, deque()).append(job)
            self._start_runners()
        self._notify(job)
        return job

    def register(
        self,
        owner: str,
        key: str,
        value: T,
        *,
        kind: str,
        origin: str,
        about: str = "",
        results: Iterable[RunResult] = (),
        inputs: Mapping[str, Any] | None = None,
        context: Any = None,
        submitted: float | None = None,
    ) -> Job[T]:
        """A value made elsewhere (a bundle's runs or analyses) as a finished job: every page
        shows it as it shows its own, and a re-run can use it as its base. ``submitted``: when
        it was first queued (a job restored from the store keeps its place among the owner's
        jobs: which matrix is the latest, which analyses came after it)."""
        job: Job[T] = Job(secrets.token_urlsafe(9), owner, key, kind, None, about, inputs or {})
        if submitted is not None:
            job.submitted = submitted
        job.results = list(results)
        if job.results:
            job.total, job.unit = len(job.results), "configurations"
        job.context, job.origin, job.value, job.state = context, origin, value, "done"
        job.started = job.finished = time.time()
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        return job

    @property
    def ceiling(self) -> Limits:
        """The limits no job may exceed: the deployment's."""
        return self.limits or deployment_limits()

    def get(self, job_id: str) -> Job[Any] | None:
        return self._jobs.get(job_id)

    def jobs(self, owner: str, key: str | None = None, kind: str | None = None) -> list[Job[Any]]:
        """An owner's jobs (for one key, of one kind), oldest first."""
        return sorted(
            (
                j
                for j in list(self._jobs.values())
                if j.owner == owner and key in (None, j.key) and kind in (None, j.kind)
            ),
            key=lambda j: j.submitted,
        )

    def position(self, job: Job[Any]) -> int:
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
            ended = job.state == "queued"
            if ended:
                self._waiting[job.owner].remove(job)
                job.state, job.finished = "cancelled", time.time()
            self._lock.notify_all()
        if ended:
            self._notify(job)

    # ------------------------------------------------------------------------- running

    def _pick(self, lanes: Mapping[str, deque[Job[Any]]], last: Mapping[str, float]) -> str | None:
        """The owner whose turn it is: the one served longest ago (never served: first),
        ties by who queued first."""
        waiting = [o for o, lane in lanes.items() if lane]
        if not waiting:
            return None
        return min(waiting, key=lambda o: (last.get(o, 0.0), lanes[o][0].submitted))

    def _order(self) -> list[Job[Any]]:
        """Queued jobs in the order they will start."""
        lanes = {o: deque(lane) for o, lane in self._waiting.items()}
        last = dict(self._last_served)
        out: list[Job[Any]] = []
        tick = time.time()
        while (owner := self._pick(lanes, last)) is not None:
            out.append(lanes[owner].popleft())
            tick += 1
            last[owner] = tick
        return out

    def _next(self) -> Job[Any] | None:
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
            if self._running > 1:  # its timings (and the others') share the machine
                for other in self._jobs.values():
                    if other.state == "running":
                        other.overlapped = True
            threading.Thread(
                target=self._run, args=(job,), daemon=True, name=f"job-{job.id}"
            ).start()

    def _run(self, job: Job[Any]) -> None:
        assert job.work is not None
        try:
            job.value = job.work(job)
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
            self._notify(job)

    def _forget_old(self) -> None:
        now = time.time()
        for jid, job in list(self._jobs.items()):
            if not job.active and job.finished and now - job.finished > self.keep_s:
                del self._jobs[jid]

    def wait(self, job: Job[Any], timeout: float | None = None) -> bool:
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
