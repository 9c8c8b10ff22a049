"""Issue 25: the default matrix always runs CPU alone at each chosen level beside a second EP
(the CLI and the Run lab alike), Compare's default candidate is a configuration where a non-CPU
EP really ran nodes, and a strict refusal the fallback demo expects is not a failure."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.cli import _parser
from inspector.model.load import load_model
from inspector.run.execute.runner import run_matrix
from inspector.run.readout.outcome import EXPECTED_REFUSAL, default_candidate, outcomes
from inspector.run.setup.config import ConfigError, RunConfig
from inspector.run.setup.demo import demo_ep, demo_matrix
from inspector.run.setup.inputs import default_inputs
from inspector.run.setup.plan import RunPlan
from inspector.run.setup.request import RunForm, RunRequest
from tests.conftest import ROOT, real_model_params
from tests.factories import cnn_bn_relu, model, vi

CPU = "CPUExecutionProvider"
FAST = dict(warmup_runs=0, timed_runs=1, profiled_runs=0)


def labels(matrix) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.label for c in matrix.configs]


class TestCpuAtEachLevel:
    def test_from_the_run_lab_form(self):
        form = RunForm(eps=("ggml → CPU",), levels=("disable_all", "all"))
        matrix = RunRequest.from_form(form, {"CPU": "cpu", "ggml → CPU": "ggml,cpu"}).matrix
        # CPU · disable_all *is* the reference: not listed twice.
        assert labels(matrix) == [
            "reference · CPU · disable_all",
            "CPU · all",
            "ggml+CPU · disable_all",
            "ggml+CPU · all",
        ]

    def test_from_the_cli_at_every_level_with_the_options(self):
        argv = ["run", "m.onnx", "--ep", "ggml,cpu", "--level", "basic", "--level", "all"]
        argv += ["--disable", "GeluFusionL1", "--runs", "7"]
        matrix = RunRequest.from_args(_parser().parse_args(argv)).matrix
        cpu = [c for c in matrix.configs[1:] if [e.name for e in c.eps] == [CPU]]
        assert [c.opt_level for c in cpu] == ["basic", "all"]
        # The same options as the second EP's configurations: only the EP differs.
        assert {(c.disabled_optimizers, c.timed_runs) for c in matrix.configs[1:]} == {
            (("GeluFusionL1",), 7)
        }

    def test_a_cpu_list_given_is_not_added_again_and_keeps_its_place(self):
        plan = RunPlan(ep_lists=("ggml,cpu", "cpu"), levels=("all",))
        assert labels(plan.matrix()) == [
            "reference · CPU · disable_all",
            "ggml+CPU · all",
            "CPU · all",
        ]

    def test_cpu_alone_adds_nothing(self):
        plan = RunPlan(ep_lists=("cpu",), levels=("disable_all", "all"))
        assert labels(plan.matrix()) == ["reference · CPU · disable_all", "CPU · all"]

    def test_no_reference_runs_the_lists_alone(self):
        args = _parser().parse_args(["run", "m.onnx", "--ep", "ggml,cpu", "--no-reference"])
        assert labels(RunRequest.from_args(args).matrix) == ["ggml+CPU · all"]

    def test_strict_applies_to_the_second_ep_and_cpu_stays_plain(self):
        argv = ["run", "m.onnx", "--ep", "ggml,cpu", "--level", "disable_all", "--level", "all"]
        matrix = RunRequest.from_args(_parser().parse_args([*argv, "--strict"])).matrix
        assert [(c.label, c.strict) for c in matrix.configs] == [
            ("reference · CPU · disable_all", False),
            ("CPU · all", False),
            ("ggml · disable_all · strict", True),
            ("ggml · all · strict", True),
        ]
        with pytest.raises(ConfigError, match="needs an EP other than CPU"):
            RunPlan(ep_lists=("cpu",), strict=True).matrix()

    def test_the_fallback_demo_has_cpu_at_its_levels(self):
        matrix = demo_matrix("ggml")
        assert labels(matrix)[:2] == ["reference · CPU · disable_all", "CPU · all"]
        assert sum(c.strict for c in matrix.configs) == 2

    def test_the_openvino_demo_compares_at_fp32(self):
        """OpenVINO's CPU plugin computes in bf16 by default where the CPU has AMX/AVX-512 BF16
        (YOLOv8n: max |Δ| 1.42): its demo asks for FP32 (through load_config, in the worker);
        other EPs' demos keep their options."""
        ov = demo_matrix("OpenVINOExecutionProvider")
        with_ov = [c for c in ov.configs if c.eps[0].name == "OpenVINOExecutionProvider"]
        assert len(with_ov) == 4  # two levels, each also strict
        assert all(dict(c.eps[0].options) == {"precision": "FP32"} for c in with_ov)
        ggml = demo_matrix("ggml")
        assert all("precision" not in dict(c.eps[0].options) for c in ggml.configs)


