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
    assert (v.installed_stamps == "yes") == loads, v.installed_stamp_reasons
    # Without a session check the stamps never say "it loads": at most "not checked".
    assert v.installed_loads != "yes" and (v.installed_loads == "no") <= (not loads)


def test_release_table():
    v = verdict(relu(11, 23))
    rows = {r.version: r for r in v.releases}
    assert rows["1.22.1"].stamps == "no" and rows["1.22.1"].reasons == (
        "IR version 11 > 10",
        "ai.onnx opset 23 > 22",
    )
    assert rows["1.23.2"].stamps == "yes"
    assert [r.version for r in v.releases] == [r.version for r in ORT_RELEASES]


def test_opset_27_needs_the_env_switch_on_1_28_to_1_31():
    rows = {r.version: r.stamps for r in verdict(relu(13, 27)).releases}
    assert rows["1.27.0"] == "no" and rows["1.28.0"] == rows["1.31.1"] == "with_env"
    assert rows["1.32.0"] == "yes"


def test_unknown_future_ort_assumes_newest_row():
    row, assumed = limits_for("9.0.0")
    assert assumed and row == ORT_RELEASES[-1]
    assert limits_for("1.10.0") == (None, False)
    v = verdict(relu(10, 21), ort_version="")
    assert v.installed_loads == v.installed_stamps == "unknown"


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


def custom_op_model() -> onnx.ModelProto:
    """A node of onnxruntime-extensions' domain, whose library is not registered."""
    return model(
        [helper.make_node("StringLower", ["x"], ["y"], domain="ai.onnx.contrib")],
        [vi("x", TensorProto.STRING, [2])],
        [vi("y", TensorProto.STRING)],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.contrib", 1)],
    )


def missing_locale_model() -> onnx.ModelProto:
    """Standard ops and stamps; the kernel needs a locale this machine lacks."""
    return model(
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


#: Models with supported stamps that ONNX Runtime refuses: (factory, kind, what its reason says).
REFUSED = {
    "custom_op": (custom_op_model, "custom_op", "ai.onnx.contrib:StringLower"),
    "missing_locale": (missing_locale_model, "environment", "xx_YY"),
}


class TestSessionCheck:
    """Issue 8, item 2: the stamps said 'loads' where ONNX Runtime does not."""

    def test_unregistered_custom_op(self):
        from inspector import diagnose
        from inspector.run.execute.loadcheck import check_session

        m = load_model(custom_op_model().SerializeToString(), name="custom.onnx")
        assert build_compat(m).installed_stamps == "yes"  # the stamps are fine…
        s = check_session(m)
        assert not s.ok and s.kind == "custom_op"  # …ONNX Runtime is not
        assert "ai.onnx.contrib:StringLower" in s.message and "onnxruntime-extensions" in s.fix
        assert "/tmp/inspector-run" not in s.message and "custom.onnx" in s.message
        d = diagnose(m, session=s)
        assert d.findings[0].code == "session_custom_op" and d.findings[0].severity == "error"

    def test_missing_external_data_and_a_missing_locale(self, tmp_path):
        from inspector.run.execute.loadcheck import check_session
        from tests.factories import linear, with_external

        path = with_external(linear(), tmp_path, "W", "w.bin", write=False)
        s = check_session(load_model(path))
        assert not s.ok and s.kind == "external_data" and "w.bin" in s.message
        c = build_compat(load_model(path), session=s)
        assert c.installed_loads == "no" and "w.bin" in c.installed_load_reasons[0]
        s = check_session(load_model(missing_locale_model().SerializeToString(), name="sn.onnx"))
        assert not s.ok and s.kind == "environment" and "locale" in s.fix


class TestLoadsAgreesWithTheSessionCheck:
    """Issue 23: `compat --json` said installed_loads "yes" (and every release "yes") next to
    session.ok false; the report said "yes … No findings"; the Overview showed a green
    "supports the stamps" beside the failure. Every "loads" now agrees with ONNX Runtime."""

    def test_without_a_check_the_stamps_never_say_yes(self):
        from inspector.run.execute.loadcheck import SessionCheck

        custom = load_model(custom_op_model().SerializeToString())
        c = build_compat(custom)  # the ops prove it: no kernel for the domain
        assert (c.installed_loads, c.load_evidence, c.installed_stamps) == ("no", "ops", "yes")
        assert "ai.onnx.contrib" in c.installed_load_reasons[0]
        locale = load_model(missing_locale_model().SerializeToString())
        c = build_compat(locale)  # nothing but a session shows this one
        assert (c.installed_loads, c.load_evidence) == ("not_checked", "none")
        ok = SessionCheck(ort_version=ort.__version__, ok=True, kind="", message="", fix="",
                          seconds=0.01)  # fmt: skip
        c = build_compat(load_model(relu(10, 21).SerializeToString()), session=ok)
        assert (c.installed_loads, c.load_evidence) == ("yes", "session")
        # A check that reached no answer leaves the verdict to the stamps, and says so.
        late = SessionCheck(ort_version="", ok=False, kind="timeout", message="no answer",
                            fix="", seconds=None)  # fmt: skip
        c = build_compat(locale, session=late)
        assert (
            c.installed_loads == "not_checked" and "did not finish" in c.installed_load_reasons[-1]
        )
        # A check of another release says nothing about the one judged.
        c = build_compat(locale, ort_version="1.24.4", session=ok)
        assert c.installed_loads == "not_checked"

    @pytest.mark.parametrize("case", sorted(REFUSED))
    def test_compat_json_diagnose_and_report_say_it_does_not_load(self, case, tmp_path, capsys):
        import json

        from inspector.cli import main

        factory, kind, reason = REFUSED[case]
        src = tmp_path / f"{case}.onnx"
        src.write_bytes(factory().SerializeToString())
        assert main(["compat", str(src), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["session"]["ok"] is False and doc["session"]["kind"] == kind
        assert doc["installed_loads"] == "no" and doc["load_evidence"] == "session"
        assert reason in doc["installed_load_reasons"][0]
        assert doc["installed_stamps"] == "yes"  # renamed: it is about the stamps only
        assert all(set(r) == {"version", "stamps", "reasons"} for r in doc["releases"])
        assert main(["compat", str(src)]) == 0
        text = capsys.readouterr().out
        assert f"Does onnxruntime {ort.__version__} load it? NO — " in text and reason in text
        assert main(["diagnose", str(src), "--json"]) == 0
        findings = json.loads(capsys.readouterr().out)["findings"]
        assert findings[0]["code"] == f"session_{kind}" and findings[0]["severity"] == "error"
        out = tmp_path / "report.html"
        assert main(["report", str(src), "-o", str(out)]) == 0
        page = out.read_text()
        assert f"Installed onnxruntime {ort.__version__}: <b>no</b>" in page
        assert reason in page and "No findings" not in page and f"session_{kind}" in page

    @pytest.mark.parametrize("case", sorted(REFUSED))
    def test_overview_says_it_does_not_load(self, case):
        from streamlit.testing.v1 import AppTest

        from tests.conftest import ROOT

        factory, _, reason = REFUSED[case]
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        at.file_uploader(key="upload").set_value(
            [(f"{case}.onnx", factory().SerializeToString(), "application/octet-stream")]
        ).run()
        assert not at.exception
        errors = [e.value.replace("\\", "") for e in at.error]
        assert any(
            "does not load this model" in e and "could not create a session" in e and reason in e
            for e in errors
        ), errors
        assert not any("created a session" in s.value for s in at.success)
        assert not any("loads" in s.value or "supports" in s.value for s in at.success)
