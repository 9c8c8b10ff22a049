"""Issue 28: each configuration's worker memory — before its session, the high-water marks of
creating and running it — agrees with an outside measurement of the same session, travels in
the results (JSON, bundles), and is drawn across configurations on Compare."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inspector import load_model
from inspector.bundle import read_bundle, write_bundle
from inspector.charts import memory_bars
from inspector.run.execute.runner import run_matrix
from inspector.run.setup.config import Matrix, RunConfig
from inspector.run.setup.inputs import default_inputs
from tests import realmodels

#: The same session and runs in a plain interpreter (numpy + onnxruntime, nothing of ours),
#: reporting its own high-water mark from the kernel.
OUTSIDE = """
import json, sys
import numpy as np, onnxruntime as ort
path, level, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
feeds = {k: v for k, v in np.load(sys.argv[4]).items()}
so = ort.SessionOptions()
so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
so.intra_op_num_threads = 1
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
for _ in range(runs):
    sess.run(None, feeds)
hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_bytes": hwm}))
"""


def _detector():
    real = next(m for m in realmodels.catalogue() if m.id == "nudenet_yolov8n_320")
    if not real.path.exists():
        pytest.skip(realmodels.FETCH)
    return real


def test_peak_memory_agrees_with_an_outside_measurement_of_the_same_session(tmp_path):
    import numpy as np

    real = _detector()
    model = load_model(real.path)
    inputs = realmodels.inputs(real, model.proto)
    configs = (
        RunConfig(opt_level="disable_all", timed_runs=5, profiled_runs=0, label="none"),
        RunConfig(opt_level="all", timed_runs=5, profiled_runs=0, label="all"),
    )
    results = run_matrix(model, Matrix(configs), inputs)
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, **inputs)
    for r, level in zip(results, ("ORT_DISABLE_ALL", "ORT_ENABLE_ALL"), strict=True):
        assert r.ok and r.memory is not None, r.error
        m = r.memory
        assert m.baseline_bytes and m.create_peak_bytes and m.run_peak_bytes
        assert m.baseline_bytes < m.create_peak_bytes <= m.peak_bytes  # the session costs memory
        out = subprocess.run(
            [sys.executable, "-c", OUTSIDE, str(real.path), level, "6", str(feeds)],
            capture_output=True,
            text=True,
            check=True,
        )
        outside = json.loads(out.stdout)["peak_bytes"]
        assert abs(m.peak_bytes - outside) <= 0.25 * outside, (r.label, m.peak_bytes, outside)


def test_memory_travels_in_json_and_bundles_and_is_drawn_per_configuration(samples):
    model = load_model(samples / "mlp_gelu_layernorm.onnx")
    configs = (
        RunConfig(timed_runs=2, profiled_runs=0, label="a"),
        RunConfig(opt_level="all", timed_runs=2, profiled_runs=0, label="b"),
    )
    inputs = default_inputs(model)
    results = run_matrix(model, Matrix(configs), inputs)
    assert all(r.memory is not None for r in results)
    assert results[0].to_dict()["memory"]["create_peak_bytes"] > 0
    back = read_bundle(write_bundle(model, results, inputs, include_model=False))
    assert [r.memory for r in back.results] == [r.memory for r in results]
    fig = memory_bars(results)
    assert [t.name for t in fig.data][:2] == ["before the session", "peak: creating the session"]
    assert list(fig.data[1].x) == ["a", "b"] and all(y > 0 for y in fig.data[1].y)
