"""Issue 22, item 4: a deployment's limits are a ceiling for every run setting, wherever the
setting comes from (the library, a matrix file, a bundle, the CLI, the Run lab). The Run lab's
widgets are tested in tests/test_app.py."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from inspector import load_model
from inspector.limits import DEFAULT_LIMITS, thread_limit, within
from inspector.run.execute.jobs import JobQueue, MatrixRun
from inspector.run.setup.config import ConfigError, EpSpec, Matrix, RunConfig, load_matrix
from tests.conftest import SAMPLES
from tests.factories import endless_loop

FAST = dict(warmup_runs=0, timed_runs=1, profiled_runs=0)


@pytest.fixture(autouse=True)
def _no_deployment_limits(monkeypatch):  # type: ignore[no-untyped-def]
    """Each test starts from the defaults, whatever the shell that runs pytest sets."""
    import os

    for var in [v for v in os.environ if v.startswith("INSPECTOR_LIMIT_")]:
        monkeypatch.delenv(var)


class TestRunConfig:
    """A configuration over a limit is refused where it is made, naming the limit."""

    @pytest.mark.parametrize(
        ("setting", "limit"),
        [
            ({"intra_op_threads": 4000}, "max_threads"),  # 844 threads, then SIGABRT
            ({"inter_op_threads": 4000}, "max_threads"),
            ({"profiled_runs": 300_000}, "max_profiled_runs"),  # ran until killed
            ({"timed_runs": 10**9}, "max_timed_runs"),
            ({"warmup_runs": 10**6}, "max_warmup_runs"),
            ({"time_budget_s": 3600}, "max_time_budget_s"),
        ],
        ids=["intra_op_threads", "inter_op_threads", "profiled", "timed", "warmup", "budget"],
    )
    def test_a_number_over_its_limit_is_refused_naming_it(self, setting, limit):
        with pytest.raises(ConfigError, match=f"over the limit {limit}=.*INSPECTOR_LIMIT_"):
            RunConfig(**setting)

    def test_an_ep_thread_option_is_capped_like_the_session_threads(self):
        cap = thread_limit(DEFAULT_LIMITS)
        assert RunConfig(eps=(EpSpec("ggml", (("threads", str(cap)),)),))
        with pytest.raises(ConfigError, match="ggml option threads=.*max_threads"):
            RunConfig(eps=(EpSpec("ggml", (("threads", str(cap + 1)),)),))

    def test_the_defaults_fit_and_the_thread_limit_follows_the_cores(self):
        RunConfig()  # the defaults are inside the default limits
        assert 4 <= thread_limit(DEFAULT_LIMITS) <= 256
        assert thread_limit(replace(DEFAULT_LIMITS, max_threads=3)) == 3

    def test_a_deployment_raises_or_lowers_a_limit_with_its_variable(self, monkeypatch):
        monkeypatch.setenv("INSPECTOR_LIMIT_MAX_THREADS", "4096")
        assert RunConfig(intra_op_threads=4000).intra_op_threads == 4000
        monkeypatch.setenv("INSPECTOR_LIMIT_MAX_PROFILED_RUNS", "2")
        with pytest.raises(ConfigError, match="profiled_runs=5 is over the limit"):
            RunConfig()

    def test_a_matrix_file_gets_no_further(self, tmp_path):
        path = tmp_path / "m.json"
        path.write_text(json.dumps({"configs": [{"ep": "cpu", "profiled_runs": 300_000}]}))
        with pytest.raises(ConfigError, match="max_profiled_runs"):
            load_matrix(path)

    def test_a_bundle_gets_no_further(self):
        from inspector.bundle import BundleError, read_bundle, write_bundle
        from inspector.run.execute.runner import run_matrix
        from tests.test_bundle import _manifest

        model = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
        inputs = {"x": np.ones((2, 64), np.float32)}
        results = run_matrix(model, Matrix((RunConfig(**FAST),)), inputs)
        good = write_bundle(model, results, inputs)
        assert read_bundle(good).results[0].config.profiled_runs == 0

        def greedy(manifest):  # type: ignore[no-untyped-def]
            manifest["results"][0]["config"]["profiled_runs"] = 300_000

        with pytest.raises(BundleError, match="max_profiled_runs"):
            read_bundle(_manifest(good, greedy))


class TestTimeoutCeiling:
    """The job's timeout is min(the user's, the deployment's)."""

    def test_within_takes_the_smaller_of_each(self):
        deployment = replace(DEFAULT_LIMITS, run_timeout_s=60, worker_memory_bytes=2**30)
        asked = replace(DEFAULT_LIMITS, run_timeout_s=3600, worker_memory_bytes=0)
        got = within(asked, deployment)
        assert got.run_timeout_s == 60 and got.worker_memory_bytes == 2**30
        lower = within(replace(asked, run_timeout_s=10), deployment)
        assert lower.run_timeout_s == 10  # a user may always ask for less

    def test_a_queued_run_asking_for_more_is_killed_at_the_deployments(self):
        """An endless Loop with a user timeout of 300 s on a server whose limit is 3 s."""
        loop = load_model(endless_loop().SerializeToString(), name="loop.onnx")
        q = JobQueue(slots=1, limits=replace(DEFAULT_LIMITS, run_timeout_s=3))
        mine = replace(loop.limits, run_timeout_s=300)
        endless = Matrix((RunConfig(**FAST, label="endless"),))
        job = q.submit("alice", "k", MatrixRun(loop, endless, {"x": np.ones(1, np.float32)}, mine))
        assert isinstance(job.work, MatrixRun) and job.work.limits is not None
        assert job.work.limits.run_timeout_s == 3
        assert q.wait(job, 60)
        (result,) = job.results
        assert result.error_kind == "timeout"
        assert "no result after 3 s" in result.error

    def test_the_queue_refuses_a_configuration_over_the_jobs_limits(self):
        m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
        q = JobQueue(slots=1, limits=replace(DEFAULT_LIMITS, max_timed_runs=5))
        with pytest.raises(ConfigError, match="timed_runs=100 is over the limit max_timed_runs=5"):
            q.submit("alice", "k", MatrixRun(m, Matrix((RunConfig(),)), {}))
        assert q.jobs("alice") == []


