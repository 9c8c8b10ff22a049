"""RunRequest from each source (flags, the Run lab's form, a matrix file, a bundle), resolved
against real models; RunSummary's rows, ``to_dict`` (``run --json``'s shape) and gates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import numpy_helper

from inspector import load_model
from inspector.bundle import read_bundle, write_bundle
from inspector.cli import _parser
from inspector.run.execute.runner import run_matrix
from inspector.run.readout.results import failed
from inspector.run.readout.summary import RunSummary
from inspector.run.setup.config import ConfigError, Matrix, RunConfig
from inspector.run.setup.eps import EpInfo
from inspector.run.setup.inputs import InputError, default_inputs, parse_shape
from inspector.run.setup.plan import RunPlan, ep_choices
from inspector.run.setup.request import InputSpec, RunForm, RunRequest
from tests.factories import linear, string_pipeline

FAST = {"warmup_runs": 0, "timed_runs": 3, "profiled_runs": 0, "time_budget_s": 0.0}


@pytest.fixture(scope="module")
def lin():
    return load_model(linear().SerializeToString(), name="linear.onnx")


def args(*argv: str):
    return _parser().parse_args(["run", "m.onnx", *argv])


class TestSources:
    def test_flags(self, lin):
        req = RunRequest.from_args(
            args(
                *("--level", "basic", "--dim", "batch=2", "--shape", "x=3x4"),
                *("--range", "x=-1:1", "--runs", "9", "--timeout", "30", "--seed", "4"),
            )
        )
        assert [c.label for c in req.matrix.configs] == [
            "reference · CPU · disable_all",
            "CPU · basic",
        ]
        assert req.matrix.configs[1].timed_runs == 9
        assert req.inputs.dims == (("batch", 2),) and req.inputs.shapes == (("x", (3, 4)),)
        run = req.resolve(lin)
        assert run.limits.run_timeout_s == 30
        (x,) = run.inputs.values()
        assert x.shape == (3, 4) and -1 <= x.min() and x.max() <= 1
        assert run.generated[0].name == "x" and run.expected is None

    @pytest.mark.parametrize(
        "argv, message",
        [
            (("--shape", "x=1,a"), "--shape x=1,a: use integers"),
            (("--range", "x=1"), "--range x=1: use LOW:HIGH"),
            (("--dim", "batch=two"), "--dim values must be integers"),
        ],
        ids=["shape", "range", "dim"],
    )
    def test_a_bad_flag_is_refused_when_built_naming_it(self, argv, message):
        with pytest.raises(InputError, match=message):
            RunRequest.from_args(args(*argv))

    def test_form_values_build_the_flags_matrix(self, lin):
        choices = {"CPU": "cpu"}
        form = RunForm(
            eps=("CPU",),
            levels=("all",),
            runs=9,
            shapes=(("x", "2x4"),),
            ranges=(("x", 0.0, 5.0),),
            timeout=20,
        )
        req = RunRequest.from_form(form, choices)
        assert req.matrix == RunRequest.from_args(args("--level", "all", "--runs", "9")).matrix
        run = req.resolve(lin)
        assert run.inputs["x"].shape == (2, 4) and run.inputs["x"].min() >= 0
        assert run.limits.run_timeout_s == 20

    def test_form_refuses_a_bad_shape_and_an_unknown_ep_list(self):
        with pytest.raises(InputError, match="Shape of x: use integers"):
            RunRequest.from_form(RunForm(eps=("CPU",), shapes=(("x", "1,b"),)), {"CPU": "cpu"})
        with pytest.raises(ConfigError, match="'Gone → CPU' is not available"):
            RunRequest.from_form(RunForm(eps=("Gone → CPU",)), {"CPU": "cpu"})

    def test_form_asks_for_a_missing_ep_as_its_own_list(self):
        form = RunForm(eps=("CPU",), levels=("all",), missing_ep="TensorrtExecutionProvider")
        labels = [c.label for c in RunRequest.from_form(form, {"CPU": "cpu"}).matrix.configs]
        assert any("Tensorrt" in label for label in labels)

    def test_form_string_values(self):
        m = load_model(string_pipeline().SerializeToString(), name="s.onnx")
        form = RunForm(eps=("CPU",), levels=("all",), values=(("sex", "male, female ,other"),))
        run = RunRequest.from_form(form, {"CPU": "cpu"}).resolve(m)
        assert set(run.inputs["sex"].ravel()) <= {"male", "female", "other"}

    def test_matrix_file(self, lin, tmp_path):
        path = tmp_path / "m.json"
        path.write_text(json.dumps({"configs": [{"label": "one", "opt_level": "basic"}]}))
        run = RunRequest.from_matrix_file(path).resolve(lin)
        assert [c.label for c in run.matrix.configs] == ["one"]
        assert run.inputs["x"].shape == (1, 4)  # the suggested batch

    def test_bundle_reruns_its_configurations_on_its_exact_inputs(self, lin):
        feeds = {"x": np.arange(8, dtype=np.float32).reshape(2, 4)}
        results = run_matrix(lin, Matrix((RunConfig(label="a", **FAST),)), feeds)
        bundle = read_bundle(write_bundle(lin, results, feeds))
        run = RunRequest.from_bundle(bundle, "here · ").resolve(lin)
        assert [c.label for c in run.matrix.configs] == ["here · a"]
        np.testing.assert_array_equal(run.inputs["x"], feeds["x"])

    def test_exact_inputs_must_fit_the_model(self, lin):
        req = RunRequest.exact([RunConfig()], {"nope": np.ones(4, np.float32)})
        with pytest.raises(InputError, match="Missing input"):
            req.resolve(lin)

    def test_files_with_expected_outputs(self, lin, tmp_path):
        x = np.ones((1, 4), np.float32)
        files = (
            ("input_0.pb", numpy_helper.from_array(x, "x").SerializeToString()),
            (
                "output_0.pb",
                numpy_helper.from_array(np.zeros((1, 3), np.float32)).SerializeToString(),
            ),
        )
        run = RunRequest.from_plan(RunPlan(), InputSpec(files=files)).resolve(lin)
        np.testing.assert_array_equal(run.inputs["x"], x)
        assert run.expected is not None and run.expected["y"].shape == (1, 3)
        with pytest.raises(InputError, match="files or as arrays"):
            InputSpec(files=files, arrays={"x": x})

    def test_an_override_over_the_deployments_ceiling_is_refused(self, lin, monkeypatch):
        monkeypatch.setenv("INSPECTOR_LIMIT_RUN_TIMEOUT_S", "10")
        with pytest.raises(ConfigError, match="--timeout asks for run_timeout_s=30"):
            RunRequest.from_args(args("--timeout", "30")).resolve(lin)
        assert RunRequest.from_args(args()).resolve(lin).limits.run_timeout_s == 10

    def test_a_configuration_over_the_limits_is_refused(self, lin, monkeypatch):
        monkeypatch.setenv("INSPECTOR_LIMIT_MAX_TIMED_RUNS", "5")
        with pytest.raises(ConfigError, match="max_timed_runs"):
            RunRequest.from_args(args("--runs", "9")).resolve(lin)


def test_one_shape_parser_one_default_inputs_one_ep_choice_list(lin):
    assert parse_shape("1x3x224, 224", "s") == parse_shape("1,3,224,224", "s") == (1, 3, 224, 224)
    assert default_inputs(lin)["x"].shape == (1, 4)
    eps = [
        EpInfo(name=f"{name}ExecutionProvider", source="built-in", usable=usable, reason="")
        for name, usable in (("CPU", True), ("OpenVINO", True), ("Azure", True), ("CUDA", False))
    ]
    assert ep_choices(eps) == {"CPU": "cpu", "OpenVINO → CPU": "OpenVINOExecutionProvider,cpu"}


class TestSummary:
    @pytest.fixture(scope="class")
    def results(self, lin):
        feeds = {"x": np.ones((2, 4), np.float32)}
        configs = (
            RunConfig(label="ref", **FAST),
            RunConfig(label="all", opt_level="all", **FAST),
        )
        ok = run_matrix(lin, Matrix(configs), feeds)
        return (*ok, failed(RunConfig(label="bad"), "timeout", "took too long"))

    def test_rows_and_their_json(self, results):
        summary = RunSummary.of(results)
        ref, cand, bad = summary.rows
        assert (ref.status, cand.status, bad.status) == ("ok", "ok", "timeout")
        assert (
            ref.vs_ref is None
            and cand.vs_ref is not None
            and cand.versus.startswith(cand.vs_ref.verdict)
        )
        assert ref.spread.startswith("±") and cand.stop and ref.eps_text == "CPU 2"
        assert cand.allclose is True and ref.allclose is None
        doc = summary.to_dict()
        assert list(doc) == ["summary"]
        timed = {"label", "status", "median_ms", "ci_ms", "cv", "runs", "stop", "p90_ms"}
        timed |= {"session_s", "nodes_per_ep", "fallback_nodes", "inactive_eps"}
        assert set(doc["summary"][0]) == timed
        assert set(doc["summary"][1]) == timed | {"vs_ref", "max_abs_vs_ref", "allclose"}
        assert doc["summary"][2] == {"label": "bad", "status": "timeout", "error": "took too long"}
        assert bad.remarks == "took too long" and bad.median_ms is None
        json.dumps(doc)

    def test_gates(self, results):
        assert RunSummary.of(results).gate() == "configuration failed: took too long"
        ok = RunSummary.of(results[:2], rtol=1e-3)
        assert ok.gate() == "" and ok.gate(max_fallback_nodes=0) == ""
        assert "nodes off the preferred EP (max -1)" in ok.gate(max_fallback_nodes=-1)
        wrong = {"y": np.full((2, 3), 1e6, np.float32)}
        checked = RunSummary.of(results[:2], rtol=1e-3, expected=wrong)
        assert checked.gate() == "ref: outputs differ from the expected outputs"
        assert "expected" in checked.to_dict()
        ungated = RunSummary.of(results[:2], expected=wrong)  # reported, not a gate
        assert ungated.gate() == "" and ungated.expected is not None

    def test_a_reference_not_finished_yet(self, results):
        (row,) = RunSummary.of(results[1:2], reference=1).rows
        assert row.vs_ref is None and row.allclose is None and row.median_ms is not None
