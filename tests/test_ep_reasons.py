"""Issue 25: why an EP took what it took. The worker captures what ONNX Runtime and the plugin EP
log while the session is set up; each configuration naming an EP besides CPU either has nodes
on it or says why not in the EP's own words; an EP that claims a node and cannot run it is an
``ep_failure`` naming the EP and the node. Real runs on real models (skipped where ggml is not
usable on this host, with discovery's reason)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import build_overview, load_model
from inspector.bundle import from_jsonable
from inspector.cli import main
from inspector.records import to_jsonable
from inspector.run.execute.runner import RunResult, run_matrix
from inspector.run.readout.eplog import bounded, log_lines
from inspector.run.readout.summary import RunSummary
from inspector.run.setup.config import EpSpec, Matrix, RunConfig
from inspector.run.setup.eps import discover
from inspector.run.setup.inputs import InputPlan, generate, resolve
from tests.conftest import ROOT
from tests.realmodels import FETCH, catalogue, inputs

FAST = dict(warmup_runs=0, timed_runs=2, profiled_runs=0)
_GGML = {i.name: i for i in discover()}.get("ggml")
needs_ggml = pytest.mark.skipif(
    not (_GGML and _GGML.usable),
    reason=f"ggml: {_GGML.reason if _GGML else 'unknown to discovery'}",
)


def ggml_config(level: str, partial: str) -> RunConfig:
    eps = (EpSpec("ggml", (("partial", partial),)), EpSpec("CPUExecutionProvider"))
    return RunConfig(eps=eps, opt_level=level, **FAST)


def real_model(model_id: str):  # type: ignore[no-untyped-def]
    (model,) = [m for m in catalogue() if m.id == model_id]
    if not model.path.exists():
        pytest.skip(f"{model.package} not cached: run {FETCH}")
    return model


@needs_ggml
@pytest.mark.parametrize(
    "model_id",
    # A YOLOv8n detector and a MiniLM transformer (ggml takes none of either: the reason must
    # show), and a transformer ggml takes whole.
    ["nudenet_yolov8n_320", "minilm_l6_int8w", "khmersm_transformer_extdata"],
)
def test_every_ggml_configuration_has_nodes_or_the_eps_reason(model_id):
    model = real_model(model_id)
    loaded = load_model(model.path)
    ops = {n.op_type for n in loaded.proto.graph.node}
    matrix = Matrix((ggml_config("all", "1"), ggml_config("disable_all", "0")))
    results = run_matrix(loaded, matrix, inputs(model, loaded.proto))
    summary = RunSummary.of(results)
    for r, row in zip(results, summary.rows, strict=True):
        assert r.ok, r.error
        (report,) = r.ep_reports
        on_ggml = dict(r.fallback.nodes_per_ep).get("ggml", 0)
        assert report.ep == "ggml" and report.took == on_ggml
        assert report.total == sum(n for _, n in r.fallback.nodes_per_ep)
        if on_ggml:
            assert row.why == () and not report.took_nothing
            continue
        # Nothing on ggml: its reason, from its own log, names an op type the model has.
        assert report.took_nothing and report.source == "log", (report, r.ep_log)
        assert report.why.startswith("ggml took no node: ")
        assert any(op in report.why for op in ops), report.why
        assert any(report.reason in line for line in r.ep_log), (report.reason, r.ep_log)
        # Per op type: every one it did not take says why, the ops it lacks first.
        assert all(o.reason for o in report.ops if o.taken < o.nodes), report.ops
        first = report.ops[0]
        assert first.status == "not claimed" and first.reason == "ggml lacks this op (its log)"
        assert first.op_type in report.why, (first, report.why)
        # The one line is the first note of the summary row: the Run lab table, the CLI,
        # run --json and the HTML report all show it.
        assert row.notes[0] == report.why and row.remarks.startswith(report.why)
        assert row.to_dict()["why"] == [report.why]


def qdq_conv() -> onnx.ModelProto:
    """QuantizeLinear → DequantizeLinear → Conv 2-D (weights dequantized too) → Relu: ggml takes
    Conv and Relu (it lacks the Q/DQ ops) and cannot run a 2-D Conv."""
    rng = np.random.default_rng(0)
    w = np.clip(np.round(rng.standard_normal((4, 3, 3, 3)) * 20), -127, 127).astype(np.int8)
    inits = [
        numpy_helper.from_array(np.array(0.02, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.uint8), "x_zp"),
        numpy_helper.from_array(w, "w_q"),
        numpy_helper.from_array(np.array(0.01, np.float32), "w_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "w_zp"),
        numpy_helper.from_array(np.zeros(4, np.float32), "b"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], name="q_x"),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xd"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["wd"], name="dq_w"),
        helper.make_node("Conv", ["xd", "wd", "b"], ["y"], name="Conv_0", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["y"], ["z"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 8, 8])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


@needs_ggml
def test_an_ep_that_claims_a_node_it_cannot_run_is_an_ep_failure(tmp_path, capsys):
    path = tmp_path / "qdq_conv.onnx"
    onnx.save(qdq_conv(), path)
    loaded = load_model(path)
    feeds = {"x": np.random.default_rng(1).random((1, 3, 8, 8), np.float32)}
    cpu = RunConfig(opt_level="all", **FAST)
    ref, r = run_matrix(loaded, Matrix((cpu, ggml_config("all", "1"))), feeds)
    assert ref.ok, ref.error  # the other configuration is unaffected
    assert r.status == "error" and r.error_kind == "ep_failure", (r.error_kind, r.error)
    assert "EP failure: ggml claimed node Conv_0 (Conv)" in r.error, r.error
    assert "only 1-D convolutions" in r.error  # ggml's own message
    (report,) = r.ep_reports
    assert report.failed_node == "Conv_0" and report.source == "error"
    assert report.took == 2, report  # Conv and Relu, from the assignment made at creation
    lacks = {o.op_type: o for o in report.ops if o.status == "not claimed"}
    assert set(lacks) == {"QuantizeLinear", "DequantizeLinear"}
    assert all(o.reason == "ggml lacks this op (its log)" for o in lacks.values())
    assert any("Conv(Conv_0)" in line for line in r.ep_log), r.ep_log

    # The CLI: the status and a why line; --json: the error, the why and every log line.
    argv = ["run", str(path), "--ep", "ggml,cpu", "--level", "all", "--runs", "2"]
    argv += ["--profiled-runs", "0"]
    assert main(argv) == 1  # a failed configuration fails the run
    out = capsys.readouterr().out
    assert "ep_failure" in out and "why ggml+CPU · all: ggml failed on node Conv_0" in out, out
    assert main([*argv, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (row,) = [x for x in doc["summary"] if x["status"] != "ok"]
    assert row["status"] == "ep_failure" and "Conv_0" in row["error"]
    assert row["why"] and row["why"][0].startswith("ggml failed on node Conv_0")
    (failed,) = [x for x in doc["results"] if x["status"] == "error"]
    assert any("Conv(Conv_0)" in line for line in failed["ep_log"]), failed["ep_log"]


@needs_ggml
def test_the_sample_fallback_demo_still_falls_back_and_says_why():
    loaded = load_model(ROOT / "sample_models" / "ep_fallback_det.onnx")
    feeds = generate(resolve(build_overview(loaded).inputs, InputPlan.make()))
    (r,) = run_matrix(loaded, Matrix((ggml_config("disable_all", "1"),)), feeds)
    assert r.ok, r.error
    assert dict(r.fallback.nodes_per_ep) == {"CPUExecutionProvider": 1, "ggml": 3}
    assert [n.op_type for n in r.fallback.off_preferred] == ["Det"]
    (report,) = r.ep_reports
    assert report.why == "ggml took 3 of 4 nodes; it lacks Det x1", report.why
    ops = {o.op_type: o for o in report.ops}
    assert ops["Det"].status == "not claimed" and "lacks" in ops["Det"].reason
    assert all(o.status == "claimed" for k, o in ops.items() if k != "Det")
    (row,) = RunSummary.of([r]).rows
    assert row.why == () and "why" not in row.to_dict()
    # A bundle keeps the reports (records round-trip through JSON).
    again = from_jsonable(RunResult, json.loads(json.dumps(to_jsonable(r))))
    assert again.ep_reports == r.ep_reports and again.ep_log == r.ep_log


def test_captured_lines_are_filtered_and_bounded():
    raw = (
        "2026-12-05T19:32:33.723587Z  INFO CreateEpFactories registration_name=ggml\n"
        "2026-12-05T19:32:34.088508Z  INFO capability: nodes claimed for fusion claimed=3 total=4\n"
        "\x1b[0;93m2026-12-05 19:32:34.414853652 [W:onnxruntime:, onnxruntime-ggml:0 ep] "
        "onnxruntime-ggml: 1 of 4 nodes use ops this provider lacks: Det x1; partial claim\x1b[m\n"
        "2026-12-05 19:32:35.006940975 [I:onnxruntime:, inference_session.cc:2610 Initialize] x\n"
        "a plugin's own print \x1b]52;c;aGk=\x07\n"
    )
    lines = log_lines(raw, 100, 10_000)
    assert lines == [
        "INFO capability: nodes claimed for fusion claimed=3 total=4",
        "W [onnxruntime-ggml:0 ep] onnxruntime-ggml: 1 of 4 nodes use ops this provider lacks: "
        "Det x1; partial claim",
        "a plugin's own print \\u001b]52;c;aGk=\\u0007",  # a terminal escape stays inert
    ]
    many = bounded([f"line {i}" for i in range(50)], 10, 10_000)
    assert len(many) == 11 and many[-1].startswith("… 40 more lines not kept")
    cut = bounded(["x" * 5000] * 3, 10, 4_500)  # 2,000 characters a line; 4.5 KB in all
    assert [len(x) for x in cut[:2]] == [2000, 2000] and cut[2].startswith("… 1 more line")
    with pytest.raises(TypeError):
        bounded([{"not": "a line"}], 10, 10_000)


def test_openvino_failures_on_real_exports_read_as_openvinos_own_words():
    """ONNX Runtime's error when OpenVINO cannot compile what it claimed is ~1,400 characters:
    the C++ location and signature of OpenVINO's backend, then OpenVINO's chain of "Exception
    from src/…:N:" lines, then its words. The failure names OpenVINO, says what it was doing
    and why in its own words (no backtrace), and names the ONNX node where OpenVINO does —
    messages captured from real exports (tests/golden/openvino_failures.json says how)."""
    from inspector.run.readout.eplog import ep_reports, failing_ep, failure_detail
    from inspector.run.readout.results import ep_failure

    doc = json.loads((ROOT / "tests/golden/openvino_failures.json").read_text())
    ov, cpu = "OpenVINOExecutionProvider", EpSpec("CPUExecutionProvider")
    config = RunConfig(eps=(EpSpec(ov), cpu), label="OpenVINO+CPU · all")
    expected = {  # model → (op, node, OpenVINO's last words)
        "kokoro82m_int8_tts": ("", "", "dynamic rank. Operation name: /decoder/decoder/generator/"),
        "silero_vad_v5_if": ("", "", "CPU plug-in doesn't support Parameter operation with dyn"),
        "silero_vad_16k_op15": ("", "", "Operation name: /model/decoder/If_output_0"),
        "oww_hey_jarvis": ("If", "If_32", "Rank of If condition input must be equal to 0 or 1"),
    }
    assert set(doc["errors"]) == set(expected)
    for model_id, error in doc["errors"].items():
        message = error["message"]
        assert "basic_backend.cc" in message and len(message) > 1200  # what ORT raises
        assert failing_ep(message, (ov, cpu.name), "create session") == ov
        op, node, detail = failure_detail(message)
        want_op, want_node, words = expected[model_id]
        assert (op, node) == (want_op, want_node), (model_id, op, node)
        assert words in detail, (model_id, detail)
        assert detail.startswith("Exception while "), detail  # what OpenVINO was doing
        for noise in ("std::", ".cc:", ".cpp:", "Exception from", "failed at", "\n"):
            assert noise not in detail, (model_id, noise, detail)
        assert len(detail) < 300, (model_id, len(detail))
        err = {"stage": "create session", "message": message}
        ep, failed, _, sentence = ep_failure(config, err, {}, None)
        assert ep == ov and failed == want_node
        claim = f"claimed node {node} ({op}) and could not run it" if node else "claimed nodes"
        assert f"EP failure: OpenVINO {claim}" in sentence, sentence
        # The same words when OpenVINO fails on a run: ORT quotes it after "Status Message:".
        ran = (
            "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while "
            "running OpenVINO-EP-subgraph_1 node. Name:'OpenVINOExecutionProvider_OpenVINO-EP-"
            "subgraph_1_0' Status Message: " + message.split("initialization: ", 1)[1]
        )
        assert failure_detail(ran) == (op, node, detail), failure_detail(ran)
        (report,) = ep_reports((ov, cpu.name), (), (), failure=(ep, failed, detail))
        assert report.why.startswith(
            "OpenVINO failed on node" if node else "OpenVINO failed on nodes"
        )
