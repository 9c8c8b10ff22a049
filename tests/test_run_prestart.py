"""Issue 27: what one run configuration costs beyond ONNX Runtime.

A worker started ahead of its run (:meth:`PreparedModel.prestart`, the CLI's first worker) is
today's worker — the same confined interpreter, the same kill — only started sooner: these
tests show it confined, killable and discarded with its model. The warm-up stops at a tenth
of the time budget (:func:`inspector.run.readout.timing.warm_up`), and a caller that shows no
optimized graph can do without it (``save_optimized=False``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from inspector import load_model
from inspector.isolation.sandbox import landlock_abi
from inspector.limits import DEFAULT_LIMITS
from inspector.run.execute.prepare import prepare
from inspector.run.execute.process import prestart, write_job
from inspector.run.execute.runner import run_matrix
from inspector.run.readout import timing
from inspector.run.setup.config import RunConfig, expand_matrix
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_models" / "mlp_gelu_layernorm.onnx"
FEEDS = {"x": np.ones((1, 64), np.float32)}
FAST = RunConfig(warmup_runs=1, timed_runs=3, profiled_runs=0, time_budget_s=0, target_ci_pct=0)


def _gone(pid: int, wait: float = 10.0) -> bool:
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _confined(pid: int) -> str:
    status = ""
    for _ in range(200):  # the worker confines itself right after it starts
        status = Path(f"/proc/{pid}/status").read_text()
        if "NoNewPrivs:\t1" in status and "CapEff:\t0000000000000000" in status:
            break
        time.sleep(0.05)
    return status


class TestPrestartedWorker:
    def test_it_is_confined_and_runs_the_first_configuration(self):
        prepared = prepare(load_model(SAMPLE))
        try:
            prestart(prepared)
            (worker,) = prepared.spares
            status = _confined(worker.proc.pid)
            assert "NoNewPrivs:\t1" in status and "CapEff:\t0000000000000000" in status
            if os.uname().machine in ("x86_64", "aarch64"):
                assert "Seccomp:\t2" in status
            cmd = Path(f"/proc/{worker.proc.pid}/cmdline").read_bytes().split(b"\0")
            assert cmd[1] == b"-I" and b"confined_main" in cmd
            results = run_matrix(
                load_model(SAMPLE),
                expand_matrix(["cpu"], ["all"], base=FAST),
                FEEDS,
                prepared=prepared,
            )
            assert [r.ok for r in results] == [True] * len(results), [r.error for r in results]
            assert prepared.spares == []  # taken by the run, not left for another
            assert worker.proc.returncode == 0  # it ran the first configuration and exited
        finally:
            prepared.cleanup()

    def test_cleanup_stops_a_worker_no_run_took(self):
        prepared = prepare(load_model(SAMPLE))
        prestart(prepared)
        (worker,) = prepared.spares
        pid = worker.proc.pid
        prepared.cleanup()
        assert _gone(pid)
        assert not prepared.folder.exists()

    def test_it_is_killed_at_its_timeout(self):
        """A job that never ends (job.json a FIFO nobody writes: the read blocks) is killed
        when its time is up, as a freshly started worker's is."""
        prepared = prepare(load_model(SAMPLE))
        try:
            prestart(prepared)
            (worker,) = prepared.take_spares()
            job = prepared.job_dir()
            job.mkdir()
            os.mkfifo(job / "job.json")
            start = time.monotonic()
            code = worker.run(job, timeout_s=1.0)
            assert worker.timed_out and code < 0
            assert time.monotonic() - start < 30
        finally:
            prepared.cleanup()

    @pytest.mark.skipif(landlock_abi() == 0, reason="this kernel has no Landlock")
    def test_it_cannot_write_a_folder_outside_its_own(self):
        """Handed a job folder outside its run folder, the confined worker leaves nothing
        there; the same job run by an unconfined worker (the control) writes its result."""
        model = load_model(SAMPLE)
        prepared = prepare(model)
        outside = Path(tempfile.mkdtemp(prefix="inspector-outside-"))
        try:
            os.chmod(outside, 0o755)
            write_job(prepared, FAST, FEEDS, outside / "job", DEFAULT_LIMITS, False)
            prestart(prepared)
            (worker,) = prepared.take_spares()
            worker.run(outside / "job", timeout_s=120)
            assert not (outside / "job" / "result.json").exists()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "inspector.run.execute.worker",
                    str(outside / "job"),
                    str(prepared.model_path.parent),
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
                timeout=120,
            )
            assert json.loads((outside / "job" / "result.json").read_text())["status"] == "ok"
        finally:
            prepared.cleanup()
            shutil.rmtree(outside, ignore_errors=True)


class TestWarmUp:
    def test_it_stops_at_a_tenth_of_the_budget(self):
        now = [0.0]

        def clock() -> float:
            return now[0]

        def run() -> None:
            now[0] += 0.3

        assert timing.warm_up(run, runs=3, budget_s=10.0, spent_s=0.3, clock=clock) == 3
        now[0] = 0.0
        assert timing.warm_up(run, runs=3, budget_s=10.0, spent_s=1.2, clock=clock) == 0
        now[0] = 0.0
        assert timing.warm_up(run, runs=5, budget_s=10.0, spent_s=0.5, clock=clock) == 2
        now[0] = 0.0
        assert timing.warm_up(run, runs=3, budget_s=0.0, spent_s=100.0, clock=clock) == 3

    def test_a_run_says_how_many_warm_up_runs_it_made(self):
        config = RunConfig(warmup_runs=3, timed_runs=6, profiled_runs=0, time_budget_s=1e-6)
        (r,) = run_matrix(
            load_model(SAMPLE),
            expand_matrix(["cpu"], ["all"], base=config, include_reference=False),
            FEEDS,
        )
        assert r.ok, r.error
        assert any(n.startswith("warmed up with 0 of 3 runs after the first") for n in r.notes)
        (fixed,) = run_matrix(
            load_model(SAMPLE),
            expand_matrix(["cpu"], ["all"], base=FAST, include_reference=False),
            FEEDS,
        )
        assert not [n for n in fixed.notes if n.startswith("warmed up")]


class TestSaveOptimized:
    def test_without_it_one_session_and_no_optimized_graph(self):
        matrix = expand_matrix(["cpu"], ["all"], base=FAST, include_reference=False)
        (saved,) = run_matrix(load_model(SAMPLE), matrix, FEEDS)
        (plain,) = run_matrix(load_model(SAMPLE), matrix, FEEDS, save_optimized=False)
        assert saved.ok and plain.ok
        assert saved.optimized_nodes and saved.optimized_model()
        assert plain.optimized_nodes is None and not plain.optimized_model()
        # What the CLI's text summary shows is the same either way.
        assert plain.fallback.nodes_per_ep == saved.fallback.nodes_per_ep
        assert plain.outputs == saved.outputs
        np.testing.assert_array_equal(plain.output_values()["y"], saved.output_values()["y"])
