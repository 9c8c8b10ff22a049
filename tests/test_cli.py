"""The CLI: golden outputs on sample models, JSON twins, exit codes.

Regenerate goldens after an intended change: ``UPDATE_GOLDEN=1 python -m pytest tests/test_cli.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.cli import main
from tests.conftest import ROOT
from tests.factories import linear, with_external

GOLDEN = Path(__file__).parent / "golden"
SAMPLES = ROOT / "sample_models"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


CASES = [
    ("overview", "cnn_conv_bn_relu.onnx", False),
    ("overview", "dynamic_axes_transformer_block.onnx", True),
    ("graph", "control_flow_if_loop.onnx", False),
    ("subgraphs", "control_flow_if_loop.onnx", False),
    ("initializers", "external_data_mlp.onnx", False),
    ("external-data", "external_data_mlp.onnx", False),
    ("external-data", "external_data_mlp.onnx", True),
    ("compat", "too_new_for_runtime.onnx", False),
    ("diagnose", "too_new_for_runtime.onnx", False),
]


@pytest.mark.parametrize(
    "command, sample, as_json",
    CASES,
    ids=[f"{c}-{s.split('.')[0]}{'-json' if j else ''}" for c, s, j in CASES],
)
def test_golden(capsys, command, sample, as_json):
    args = [command, str(SAMPLES / sample)] + (["--json"] if as_json else [])
    if command in ("compat", "diagnose"):  # judge against a fixed release, not the installed one
        args += ["--ort-version", "1.32.0"]
    code, out, _ = run(capsys, *args)
    assert code == 0
    golden = GOLDEN / f"{command}-{sample.split('.')[0]}.{'json' if as_json else 'txt'}"
    text = out
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_json_twin_matches_library(capsys):
    from inspector import build_overview, load_model

    code, out, _ = run(capsys, "overview", str(SAMPLES / "cnn_conv_bn_relu.onnx"), "--json")
    assert (
        json.loads(out) == build_overview(load_model(SAMPLES / "cnn_conv_bn_relu.onnx")).to_dict()
    )


def test_graph_filters_and_stats(capsys):
    code, out, _ = run(
        capsys, "graph", str(SAMPLES / "cnn_conv_bn_relu.onnx"), "--op-type", "Conv", "--json"
    )
    nodes = json.loads(out)["nodes"]
    assert code == 0 and {n["op_type"] for n in nodes} == {"Conv"} and len(nodes) == 2
    code, out, _ = run(
        capsys,
        "initializers",
        str(SAMPLES / "external_data_mlp.onnx"),
        "--stats",
        "fc1.weight",
        "--json",
    )
    stats = json.loads(out)["stats"][0]
    assert stats["key"] == "main/fc1.weight" and stats["count"] == 32 * 64 and stats["error"] == ""


def test_data_dir(capsys, tmp_path):
    path = with_external(linear(), tmp_path / "data", "W")
    model = tmp_path / "model.onnx"
    model.write_bytes(path.read_bytes())
    code, out, _ = run(capsys, "external-data", str(model), "--json")
    assert json.loads(out)["tensors"][0]["status"] == "missing_file"
    code, out, _ = run(
        capsys, "external-data", str(model), "--data-dir", str(tmp_path / "data"), "--json"
    )
    assert json.loads(out)["tensors"][0]["status"] == "ok"


class TestExitCodes:
    def test_unusable_input_is_one_line(self, capsys, tmp_path):
        bad = tmp_path / "x.onnx"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
        code, out, err = run(capsys, "overview", str(bad))
        assert code == 1 and out == "" and err.count("\n") == 1 and "PNG image" in err

    def test_json_error_object(self, capsys, tmp_path):
        code, out, _ = run(capsys, "compat", str(tmp_path / "none.onnx"), "--json")
        assert code == 1 and json.loads(out)["error"]["kind"] == "model_load"

    def test_fail_on(self, capsys):
        too_new = str(SAMPLES / "too_new_for_runtime.onnx")
        assert run(capsys, "diagnose", too_new)[0] == 0
        code, _, err = run(capsys, "diagnose", too_new, "--fail-on", "error")
        assert code == 1 and "error: error: onnxruntime" in err
        assert (
            run(
                capsys, "diagnose", str(SAMPLES / "external_data_mlp.onnx"), "--fail-on", "warning"
            )[0]
            == 0
        )

    def test_usage_error(self, capsys):
        with pytest.raises(SystemExit) as info:
            main(["nope"])
        assert info.value.code == 2


def test_module_and_console_script_entry_points():
    out = subprocess.run(
        [sys.executable, "-m", "inspector", "overview", str(SAMPLES / "cnn_conv_bn_relu.onnx")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("cnn_conv_bn_relu.onnx")


def test_run_out_naming_a_file_is_refused_before_any_run(tmp_path, capsys):
    from inspector.cli import main

    taken = tmp_path / "results"
    taken.write_text("mine")
    model = str(SAMPLES / "mlp_gelu_layernorm.onnx")
    assert main(["run", model, "--runs", "1", "--out", str(taken)]) == 1
    err = capsys.readouterr().err
    assert "a file of that name exists" in err and "Traceback" not in err
    assert taken.read_text() == "mine"
