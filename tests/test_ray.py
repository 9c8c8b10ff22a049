"""Issue 11, part 2: a matrix on a real local Ray cluster — a head and a second node with a
different set of EP resources — lands each configuration on a node that has its EP."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inspector import load_model
from inspector.run.setup.config import RunConfig, expand_matrix
from inspector.run.setup.eps import second_eps
from tests.conftest import SAMPLES
from tests.test_jobs import _parent, _run_dirs, _workers

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install onnx-inspector[ray])")


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    try:
        c = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "resources": {"ep_CPUExecutionProvider": 1000},
                "include_dashboard": False,
            },
        )
        second = {"ep_CPUExecutionProvider": 1000}
        second |= {f"ep_{e.name}": 1000 for e in second_eps()}
        c.add_node(num_cpus=1, resources=second)
        c.wait_for_nodes()
    except Exception as exc:  # noqa: BLE001 - e.g. no shared memory in a container
        pytest.skip(f"a local Ray cluster cannot start here: {exc}")
    yield c
    ray.shutdown()
    c.shutdown()


def test_configurations_land_on_nodes_that_have_their_ep(cluster, capsys):
    from inspector.run.execute.cluster import run_matrix_ray

    eps = second_eps()
    if not eps:
        pytest.skip("no usable second EP to give the second node")
    ep = eps[0].name
    m = load_model(SAMPLES / "ep_fallback_det.onnx")
    mat = expand_matrix(
        [f"{ep},cpu"], ["all"], base=RunConfig(warmup_runs=0, timed_runs=2, profiled_runs=1)
    )
    before_dirs, before_workers = _run_dirs(), _workers()
    results = run_matrix_ray(m, mat, {"x": np.ones((2, 4, 4), np.float32)}, cluster.address)
    assert all(r.ok for r in results), [r.error for r in results]
    nodes = {r.label: dict(r.placement)["node"] for r in results}
    second_node = next(n for n in cluster.list_all_nodes() if not n.head).node_id
    # Only the second node advertises the second EP: that configuration must run there.
    assert nodes[results[1].label] == second_node
    placed = {a.op_type: a.ep for a in results[1].assignment}
    assert placed["Det"] == "CPUExecutionProvider" and placed["MatMul"] == ep
    print(json.dumps({r.label: dict(r.placement) for r in results}, indent=1))
    assert _run_dirs() - before_dirs == set()
    assert _workers() - before_workers == set()


def test_a_configuration_no_node_can_run_says_so(cluster):
    from inspector.run.execute.cluster import run_matrix_ray

    m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
    mat = expand_matrix(["cuda,cpu"], ["all"], base=RunConfig(warmup_runs=0, timed_runs=1))
    results = run_matrix_ray(m, mat, {"x": np.ones((1, 64), np.float32)}, cluster.address)
    assert results[0].ok
    assert results[1].error_kind == "no_node"
    assert "no node of the cluster advertises CUDAExecutionProvider" in results[1].error


def test_the_cli_runs_on_ray_and_says_where(cluster, capsys):
    from inspector.cli import main

    argv = ["run", str(SAMPLES / "cnn_conv_bn_relu.onnx"), "--ray", cluster.address]
    assert main([*argv, "--runs", "2", "--profiled-runs", "0"]) == 0
    out = capsys.readouterr().out
    assert "where" in out.splitlines()[0]


def test_ray_is_not_imported_without_ray():
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys; from inspector.cli import main; "
        "main(['run', 'sample_models/mlp_gelu_layernorm.onnx', '--runs', '1', "
        "'--profiled-runs', '0', '--dim', 'batch=1']); print('ray' in sys.modules)"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out == "False"


def test_ray_worker_advertises_the_usable_eps():
    from inspector.run.execute.cluster import node_resources, start_command

    cmd = start_command("10.0.0.5:6379")
    resources = json.loads(next(a for a in cmd if a.startswith("--resources=")).split("=", 1)[1])
    assert resources == node_resources()
    assert "ep_CPUExecutionProvider" in resources
    assert all(f"ep_{e.name}" in resources for e in second_eps())


class TestRayWorkerBinding:
    """Issue 22: ``ray-worker`` had no way to say which interface the node uses."""

    def test_node_ip_address_reaches_ray_start(self, monkeypatch, capsys):
        import subprocess

        from inspector.cli import main

        started: list[list[str]] = []
        monkeypatch.setattr(subprocess, "call", lambda cmd, **kw: started.append(cmd) or 0)
        assert (
            main(["ray-worker", "--address", "10.0.0.5:6379", "--node-ip-address", "10.0.0.7"]) == 0
        )
        (cmd,) = started
        assert cmd[3:5] == ["start", "--address=10.0.0.5:6379"]
        assert "--node-ip-address=10.0.0.7" in cmd
        assert "--include-dashboard=false" in cmd  # no job-submission API on the node
        assert "can run code on every other one" in capsys.readouterr().err

    def test_dry_run_prints_it_and_a_name_is_refused(self, capsys):
        from inspector.cli import main

        assert main(["ray-worker", "--node-ip-address", "fd00::5", "--dry-run"]) == 0
        assert "--head --port=6379 --node-ip-address=fd00::5" in capsys.readouterr().out
        assert main(["ray-worker", "--node-ip-address", "eth0", "--dry-run"]) == 2
        assert "'eth0' is not an IP address" in capsys.readouterr().err


def test_a_queued_matrix_on_ray_cancels_like_a_local_one(cluster, monkeypatch):
    """Issue 24: through the job queue with INSPECTOR_RAY_ADDRESS set, a cancel was ignored
    (every configuration ran) and the job still ended "done". Now the outstanding tasks stop,
    none starts after the cancel, and the job ends "cancelled" with the results made so far."""
    import time
    from dataclasses import replace

    from onnx import helper, numpy_helper

    from inspector.limits import DEFAULT_LIMITS
    from inspector.run.execute.cluster import ADDRESS_ENV
    from inspector.run.execute.jobs import JobQueue, MatrixRun
    from inspector.run.setup.config import Matrix
    from tests.factories import model, vi

    monkeypatch.setenv(ADDRESS_ENV, cluster.address)
    w = numpy_helper.from_array(np.ones((1024, 1024), np.float32), "w")
    mm = model([helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", shape=[256, 1024])],
               [vi("y", shape=[256, 1024])], [w])  # fmt: skip
    m = load_model(mm.SerializeToString(), name="matmul.onnx")
    quick = RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0, label="quick")
    # ~10 ms a run, 1,000 runs with no budget and no target: only a cancel ends it soon
    slow = replace(quick, timed_runs=1000, time_budget_s=0, target_ci_pct=0)
    mat = Matrix((quick, *(replace(slow, label=f"slow {i}") for i in range(3))))
    q = JobQueue(slots=1, limits=DEFAULT_LIMITS)
    before_dirs = _run_dirs()
    job = q.submit("alice", "k", MatrixRun(m, mat, {"x": np.ones((256, 1024), np.float32)}))
    deadline = time.monotonic() + 120
    while not job.results and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.label for r in job.results] == ["quick"] and job.results[0].ok
    assert job.current == "slow 0"  # the driver waits on the next configuration
    start = time.monotonic()
    q.cancel(job.id)
    assert q.wait(job, 30), "the cancel was ignored"
    assert time.monotonic() - start < 10
    assert job.state == "cancelled"
    assert len(job.results) < len(mat.configs)
    assert [r.error_kind for r in job.results[1:]] == ["cancelled"]
    total = ray.cluster_resources()["CPU"]
    deadline = time.monotonic() + 10  # Ray gives a stopped task's CPU back asynchronously
    while ray.available_resources().get("CPU", 0) < total and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU", 0) == total, "a Ray task is still running"
    assert _ray_workers() == set(), "a confined worker still runs"
    assert _run_dirs() - before_dirs == set()  # each stopped task removed its private folder


def _ray_workers() -> set[int]:
    """Confined workers started by a Ray worker (other sessions on the host run their own)."""

    def cmdline(pid: int) -> bytes:
        try:
            return open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            return b""

    return {pid for pid in _workers() if b"ray" in cmdline(_parent(pid))}
