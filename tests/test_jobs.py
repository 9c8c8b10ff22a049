"""Issue 11, part 1: run-lab jobs outlive their submitter, keep results as they come, can be
cancelled (workers stopped, private folder removed) and share the server fairly."""

from __future__ import annotations

import glob
import os
import tempfile
import time

import numpy as np

from inspector import load_model
from inspector.run.execute.jobs import JobQueue, MatrixRun
from inspector.run.setup.config import Matrix, RunConfig, expand_matrix
from tests.conftest import SAMPLES
from tests.factories import endless_loop

FAST = dict(warmup_runs=0, timed_runs=2, profiled_runs=0)


def _workers(parent: int | None = None) -> set[int]:
    """PIDs of worker processes (the confined bootstrap) on this machine, or only those
    ``parent`` started (a test's own server: other sessions on the machine run workers too)."""
    pids = set()
    for cmd in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = open(cmd, "rb").read()
        except OSError:
            continue
        if b"inspector.run.execute.worker" in text and b"confined_main" in text:
            pid = int(cmd.split("/")[2])
            if parent is None or _parent(pid) == parent:
                pids.add(pid)
    return pids


def _parent(pid: int) -> int:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])


def _my_workers() -> set[int]:
    """PIDs of workers this test process started (other sessions on the machine run theirs)."""
    return _workers(os.getpid())


def _run_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "inspector-run-*")))


def test_a_job_keeps_every_result_as_it_arrives():
    m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
    q = JobQueue(slots=1)
    mat = expand_matrix(["cpu"], ["basic", "all"], base=RunConfig(**FAST))
    job = q.submit("alice", m.sha256, MatrixRun(m, mat, {"x": np.ones((2, 64), np.float32)}))
    assert q.wait(job, 120)
    assert job.state == "done" and [r.label for r in job.results] == [c.label for c in mat.configs]
    assert all(r.ok for r in job.results), [r.error for r in job.results]
    assert q.jobs("alice", m.sha256) == [job] and q.jobs("bob") == []


def test_cancel_stops_the_worker_and_removes_the_private_folder():
    m = load_model(endless_loop().SerializeToString(), name="loop.onnx")
    q = JobQueue(slots=1)
    before_dirs, before_workers = _run_dirs(), _my_workers()
    mat = Matrix((RunConfig(**FAST, label="endless"),))
    job = q.submit("alice", "k", MatrixRun(m, mat, {"x": np.ones(1, np.float32)}))
    deadline = time.monotonic() + 60
    while job.current != "endless" and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the worker is inside ORT now
    assert _my_workers() - before_workers, "no worker running"
    start = time.monotonic()
    q.cancel(job.id)
    assert q.wait(job, 30)
    assert time.monotonic() - start < 5
    assert job.state == "cancelled"
    assert [r.error_kind for r in job.results] == ["cancelled"]
    time.sleep(0.3)
    assert _my_workers() - before_workers == set()
    assert _run_dirs() - before_dirs == set()