class TestCli:
    """The CLI checks the same limits; its flags may not pass the deployment's variables."""

    def test_threads_and_profiled_runs_over_the_limit_exit_1_before_a_worker(self, capsys):
        from inspector.cli import main

        mlp = str(SAMPLES / "mlp_gelu_layernorm.onnx")
        assert main(["run", mlp, "--threads", "4000"]) == 1
        assert "intra_op_threads=4,000 is over the limit max_threads" in capsys.readouterr().err
        assert main(["run", mlp, "--profiled-runs", "300000"]) == 1
        assert "max_profiled_runs=100" in capsys.readouterr().err
        assert main(["compare", mlp, "--runs", "5000"]) == 1
        assert "max_timed_runs" in capsys.readouterr().err

    def test_jobs_beyond_the_run_slots_are_refused(self, capsys, monkeypatch):
        from inspector.cli import main

        monkeypatch.setenv("INSPECTOR_LIMIT_MAX_CONCURRENT_RUNS", "2")
        assert main(["run", str(SAMPLES / "mlp_gelu_layernorm.onnx"), "--jobs", "64"]) == 1
        assert "--jobs 64 is over this machine's 2 run slots" in capsys.readouterr().err

    def test_the_deployments_timeout_caps_the_cli(self, capsys, monkeypatch, tmp_path):
        from inspector.cli import main

        path = tmp_path / "loop.onnx"
        path.write_bytes(endless_loop().SerializeToString())
        monkeypatch.setenv("INSPECTOR_LIMIT_RUN_TIMEOUT_S", "3")
        argv = ["run", str(path), "--level", "disable_all", "--no-reference", "--json"]
        assert main([*argv, "--timeout", "300"]) == 1
        assert "--timeout asks for run_timeout_s=300, over the deployment's run_timeout_s=3" in (
            capsys.readouterr().err
        )
        monkeypatch.setenv("INSPECTOR_LIMIT_WORKER_MEMORY_BYTES", str(2**30))
        assert main([*argv, "--memory-gb", "0"]) == 1  # 0 would mean no cap at all
        assert "asks for no cap, over the deployment's worker_memory_bytes=1,073" in (
            capsys.readouterr().err
        )
        assert main([*argv, "--runs", "1", "--warmup", "0", "--profiled-runs", "0"]) == 1
        (result,) = json.loads(capsys.readouterr().out)["results"]
        assert result["error_kind"] == "timeout" and "after 3 s" in result["error"]
