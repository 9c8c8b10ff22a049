"""Compatibility verdict: the table, the installed ORT (checked against ORT itself), fixes."""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import build_compat, load_model
from inspector.model.compat import ORT_RELEASES, limits_for
from tests.factories import model, vi


def relu(ir: int, opset: int, ml: int | None = None) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", opset)]
    if ml is not None:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ml))
    return model(
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [vi("x", shape=[2])],
        [vi("y", shape=[2])],
        ir=ir,
        opsets=opsets,
    )


def verdict(m: onnx.ModelProto, **kw):
    return build_compat(load_model(m.SerializeToString()), **kw)


@pytest.mark.parametrize(
    "ir, opset, ml",
    [
        (10, 21, None),
        (13, 26, None),
        (14, 28, None),
        (15, 21, None),
        (10, 29, None),
        (8, 17, 5),
        (8, 17, 6),
        (11, 23, 3),
    ],
)
def test_installed_verdict_agrees_with_onnxruntime(ir, opset, ml, monkeypatch):
    monkeypatch.delenv("ALLOW_RELEASED_ONNX_OPSET_ONLY", raising=False)
    m = relu(ir, opset, ml)
    v = verdict(m)
    assert v.installed_ort == ort.__version__
    try:
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        loads = True
    except Exception:
        loads = False
    assert (v.installed_loads == "yes") == loads, v.installed_reasons


def test_release_table():
    v = verdict(relu(11, 23))
    rows = {r.version: r for r in v.releases}
    assert rows["1.22.1"].loads == "no" and rows["1.22.1"].reasons == (
        "IR version 11 > 10",
        "ai.onnx opset 23 > 22",
    )
    assert rows["1.23.2"].loads == "yes"
    assert [r.version for r in v.releases] == [r.version for r in ORT_RELEASES]


def test_opset_27_needs_the_env_switch_on_1_28_to_1_31():
    rows = {r.version: r.loads for r in verdict(relu(13, 27)).releases}
    assert rows["1.27.0"] == "no" and rows["1.28.0"] == rows["1.31.1"] == "with_env"
    assert rows["1.32.0"] == "yes"


def test_unknown_future_ort_assumes_newest_row():
    row, assumed = limits_for("9.0.0")
    assert assumed and row == ORT_RELEASES[-1]
    assert limits_for("1.10.0") == (None, False)
    v = verdict(relu(10, 21), ort_version="")
    assert v.installed_loads == "unknown"


def test_too_new_ir_gets_a_safe_lowering_suggestion():
    v = verdict(relu(15, 21), ort_version="1.32.0")
    assert v.installed_loads == "no"
    assert any("newer than any ONNX release" in f for f in v.flags)
    (lower,) = [s for s in v.suggestions if s.action == "lower_ir"]
    assert "Set ir_version to 14 (safe" in lower.text


def test_lowering_is_unsafe_when_features_need_the_ir():
    t = numpy_helper.from_array(__import__("numpy").zeros(4, "uint8"), "q")
    t.data_type = TensorProto.UINT2  # IR 13 type, stored in 1 byte
    t.raw_data = b"\0"
    m = model([helper.make_node("Identity", ["q"], ["y"])], [], [vi("y")], [t], ir=15)
    v = verdict(m, ort_version="1.24.4")
    assert v.min_ir_required == 13
    (lower,) = [s for s in v.suggestions if s.action == "lower_ir"]
    assert "Set ir_version to 13" in lower.text


def test_opset_too_new_is_converted_for_real():
    v = verdict(relu(10, 23), ort_version="1.22.1")
    (conv,) = [s for s in v.suggestions if s.action == "convert_opset"]
    assert conv.tried and conv.works and "converted to opset 22" in conv.text
    up = [s for s in v.suggestions if s.action == "upgrade_ort"]
    assert up and "1.23.2" in up[0].text