def test_an_analysis_task_runs_in_the_queue_and_cancels_like_a_matrix():
    """Tasks share the matrices' lanes and slots: a task waits behind a running matrix, keeps
    its value, and cancelling a running ablation stops its worker and lists the rest as
    cancelled."""
    from inspector.run.analyses.analysis import ablation

    loop = load_model(endless_loop().SerializeToString(), name="loop.onnx")
    m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
    q = JobQueue(slots=1)
    before_dirs, before_workers = _run_dirs(), _my_workers()
    blocker = q.submit(
        "alice",
        "k",
        MatrixRun(
            loop, Matrix((RunConfig(**FAST, label="endless"),)), {"x": np.ones(1, np.float32)}
        ),
    )
    feeds = {"x": np.ones((2, 64), np.float32)}
    cfg = RunConfig(**FAST, opt_level="all")
    done = q.submit(
        "bob",
        "m",
        lambda job: ablation(m, cfg, feeds, ["GeluFusionL1"]),
        kind="ablation",
        about="cpu · all",
    )
    time.sleep(1.0)
    assert done.state == "queued" and q.position(done) == 0  # next, behind the running matrix
    q.cancel(blocker.id)
    assert q.wait(done, 120) and done.state == "done" and done.total == 1
    assert [r.disabled for r in done.value] == ["", "GeluFusionL1", "(baseline again)"]
    assert all(r.status == "ok" for r in done.value)
    assert [j.kind for j in q.jobs("bob", "m")] == ["ablation"] and q.jobs(
        "bob", "m", "matrix"
    ) == []

    stopped = q.submit(
        "alice",
        "k",
        lambda job: ablation(
            loop,
            RunConfig(**FAST, label="endless"),
            {"x": np.ones(1, np.float32)},
            ["X"],
            cancel=job.cancel_event,
        ),
        kind="ablation",
        about="endless",
    )
    deadline = time.monotonic() + 60
    while not (_my_workers() - before_workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    start = time.monotonic()
    q.cancel(stopped.id)
    assert q.wait(stopped, 30) and time.monotonic() - start < 5
    assert stopped.state == "cancelled"
    assert [r.status for r in stopped.value] == ["error"] * 3  # the running one and the rest
    assert "cancelled" in stopped.value[0].note and "cancelled" in stopped.value[-1].note
    time.sleep(0.3)
    assert _my_workers() - before_workers == set() and _run_dirs() - before_dirs == set()


def test_the_queue_takes_one_job_per_owner_in_turn():
    m = load_model(endless_loop().SerializeToString(), name="loop.onnx")
    q = JobQueue(slots=1)
    mat = Matrix((RunConfig(**FAST, label="endless"),))
    feeds = {"x": np.ones(1, np.float32)}
    a1 = q.submit("alice", "k", MatrixRun(m, mat, feeds))
    a2 = q.submit("alice", "k", MatrixRun(m, mat, feeds))
    a3 = q.submit("alice", "k", MatrixRun(m, mat, feeds))
    b1 = q.submit("bob", "k", MatrixRun(m, mat, feeds))
    try:
        assert a1.state == "running"
        # Bob has not been served yet: his job goes before Alice's second and third.
        assert [q.position(j) for j in (b1, a2, a3)] == [0, 1, 2]
        q.cancel(b1.id)
        assert b1.state == "cancelled" and [q.position(j) for j in (a2, a3)] == [0, 1]
    finally:
        for j in (a1, a2, a3, b1):
            q.cancel(j.id)
        for j in (a1, a3, b1):
            q.wait(j, 30)
    assert b1.state == "cancelled" and a1.state == "cancelled"


def test_an_owner_whose_tabs_are_gone_loses_its_jobs_and_resources_after_the_grace():
    """Issue 16: closing the tab stops its workers; a reload within the grace keeps them."""
    from inspector.presence import Presence

    m = load_model(endless_loop().SerializeToString(), name="loop.onnx")
    q = JobQueue(slots=2)
    before_dirs, before_workers = _run_dirs(), _my_workers()
    connected = {"tab-1", "tab-2"}
    freed: list[tuple[str, set[str]]] = []

    def gone(owner: str, resources: set[str]) -> None:
        q.forget_owner(owner)
        freed.append((owner, resources))

    p = Presence(lambda c: c in connected, gone, grace_s=0.5)
    p.seen("alice", "tab-1")
    p.seen("bob", "tab-2")
    p.hold("alice", "netron:abc")
    job = q.submit(
        "alice",
        "k",
        MatrixRun(m, Matrix((RunConfig(**FAST, label="endless"),)), {"x": np.ones(1, np.float32)}),
    )
    deadline = time.monotonic() + 60
    while job.current != "endless" and time.monotonic() < deadline:
        time.sleep(0.05)
    connected.discard("tab-1")  # alice closes her tab
    assert p.sweep() == []  # within the grace: a reload would find everything
    p.seen("alice", "tab-3")  # ... and she reloads (a new session id, same owner token)
    connected.add("tab-3")
    time.sleep(0.6)
    assert p.sweep() == [] and job.active
    connected.discard("tab-3")  # now she leaves for good
    p.sweep()
    time.sleep(0.6)
    assert p.sweep() == ["alice"] and freed == [("alice", {"netron:abc"})]
    assert q.wait(job, 30) and job.state == "cancelled"
    deadline = time.monotonic() + 10
    while (
        _my_workers() - before_workers or _run_dirs() - before_dirs
    ) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _my_workers() - before_workers and not _run_dirs() - before_dirs
    assert q.jobs("alice") == [] and p.owners() == ["bob"]  # bob is untouched


def test_limits_come_from_the_environment_for_a_deployment():
    import pytest

    from inspector.limits import limits_from_env, run_slots

    lim = limits_from_env({"INSPECTOR_LIMIT_MAX_CONCURRENT_RUNS": "3", "HOME": "/x"})
    assert lim.max_concurrent_runs == 3 and run_slots(lim) == 3
    assert (
        limits_from_env(
            {"INSPECTOR_LIMIT_WORKER_MEMORY_BYTES": "2_000_000_000"}
        ).worker_memory_bytes
        == 2 * 10**9
    )
    with pytest.raises(ValueError, match="INSPECTOR_LIMIT_MAX_CONCURENT_RUNS: there is no limit"):
        limits_from_env({"INSPECTOR_LIMIT_MAX_CONCURENT_RUNS": "3"})
    with pytest.raises(ValueError, match="expected a whole number"):
        limits_from_env({"INSPECTOR_LIMIT_RUN_TIMEOUT_S": "5m"})
    with pytest.raises(ValueError, match="cannot be negative"):
        limits_from_env({"INSPECTOR_LIMIT_RUN_TIMEOUT_S": "-1"})


def test_a_worker_dies_with_the_process_that_started_it(tmp_path):
    """A CLI (or server) killed hard mid-run left its worker spinning an endless Loop for good
    (found: one ran 26 minutes after a failed browser test). Workers ask the kernel for SIGKILL
    when their parent dies."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "loop.onnx"
    path.write_bytes(endless_loop().SerializeToString())
    cli = subprocess.Popen(
        [sys.executable, "-m", "inspector", "run", str(path), "--no-reference", "--runs", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not _workers(cli.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = _workers(cli.pid)  # the CLI's own (other sessions on the host run theirs)
    assert started, "no worker started"
    time.sleep(0.5)  # inside ORT's endless Loop now
    cli.send_signal(signal.SIGKILL)
    cli.wait()
    deadline = time.monotonic() + 5
    while started & _workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started & _workers() == set()


def test_load_checks_wait_for_a_run_slot_and_take_turns_with_runs():
    """Issue 22: the Overview's load check started its worker beside the queue: three tabs ran
    three at once on a one-slot server. Queued, three owners' load checks and a fourth owner's
    matrix never run two workers at once, and start one owner at a time."""
    import threading

    from inspector.run.execute.loadcheck import LOAD_CHECK, SessionCheck, submit_check

    m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
    q = JobQueue(slots=1)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(_my_workers()))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    mat = Matrix((RunConfig(**FAST, label="one"),))  # one configuration: no worker started ahead
    done: list[SessionCheck] = []
    try:
        dave = q.submit("dave", "k", MatrixRun(m, mat, {"x": np.ones((2, 64), np.float32)}))
        dave_check = submit_check(q, "dave", "k", m, on_done=done.append)
        checks = [
            submit_check(q, o, "k", m, on_done=done.append) for o in ("alice", "bob", "carol")
        ]
        assert dave.state == "running" and all(j.state == "queued" for j in checks)
        # Dave has been served: the others' checks go before his own.
        assert [q.position(j) for j in (*checks, dave_check)] == [0, 1, 2, 3]
        jobs = [dave, *checks, dave_check]
        for job in jobs:
            assert q.wait(job, 120)
    finally:
        stop.set()
        watcher.join()
    assert all(j.state == "done" for j in jobs), [j.error for j in jobs]
    assert all(j.kind == LOAD_CHECK and j.value.ok for j in (*checks, dave_check))
    assert len(done) == 4 and all(c.ok for c in done)
    started = sorted(jobs, key=lambda j: j.started or 0)
    assert [j.owner for j in started] == ["dave", "alice", "bob", "carol", "dave"]
    for before, after in zip(started, started[1:], strict=False):  # one at a time
        assert before.finished is not None and after.started is not None
        assert after.started >= before.finished
    assert peak[0] == 1, f"{peak[0]} workers ran at once"


def test_a_restored_job_keeps_its_place_among_the_owners_jobs():
    """Jobs restored from the store kept the time they were restored as their submission:
    a stored matrix then counted as newer than analyses queued after it (Compare hides an
    analysis queued before the latest matrix), or than a newer matrix still held."""
    q = JobQueue(slots=1)
    now = time.time()
    newer = q.register("o", "m", "B", kind="matrix", origin="", submitted=now - 10)
    older = q.register("o", "m", "A", kind="matrix", origin="", submitted=now - 100)
    fresh = q.register("o", "m", "C", kind="matrix", origin="")
    assert [j.value for j in q.jobs("o", "m", "matrix")] == ["A", "B", "C"]
    assert older.submitted == now - 100 and newer.submitted == now - 10
    assert fresh.submitted >= now
