"""Diagnostics: each export pitfall produces a finding with a severity, a subject and a fix."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from inspector import diagnose, load_model
from inspector.model.diagnose import run_checker
from tests.factories import linear, model, vi, with_external


def codes(m, companions=None):
    d = diagnose(
        load_model(m.SerializeToString() if isinstance(m, onnx.ModelProto) else m, companions)
    )
    return {f.code: f for f in d.findings}, d


def test_clean_model_has_no_findings():
    found, d = codes(linear())
    assert found == {} and d.checker == "passed"


def test_fixed_dims_and_float64():
    m = model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [vi("x", TensorProto.DOUBLE, [1, 3, 224, 224])],
        [vi("y", TensorProto.DOUBLE, [1, 3, 224, 224])],
    )
    found, _ = codes(m)
    assert found["fixed_dims"].subject == "x" and "dynamic" in found["fixed_dims"].fix
    assert found["float64_io"].severity == "warning"


def test_unused_domain_control_flow_names():
    body = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"], name="dup")], "b", [], [vi("y", shape=[1])]
    )
    m = model(
        [
            helper.make_node("If", ["c"], ["y"], name="dup", then_branch=body, else_branch=body),
            helper.make_node("Relu", ["y"], ["z"]),
        ],
        [vi("c", TensorProto.BOOL, []), vi("x", shape=[1])],
        [vi("z", shape=[1])],
        opsets=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 3)],
    )
    found, _ = codes(m)
    assert found["unused_opset"].subject == "ai.onnx.ml"
    assert found["control_flow"].severity == "info"
    assert found["empty_node_names"].message.startswith("1 nodes")
    assert found["duplicate_node_names"].subject == "dup"


def test_initializer_as_input():
    m = linear()
    m.graph.input.append(vi("W", shape=[4, 3]))
    found, _ = codes(m)
    assert "constant-fold" in found["initializer_as_input"].message


def test_structural_errors_come_first():
    m = model(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="a")], [vi("x", shape=[1])], [vi("y")]
    )
    found, d = codes(m)
    assert d.findings[0].severity == "error" and found["dangling_input"].subject == "main:0"
    assert found["checker"].severity == "warning"  # the checker never gates


def test_refused_by_installed_ort():
    m = linear()
    m.ir_version = 99
    found, _ = codes(m)
    assert (
        found["ort_refuses"].severity == "error" and "IR version 99" in found["ort_refuses"].message
    )


def test_external_data_problems(tmp_path):
    path = with_external(linear(), tmp_path, "W", location="gone.bin", write=False)
    found, _ = codes(path.read_bytes(), {})
    assert (
        found["external_missing_file"].severity == "error"
        and "Upload" in found["external_missing_file"].fix
    )


def test_checker_never_resolves_locations_named_by_the_model(tmp_path, monkeypatch):
    # onnx.checker on an in-memory model resolves external locations against the cwd (it
    # stats them). Ours hands it a skeleton without external references.
    monkeypatch.chdir(tmp_path)
    path = with_external(linear(), tmp_path / "m", "W", location="probe.bin", write=False)
    loaded = load_model(path.read_bytes(), {})
    with pytest.raises(onnx.checker.ValidationError, match="probe.bin"):
        onnx.checker.check_model(loaded.proto)  # the raw checker does look
    assert run_checker(loaded) == "passed"


@pytest.mark.parametrize(
    "name", ["cnn_conv_bn_relu.onnx", "control_flow_if_loop.onnx", "too_new_for_runtime.onnx"]
)
def test_sample_models(samples, name):
    d = diagnose(load_model(samples / name))
    assert all(f.message and f.severity in ("error", "warning", "info") for f in d.findings)
    if name == "too_new_for_runtime.onnx":
        assert d.findings[0].code == "ort_refuses"


def test_no_false_checker_warning_for_weights_in_large_constant_nodes():
    """Issue 8, item 4: the payload-free skeleton left big Constant values empty and the
    checker rejected them, although the real onnx.checker passes the model."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from inspector import diagnose, load_model
    from tests.factories import model, vi

    big = numpy_helper.from_array(np.ones((200, 200), np.float32), "w")  # 160 KB > 64 KB
    body = model(
        [
            helper.make_node("Constant", [], ["w2"], value=big),
            helper.make_node("Add", ["w2", "x"], ["b"]),
        ],
        [],
        [vi("b", shape=[200, 200])],
        name="then",
    ).graph
    m = model(
        [
            helper.make_node("Constant", [], ["w"], value=big),
            helper.make_node("Add", ["x", "w"], ["y0"]),
            helper.make_node("If", ["cond"], ["y"], then_branch=body, else_branch=body),
        ],
        [vi("x", shape=[200, 200]), vi("cond", onnx.TensorProto.BOOL, [])],
        [vi("y", shape=[200, 200])],
    )
    onnx.checker.check_model(m)  # the real checker passes
    d = diagnose(load_model(m.SerializeToString(), name="const.onnx"))
    assert d.checker == "passed", d.checker
    assert "checker" not in {f.code for f in d.findings}
