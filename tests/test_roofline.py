"""Static cost next to measured time: achieved GFLOP/s, intensity, roofs, the measured peaks,
the chart, the report's section and ``run --json``'s fields."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from onnx import helper, numpy_helper

from inspector import load_model
from inspector.charts import roofline_scatter
from inspector.model.cost import build_cost
from inspector.report import html_report
from inspector.run.analyses.roofline import (
    MachinePeaks,
    input_shapes,
    machine_peaks,
    measure_peaks,
    roofline,
    rooflines,
    suggested_shapes,
)
from inspector.run.execute.runner import run_matrix
from inspector.run.setup.config import Matrix, RunConfig
from inspector.run.setup.inputs import default_inputs
from tests.factories import model, silu_cnn, vi

M, K, N = 128, 256, 256
PROFILED = dict(warmup_runs=1, timed_runs=3, profiled_runs=3)


def single_matmul():
    """x [M, K] @ W [K, N]: 2·M·K·N FLOPs; K·N·4 parameter bytes, M·K·4 read, M·N·4 written."""
    w = np.random.default_rng(0).standard_normal((K, N)).astype(np.float32)
    return model(
        [helper.make_node("MatMul", ["x", "W"], ["y"], "mm")],
        [vi("x", shape=[M, K])],
        [vi("y", shape=[M, N])],
        [numpy_helper.from_array(w, "W")],
        opsets=[helper.make_opsetid("", 17)],
    )


#: Fixed peaks for the arithmetic tests: 100 GFLOP/s, 10 GB/s (ridge at 10 FLOP/byte).
PEAKS = MachinePeaks(
    gflops=100.0,
    bandwidth_gbs=10.0,
    threads=1,
    matmul_n=0,
    matmul_reps=0,
    copy_bytes=0,
    copy_reps=0,
    matmul_s=(),
    copy_s=(),
    how="fixed for the test",
)


@pytest.fixture(scope="module")
def matmul_run():
    m = load_model(single_matmul().SerializeToString(), name="mm.onnx")
    inputs = default_inputs(m)
    (r,) = run_matrix(m, Matrix((RunConfig(opt_level="all", label="all", **PROFILED),)), inputs)
    assert r.ok, r.error
    return m, r, inputs


class TestSingleMatMul:
    def test_achieved_gflops_is_flops_over_the_profiled_time(self, matmul_run):
        m, r, inputs = matmul_run
        cost = build_cost(m, input_shapes(inputs))
        rl = roofline(r, cost, PEAKS)
        (p,) = rl.points
        (kernel,) = [t for t in r.profile.nodes if t.op_type == "MatMul"]
        assert p.key == "main:0" and p.node_ids == ("main:0",) and p.op_type == "MatMul"
        assert p.how == "" and p.kernels == (kernel.node,)
        assert p.flops == 2 * M * K * N and p.macs == M * K * N
        assert p.time_us == kernel.median_us > 0
        assert p.gflops == pytest.approx(2 * M * K * N / (kernel.median_us * 1e-6) / 1e9)
        nbytes = 4 * (K * N + M * K + M * N)
        assert p.bytes == nbytes and p.param_bytes == 4 * K * N
        assert p.intensity == pytest.approx(2 * M * K * N / nbytes)
        # 51.2 FLOP/byte is past the ridge (10): the compute roof bounds it.
        assert p.roof_gflops == 100.0
        assert p.fraction == pytest.approx(p.gflops / 100.0)
        assert p.lost_us == pytest.approx(max(0.0, p.time_us - p.flops / (100.0 * 1e3)))
        assert rl.gflops == pytest.approx(p.gflops) and rl.flops == p.flops
        assert rl.by_op[0].op_type == "MatMul" and rl.by_op[0].gflops == pytest.approx(p.gflops)
        assert rl.far_below(5) == (p,) and rl.apart == ()

    def test_roof_is_the_lower_of_the_two(self):
        assert PEAKS.ridge == 10.0
        assert PEAKS.roof(2.0) == 20.0 and PEAKS.roof(10.0) == 100.0 and PEAKS.roof(50.0) == 100.0

    def test_no_peaks_no_roof(self, matmul_run):
        m, r, inputs = matmul_run
        failed = replace(PEAKS, gflops=None, bandwidth_gbs=None, error="no benchmark")
        (p,) = roofline(r, build_cost(m, input_shapes(inputs)), failed).points
        assert p.gflops > 0 and p.roof_gflops is None and p.fraction is None and p.lost_us is None

    def test_chart_draws_points_and_both_roofs(self, matmul_run):
        m, r, inputs = matmul_run
        rl = roofline(r, build_cost(m, input_shapes(inputs)), PEAKS)
        fig = roofline_scatter(rl)
        names = [t.name for t in fig.data]
        assert names[0] == "MatMul" and fig.data[0].customdata[0][-1] == "main:0"
        assert list(fig.data[0].x) == [rl.points[0].intensity]
        assert any(n.startswith("memory roof: copy 10.0 GB/s") for n in names)
        assert any(n.startswith("compute roof: float32 100.0 GFLOP/s") for n in names)
        roof = next(t for t in fig.data if t.name.startswith("compute roof"))
        assert list(roof.y) == [100.0, 100.0] and roof.x[0] == 10.0
        assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"

    def test_report_has_totals_and_the_scatter(self, matmul_run):
        m, r, inputs = matmul_run
        page = html_report(m, [r], inputs=inputs)
        assert "<h2>Cost and roofline</h2>" in page
        assert f"{2 * M * K * N:,}" in page and "x [128, 256]" in page
        assert "Roofline of all" in page  # the chart's title, in the figure's JSON

    def test_rooflines_without_inputs_use_the_suggested_sizes(self, matmul_run):
        m, r, _ = matmul_run
        assert suggested_shapes(m) == {"x": (M, K)}
        (rl,) = rooflines(m, [r])
        assert rl.input_shapes == (("x", (M, K)),) and rl.points[0].flops == 2 * M * K * N


class TestFusedUnits:
    def test_a_fused_kernel_and_its_nodes_are_one_point(self):
        """At level 'all' ORT fuses each Sigmoid + Mul (SiLU) into one kernel and wraps the
        Convs in layout Reorders of its own: the pair is one unit timed by its kernel, the
        Reorders are listed apart."""
        m = load_model(silu_cnn(blocks=2).SerializeToString(), name="silu.onnx")
        inputs = default_inputs(m)
        (r,) = run_matrix(m, Matrix((RunConfig(opt_level="all", **PROFILED),)), inputs)
        rl = roofline(r, build_cost(m, input_shapes(inputs)), PEAKS)
        fused = [p for p in rl.points if len(p.node_ids) > 1]
        assert fused, [p.node_ids for p in rl.points]
        kernels = {t.node: t for t in r.profile.nodes}
        for p in fused:
            assert set(p.op_type.split("+")) == {"Sigmoid", "Mul"}
            assert p.time_us == pytest.approx(sum(kernels[k].median_us for k in p.kernels))
            assert p.how == f"2 nodes fused into {p.kernels[0]!r}: timed together"
        # No point holds a Sigmoid or a Mul alone: each went with its partner.
        assert all(
            p.op_type in ("Conv", "Sigmoid+Mul", "Mul+Sigmoid", "ReduceMean") for p in rl.points
        )
        whys = {a.why for a in rl.apart}
        assert any(w.startswith("ONNX Runtime's own kernel") for w in whys)
        placed = {n for p in rl.points for n in p.node_ids}
        assert all(a.key not in placed for a in rl.apart)


class TestPeaks:
    def test_measured_peaks_are_positive_finite_and_cached(self):
        p = machine_peaks(1)
        assert p.error == "" and p.threads == 1
        assert p.gflops is not None and math.isfinite(p.gflops) and p.gflops > 0
        assert p.bandwidth_gbs is not None and math.isfinite(p.bandwidth_gbs)
        assert p.bandwidth_gbs > 0 and len(p.matmul_s) == p.matmul_reps
        # The float32 roof is the best of numpy's GEMM and ONNX Runtime's MatMul and Conv.
        gemm = 2 * p.matmul_n**3 / min(p.matmul_s) / 1e9
        rates = dict(p.rates)
        assert rates["numpy GEMM"] == pytest.approx(gemm)
        assert set(rates) == {"numpy GEMM", "ONNX Runtime MatMul", "ONNX Runtime Conv 3×3"}
        assert p.gflops == max(rates.values())
        assert p.int8_gops is not None and p.int8_gops > 0  # MatMulInteger
        # The in-cache copies: 4, 16 and 64 MiB working sets, each at least the large copy's.
        assert [size for size, _ in p.cache_bandwidths] == [4 << 20, 16 << 20, 64 << 20]
        assert all(gbs > 0 for _, gbs in p.cache_bandwidths)
        assert "1024×1024" in p.how and "128 MiB" in p.how and "MatMulInteger" in p.how
        assert machine_peaks(1) is p  # once per process

    def test_a_unit_gets_the_bandwidth_of_the_cache_it_fits_and_integers_the_int8_peak(self):
        peaks = replace(
            PEAKS,
            cache_bandwidths=((4 << 20, 150.0), (16 << 20, 170.0), (64 << 20, 80.0)),
            int8_gops=400.0,
        )
        assert peaks.bandwidth() == 10.0  # memory's: the 128 MiB copy
        assert peaks.bandwidth(1 << 20) == 170.0  # the best of the working sets it fits
        assert peaks.bandwidth(20 << 20) == 80.0 and peaks.bandwidth(1 << 30) == 10.0
        assert peaks.roof(0.5, nbytes=1 << 20) == 85.0  # 0.5 FLOP/byte × 170 GB/s
        assert peaks.roof(50.0, nbytes=1 << 20) == 100.0  # float32 peak
        assert peaks.roof(50.0, integer=True, nbytes=1 << 20) == 400.0  # int8 peak
        assert replace(peaks, int8_gops=None).roof(50.0, integer=True) == 500.0  # memory only

    def test_a_failed_benchmark_is_a_record_with_the_reason(self):
        p = measure_peaks(1, n=-1, reps=1, copy_bytes=1024, copy_reps=1)
        assert p.gflops is None and p.bandwidth_gbs is None
        assert p.error.startswith("the benchmark process failed") and p.roof(1.0) is None


def test_run_json_has_the_roofline_per_configuration(tmp_path, capsys):
    from inspector.cli import main

    path = tmp_path / "mm.onnx"
    path.write_bytes(single_matmul().SerializeToString())
    code = main(["run", str(path), "--json", "--profiled-runs", "2", "--runs", "3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = out["roofline"]
    assert [r["label"] for r in rows] == [r["label"] for r in out["results"]]
    for row in rows:
        assert row["flops"] == 2 * M * K * N and row["gflops"] > 0
        assert row["input_shapes"] == {"x": [M, K]}
        assert row["peaks"]["gflops"] > 0 and row["by_op"][0]["op_type"] == "MatMul"
        assert row["far_below"][0]["key"] == "main:0"


# ---------------------------------------------------------------------- on real models


def _real_roofline(model_id: str):  # type: ignore[no-untyped-def]
    from tests.realmodels import FETCH, catalogue

    (real,) = [m for m in catalogue() if m.id == model_id]
    if not real.path.exists():
        pytest.skip(f"{real.package} not cached: run {FETCH}")
    loaded = load_model(real.path)
    inputs = default_inputs(loaded)
    config = RunConfig(opt_level="all", intra_op_threads=1, **PROFILED)
    (r,) = run_matrix(loaded, Matrix((config,)), inputs)
    assert r.ok, r.error
    # Peaks measured now, next to the run (best-of repetitions: a busy moment slows some, not
    # the best), rather than the process's cached ones from earlier in the suite.
    return roofline(r, build_cost(loaded, input_shapes(inputs)), measure_peaks(1)), r


def test_the_roofs_bound_a_real_detectors_units():
    """A roof is a ceiling: on the real YOLOv8n detector (one thread) 108 of its 150 units
    were drawn above theirs (58 by more than 25 %) — its 3×3 Convs ran at 113–117 GFLOP/s
    against numpy's GEMM at 99 (ONNX Runtime's NCHWc Conv beats the GEMM), and its activations,
    a few MB, came from cache at 5–8× the 128 MiB copy's bandwidth. The float32 roof is now
    the best of the GEMM and ONNX Runtime's own kernels, and each unit's memory roof the
    bandwidth of the cache it fits. A unit may still beat its roof a little (the peaks are
    measured once, on a shared machine): what must not happen is most of them far above it."""
    rl, _ = _real_roofline("nudenet_yolov8n_320")
    above = [p for p in rl.points if p.fraction is not None and p.fraction > 1.25]
    assert len(above) <= len(rl.points) // 10, [(p.label, p.fraction) for p in above[:5]]


def test_int8_kernels_are_held_to_the_int8_peak():
    """A QDQ export: ONNX Runtime runs its DequantizeLinear → Conv/MatMul → QuantizeLinear as
    int8 kernels (QLinearConv, …) at ~4× the float32 rate — above the float32 roof, which does
    not bound them. Their units are marked integer and get the int8 MatMulInteger peak."""
    rl, r = _real_roofline("smart_turn_v3_2_qdq")
    from inspector.run.analyses.roofline import INTEGER_KERNEL

    integer_kernels = {t.node for t in r.profile.nodes if INTEGER_KERNEL.search(t.op_type)}
    assert any("QLinear" in t.op_type for t in r.profile.nodes), {
        t.op_type for t in r.profile.nodes
    }
    ints = [p for p in rl.points if p.integer]
    assert ints and all(set(p.kernels) & integer_kernels for p in ints)
    assert rl.peaks.int8_gops and rl.peaks.gflops
    dram = rl.peaks.bandwidth_gbs or 0.0
    for p in ints:  # the int8 peak caps them, never the float32 one; memory roofs still apply
        assert p.roof_gflops is not None and p.roof_gflops <= rl.peaks.int8_gops
        assert p.roof_gflops >= min(rl.peaks.int8_gops, p.intensity * dram)
    above = [(p.label, p.fraction) for p in ints if (p.fraction or 0) > 1.25]
    assert len(above) <= max(2, len(ints) // 10), above
