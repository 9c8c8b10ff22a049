"""AppTest: every page renders, opens a sample by default, and takes uploads."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.factories import linear, with_external


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_opens_on_a_sample_model():
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "mlp_gelu_layernorm.onnx"
    assert any("loads" in s.value for s in at.success)


def test_switch_to_another_sample():
    at = app().run()
    at.selectbox(key="sample_pick").set_value("too_new_for_runtime.onnx").run()
    at.button(key="open_sample").click().run()
    assert not at.exception
    assert at.title[0].value == "too_new_for_runtime.onnx"
    assert any("refuses this model" in e.value for e in at.error)
    # Both models stay open in this session.
    assert set(at.selectbox(key="model_pick").options) == {
        "mlp_gelu_layernorm.onnx",
        "too_new_for_runtime.onnx",
    }


def test_upload_with_external_data(tmp_path):
    path = with_external(linear(), tmp_path, "W")
    at = app().run()
    at.file_uploader(key="upload").set_value(
        [
            ("model.onnx", path.read_bytes(), "application/octet-stream"),
            ("w.bin", (tmp_path / "w.bin").read_bytes(), "application/octet-stream"),
        ]
    ).run()
    assert not at.exception
    assert at.title[0].value == "model.onnx"
    assert any("all found in the uploaded files" in s.value for s in at.success)


def test_bad_upload_shows_a_message_and_the_app_keeps_working():
    at = app().run()
    at.file_uploader(key="upload").set_value(
        [("broken.onnx", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")]
    ).run()
    assert not at.exception
    assert any("PNG image" in e.value for e in at.error)
    at.selectbox(key="model_pick").set_value("mlp_gelu_layernorm.onnx").run()
    assert not at.exception and at.title[0].value == "mlp_gelu_layernorm.onnx"
