"""Issue 23: per-node time lands on the nodes that ran it, after ORT's fusions and in If bodies.

Each case is a model built in code that shows one rewrite ORT makes of real models (see
tests/test_real_invariants.py for the same invariants on every real model): Sigmoid + Mul fused
into a QuickGelu between NCHWc Convs, MatMul + Add fused into a Gemm (with Reshapes ORT adds for
a 3-D input), and an If whose profile event holds its branch's events.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from inspector import load_model
from inspector.run.analyses.compare import node_timing_table
from inspector.run.execute.runner import run_matrix
from inspector.run.readout.profile import parse_events
from inspector.run.setup.config import RunConfig, expand_matrix
from tests.factories import if_branches, matmul_add, silu_cnn

PROFILED = dict(warmup_runs=0, timed_runs=1, profiled_runs=3)


def run(proto, level: str, feeds):
    m = load_model(proto.SerializeToString(), name="m.onnx")
    (r,) = run_matrix(
        m,
        expand_matrix(["cpu"], [level], base=RunConfig(**PROFILED), include_reference=False),
        feeds,
    )
    assert r.ok, r.error
    return m, r


def ids_of(m, *names: str) -> set[str]:
    by_name = {n.name: f"main:{i}" for i, n in enumerate(m.proto.graph.node)}
    return {by_name[n] for n in names}


def owners(r) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k in r.kernels:
        for i in k.ids:
            out.setdefault(i, []).append(k.kernel)
    return out


class TestQuickGelu:
    """Real detector at level all: 39 of 57 QuickGelu kernels had no origin, and the walk from
    the next Conv passed through them: each Sigmoid and Mul got a third of a Conv's time."""

    @pytest.fixture(scope="class")
    def result(self):
        feeds = {"image": np.random.default_rng(0).random((1, 3, 16, 16), np.float32)}
        return run(silu_cnn(blocks=3), "all", feeds)

    def test_each_quickgelu_computes_its_sigmoid_and_mul(self, result):
        m, r = result
        kinds = {k.kernel: k for k in r.kernels}
        gelus = [k for k in r.kernels if k.op_type == "QuickGelu"]
        assert len(gelus) == 3, sorted(kinds)
        for b in range(3):
            gelu = next(k for k in gelus if k.kernel.startswith(f"mul{b}/"))
            assert set(gelu.ids) == ids_of(m, f"sigmoid{b}", f"mul{b}") and gelu.kind == "fused"
            conv = next(k for k in r.kernels if k.kernel.startswith(f"conv{b}_out_nchwc"))
            assert set(conv.ids) == ids_of(m, f"conv{b}"), conv  # nothing of the SiLU before it

    def test_no_node_is_credited_twice_and_reorders_are_their_own_lines(self, result):
        _, r = result
        assert all(len(v) == 1 for v in owners(r).values()), owners(r)
        reorders = [k for k in r.kernels if k.op_type.startswith("Reorder")]
        assert reorders and all(k.kind == "runtime" and not k.ids for k in reorders)
        assert not [k for k in r.kernels if k.kind == "unmapped"]

    def test_the_table_names_nodes_and_marks_the_split(self, result):
        _, r = result
        _, rows = node_timing_table((r,))
        by_label = {row.label: row for row in rows}
        assert {"conv0", "sigmoid0", "mul0"} <= set(by_label)
        assert by_label["conv0"].derived == (False,) and "ran as Conv" in by_label["conv0"].via[0]
        gelu = next(k.kernel for k in r.kernels if k.kernel.startswith("mul0/"))
        for name in ("sigmoid0", "mul0"):
            row = by_label[name]
            assert row.derived == (True,) and f"1/2 of QuickGelu {gelu!r}" in row.via[0]
        reorder = next(row for row in rows if row.runtime)
        assert reorder.node_id == "" and "layout conversion" in reorder.via[0]
        total = sum(row.times_us[0] or 0 for row in rows)
        assert total == pytest.approx(r.profile.node_sum_us, rel=1e-6)  # nothing counted twice


