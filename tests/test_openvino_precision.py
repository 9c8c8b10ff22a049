"""OpenVINO's precision (issue 25): its plugin EP ignores the ``precision`` provider option, so
the inspector sets it through ``load_config`` — content it builds from allow-listed values, in
a file it writes in the worker's private folder — and explains the precision in effect when
outputs differ. The content and the note are checked here on any host; the run itself needs an
Intel device (tests/test_fallback.py and the real-model fallback tests run OpenVINO where
discovery lists one)."""

from __future__ import annotations

import pytest

from inspector.run.setup.options import OptionError, openvino_load_config, precision_note


def test_precision_becomes_openvino_properties_per_device():
    rest, config = openvino_load_config([("precision", "FP32"), ("num_of_threads", "2")])
    assert rest == (("num_of_threads", "2"),)  # precision never reaches the EP's options
    assert config == {"CPU": {"INFERENCE_PRECISION_HINT": "f32"}}
    _, config = openvino_load_config([("precision", "FP16"), ("device_type", "AUTO:GPU.1,CPU")])
    assert config == {
        "GPU": {"INFERENCE_PRECISION_HINT": "f16"},
        "CPU": {"INFERENCE_PRECISION_HINT": "f16"},
    }
    _, config = openvino_load_config([("precision", "ACCURACY"), ("device_type", "NPU")])
    assert config == {"NPU": {"EXECUTION_MODE_HINT": "ACCURACY"}}
    assert openvino_load_config([("device_type", "CPU")]) == ((("device_type", "CPU"),), None)
    with pytest.raises(OptionError, match="FP32, FP16, ACCURACY"):
        openvino_load_config([("precision", "INT4")])


def test_the_note_names_the_precision_in_effect():
    assert "computed in FP32" in precision_note("FP32")
    note = precision_note(None, ["avx2", "amx_bf16", "avx512_bf16"])
    assert "bf16 by default" in note and "precision=FP32" in note
    assert "f32 by default" in precision_note(None, ["avx2", "avx512f"])