# ---------------------------------------------------------------------- on real runs


def second_ep() -> str:
    ep = demo_ep()
    if ep is None:
        pytest.skip("no usable second EP here (discover() says why)")
    return ep.name


def run_plan(path, ep: str):  # type: ignore[no-untyped-def]
    loaded = load_model(str(path))
    plan = RunPlan(ep_lists=(f"{ep},cpu",), levels=("disable_all", "all"), **FAST)
    return run_matrix(loaded, plan.matrix(), default_inputs(loaded))


def qdq_conv() -> onnx.ModelProto:
    """A quantized 2-D Conv (QDQ): ggml claims the Conv and then fails at it."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.integers(-5, 5, (4, 3, 3, 3)).astype(np.int8), "w_q"),
        numpy_helper.from_array(np.array(0.05, np.float32), "xs"),
        numpy_helper.from_array(np.array(0, np.int8), "xz"),
        numpy_helper.from_array(np.array(0.02, np.float32), "ws"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w_q", "ws"], ["wd"]),
        helper.make_node("Conv", ["xd", "wd"], ["y"], name="Conv_0", pads=[1, 1, 1, 1]),
    ]
    return model(nodes, [vi("x", TensorProto.FLOAT, [1, 3, 8, 8])], [vi("y")], inits)


def test_the_demo_picks_the_config_where_the_second_ep_ran_and_refusals_are_expected():
    ep = second_ep()
    loaded = load_model(str(ROOT / "sample_models" / "ep_fallback_det.onnx"))
    results = run_matrix(loaded, demo_matrix(ep, RunConfig(**FAST)), default_inputs(loaded))
    short = ep.removesuffix("ExecutionProvider")
    # The first configuration (matrix order) where the EP ran nodes: at the reference's level,
    # so only the EP differs from it.
    assert default_candidate(results, results[0].label) == f"{short}+CPU · disable_all"
    ended = {o.label: o for o in outcomes(results)}
    strict = [r for r in results if r.config.strict]
    assert len(strict) == 2 and all(ended[r.label].kind == "expected_refusal" for r in strict)
    text = ended[f"{short} · all · strict"].text
    assert text == (
        f"{EXPECTED_REFUSAL} — {short} has no kernel for Det "
        f"(1 node ran on CPU in {short}+CPU · all)"
    )
    assert all(ended[r.label].kind == "ok" for r in results if not r.config.strict)


def test_an_ep_that_takes_nothing_leaves_cpu_at_the_level_as_candidate(tmp_path):
    """ggml claims no 2-D Conv: the candidate is the CPU baseline the default matrix added,
    not the second EP's configuration that is CPU under another name."""
    ep = second_ep()
    path = tmp_path / "cnn.onnx"
    path.write_bytes(cnn_bn_relu().SerializeToString())
    results = run_plan(path, ep)
    assert all(r.ok for r in results)
    took = {r.label: dict(r.fallback.nodes_per_ep).get(ep, 0) for r in results if r.fallback}
    if any(took.values()):
        pytest.skip(f"{ep} takes nodes of this CNN here: {took}")
    assert default_candidate(results, results[0].label) == "CPU · all"


def test_an_ep_that_fails_is_never_the_default_candidate(tmp_path):
    """Issue 25: ggml claims a 2-D QDQ Conv and fails; the CPU baseline still gives Compare
    two configurations that ran."""
    ep = second_ep()
    path = tmp_path / "qdq_conv.onnx"
    path.write_bytes(qdq_conv().SerializeToString())
    results = run_plan(path, ep)
    ran = [r.label for r in results if r.ok]
    assert ran[:2] == ["reference · CPU · disable_all", "CPU · all"]
    if len(ran) == len(results):
        pytest.skip(f"{ep} runs this QDQ Conv here")
    failed = {r.label for r in results if not r.ok}
    assert {o.kind for o in outcomes(results) if o.label in failed} == {"failed"}
    assert default_candidate(results, results[0].label) not in failed
    assert default_candidate(results[:1], results[0].label) is None  # nothing else ran


REAL = ("nudenet_yolov8n_320", "minilm_l6_int8w")


@pytest.mark.parametrize("real", [p for p in real_model_params() if p.id in REAL])
def test_real_models_leave_two_configurations_and_a_candidate_that_ran(real):
    """A YOLOv8n detector and a MiniLM transformer under the Run lab's default matrix: at
    least two configurations ran, and the candidate is the second EP's configuration only if
    that EP really ran nodes — else the CPU run at the level 'all' (on AMD hosts today ggml
    takes none of either)."""
    ep = second_ep()
    results = run_plan(real.path, ep)
    assert sum(r.ok for r in results) >= 2
    took = [
        r.label for r in results if r.ok and r.fallback and dict(r.fallback.nodes_per_ep).get(ep)
    ]
    assert default_candidate(results, results[0].label) == (took[0] if took else "CPU · all")