@pytest.mark.parametrize("rank", [2, 3])
def test_matmul_add_gemm_computes_both_and_its_reshapes_are_the_runtimes(rank):
    """A MatMul + Add became a Gemm (3-D input: between Reshapes ORT adds, whose tensors have
    new names) or, with the Relu, a FusedGemm named ``fused …/MatMulAddFusion``: the fused
    Gemms got no origin and a Reshape claimed the Add."""
    shape = (2, 4, 16)[-rank:]
    m, r = run(matmul_add(rank), "all", {"x": np.ones(shape, np.float32)})
    gemm = next(k for k in r.kernels if "Gemm" in k.op_type)
    assert gemm.kind == "fused" and set(gemm.ids) >= ids_of(m, "matmul", "add"), r.kernels
    for k in r.kernels:
        if k.op_type == "Reshape":
            assert k.kind == "runtime" and not k.ids and "inserted" in k.note
    assert all(len(v) == 1 for v in owners(r).values())


class TestIfBodies:
    """A VAD with an If: the If's event and its branch's nodes were both counted (node-sum /
    run = 2.0, the If showing a 48 % share), and rows were labelled by ids."""

    @pytest.fixture(scope="class")
    def result(self):
        return run(if_branches(8), "disable_all", {"x": np.ones((64, 64), np.float32)})

    def test_node_times_add_up_to_at_most_the_run(self, result):
        _, r = result
        p = r.profile
        assert p.node_sum_us <= p.run_median_us * 1.05, (p.node_sum_us, p.run_median_us)
        branch = next(t for t in p.nodes if t.op_type == "If")
        body = [t for t in p.nodes if t.node.startswith("then_")]
        assert len(body) == 8
        assert branch.inclusive_us is not None
        assert branch.median_us < branch.inclusive_us  # its own time, without its body's
        assert branch.inclusive_us >= sum(t.median_us for t in body) * 0.5

    def test_body_nodes_are_labelled_by_name_with_their_ids_kept(self, result):
        _, r = result
        _, rows = node_timing_table((r,))
        body = [row for row in rows if row.name.startswith("then_")]
        assert len(body) == 8
        assert {row.label for row in body} == {f"then_sin{i}" for i in range(8)}
        assert all(row.node_id.startswith("main:2.then_branch:") for row in body)
        assert all(row.derived == (False,) for row in body)


def test_nested_events_are_subtracted_once_per_level():
    """Synthetic trace: a Loop holding an If holding two nodes, then a node after the Loop."""

    def ev(name, op, ts, dur, tid=1):
        return {
            "cat": "Node",
            "name": f"{name}_kernel_time",
            "ts": ts,
            "dur": dur,
            "pid": 1,
            "tid": tid,
            "args": {"op_name": op, "provider": "CPUExecutionProvider"},
        }

    run_ = {"cat": "Session", "name": "model_run", "ts": 0, "dur": 200}
    events = [
        run_,
        ev("a", "Add", 22, 10),
        ev("b", "Mul", 33, 20),
        ev("if", "If", 20, 40),  # a + b inside it
        ev("c", "Sub", 62, 5),
        ev("loop", "Loop", 10, 60),  # if + c inside it
        ev("after", "Relu", 71, 9),  # starts after the Loop ended
        ev("other_thread", "Relu", 25, 10, tid=2),  # not inside anything
    ]
    p = parse_events(events, drop_warmup=0)
    t = {n.node: n for n in p.nodes}
    assert t["if"].median_us == 10 and t["if"].inclusive_us == 40
    assert t["loop"].median_us == 15 and t["loop"].inclusive_us == 60
    assert t["after"].median_us == 9 and t["after"].inclusive_us is None
    assert p.node_sum_us == 10 + 20 + 10 + 5 + 15 + 9 + 10


def test_optimized_model_of_a_run_loads_with_its_weights(tmp_path):
    """``--out DIR/run_XX/optimized.onnx`` failed to load: its weights file (optimized.data,
    which ORT writes beside it) was not kept. The record now carries it and ``save`` writes it."""
    from inspector.cli.run import save

    m, r = run(silu_cnn(blocks=2, channels=32), "all", {"image": np.ones((1, 3, 16, 16), "f")})
    assert r.optimized_model_data(), "no weight over 1 KB went to the data file"
    save(tmp_path, [r], {}, {"image": np.ones((1, 3, 16, 16), np.float32)})
    session = ort.InferenceSession(
        str(tmp_path / "run_00" / "optimized.onnx"), providers=["CPUExecutionProvider"]
    )
    (y,) = session.run(None, {"image": np.ones((1, 3, 16, 16), np.float32)})
    np.testing.assert_allclose(y, r.output_arrays()["y"], rtol=1e-5, atol=1e-6)