def test_ops_unknown_to_the_registry_and_custom_domains():
    m = model(
        [
            helper.make_node("NoSuchOp", ["x"], ["a"]),
            helper.make_node("Gelu", ["a"], ["b"]),  # ai.onnx Gelu exists since opset 20
            helper.make_node("MyOp", ["b"], ["y"], domain="com.acme"),
        ],
        [vi("x", shape=[1])],
        [vi("y")],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid("com.acme", 1)],
    )
    v = verdict(m)
    problems = {p.op_type: p.problem for p in v.op_problems}
    assert "not an operator" in problems["NoSuchOp"]
    assert problems["Gelu"] == "needs opset 20 or later; the model imports 17"
    assert v.custom_domains == ("com.acme",)
    assert any(s.action == "custom_ops" for s in v.suggestions)


def test_local_functions_are_not_unknown_ops():
    fn = helper.make_function(
        "com.acme",
        "Twice",
        ["a"],
        ["b"],
        [helper.make_node("Add", ["a", "a"], ["b"])],
        [helper.make_opsetid("", 21)],
    )
    m = model(
        [helper.make_node("Twice", ["x"], ["y"], domain="com.acme")],
        [vi("x", shape=[1])],
        [vi("y")],
        opsets=[helper.make_opsetid("", 21), helper.make_opsetid("com.acme", 1)],
        functions=[fn],
    )
    v = verdict(m)
    assert v.op_problems == () and v.custom_domains == ()
    assert v.min_ir_required == 8  # model-local functions


class TestSessionCheck:
    """Issue 8, item 2: the stamps said 'loads' where ONNX Runtime does not."""

    def custom_op(self):
        from onnx import TensorProto, helper

        from tests.factories import model, vi

        return model(
            [helper.make_node("StringLower", ["x"], ["y"], domain="ai.onnx.contrib")],
            [vi("x", TensorProto.STRING, [2])],
            [vi("y", TensorProto.STRING)],
            opsets=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.contrib", 1)],
        )

    def test_unregistered_custom_op(self):
        from inspector import build_compat, diagnose, load_model
        from inspector.run.loadcheck import check_session

        m = load_model(self.custom_op().SerializeToString(), name="custom.onnx")
        assert build_compat(m).installed_loads == "yes"  # the stamps are fine…
        s = check_session(m)
        assert not s.ok and s.kind == "custom_op"  # …ONNX Runtime is not
        assert "ai.onnx.contrib:StringLower" in s.message and "onnxruntime-extensions" in s.fix
        assert "/tmp/inspector-run" not in s.message and "custom.onnx" in s.message
        d = diagnose(m, session=s)
        assert d.findings[0].code == "session_custom_op" and d.findings[0].severity == "error"

    def test_missing_external_data_and_a_missing_locale(self, tmp_path):
        from onnx import TensorProto, helper

        from inspector import load_model
        from inspector.run.loadcheck import check_session
        from tests.factories import linear, model, vi, with_external

        path = with_external(linear(), tmp_path, "W", "w.bin", write=False)
        s = check_session(load_model(path))
        assert not s.ok and s.kind == "external_data" and "w.bin" in s.message
        m = model(
            [
                helper.make_node(
                    "StringNormalizer",
                    ["x"],
                    ["y"],
                    locale="xx_YY.UTF-8",
                    case_change_action="LOWER",  # the locale is built only to change case
                )
            ],
            [vi("x", TensorProto.STRING, [2])],
            [vi("y", TensorProto.STRING)],
        )
        s = check_session(load_model(m.SerializeToString(), name="sn.onnx"))
        assert not s.ok and s.kind == "environment" and "locale" in s.fix

    def test_cli_and_overview_say_what_onnx_runtime_said(self, capsys, tmp_path):
        from streamlit.testing.v1 import AppTest

        from inspector.cli import main
        from tests.conftest import ROOT

        src = tmp_path / "custom.onnx"
        src.write_bytes(self.custom_op().SerializeToString())
        assert main(["compat", str(src)]) == 0
        out = capsys.readouterr().out
        assert "version stamps supported" in out and "Session check: FAILED" in out
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        at.file_uploader(key="upload").set_value(
            [("custom.onnx", src.read_bytes(), "application/octet-stream")]
        ).run()
        errors = [e.value.replace("\\", "") for e in at.error]
        assert any("could not create a session" in e and "StringLower" in e for e in errors)
        assert not any("created a session" in s.value for s in at.success)
