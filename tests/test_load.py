"""Parsing untrusted bytes: every way a file can fail gets its own specific message."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from inspector.errors import LimitExceededError, ModelLoadError
from inspector.limits import Limits
from inspector.model import load_model
from tests.factories import linear, model, nested_if, vi


def error_of(data: bytes, **kw) -> str:
    with pytest.raises(ModelLoadError) as info:
        load_model(data, name="m.onnx", **kw)
    return str(info.value)


class TestNotAModel:
    @pytest.mark.parametrize(
        "data, expected",
        [
            (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
            (b"\xff\xd8\xff\xe0" + bytes(100), "JPEG image"),
            (b"PK\x03\x04" + bytes(100), "ZIP archive"),
            (b"\x93NUMPY\x01\x00" + bytes(100), ".npy"),
            (b"\x1f\x8b\x08" + bytes(100), "gzip"),
            (b"\x80\x04\x95" + bytes(100), "pickle"),
            (b'{"irVersion": "8", "graph": {}}', "JSON"),
            (b"hello, this is a plain text file\n", "text file"),
        ],
        ids=["png", "jpeg", "zip", "npy", "gzip", "pickle", "json", "text"],
    )
    def test_known_formats_are_named(self, data, expected):
        assert expected in error_of(data)

    def test_random_bytes(self):
        msg = error_of(np.random.default_rng(1).bytes(4096))
        assert "not an ONNX model" in msg and "not a valid ONNX protobuf" in msg

    def test_tensor_proto_is_recognised(self):
        t = numpy_helper.from_array(np.ones((3, 4), np.float32), "input_0")
        msg = error_of(t.SerializeToString())
        assert "TensorProto 'input_0'" in msg and "FLOAT 3×4" in msg

    def test_empty(self):
        assert "empty (0 bytes)" in error_of(b"")


class TestDamagedModel:
    def test_truncated_says_how_many_bytes(self):
        data = linear(64, 64).SerializeToString()
        cut = data[: len(data) - 1000]
        msg = error_of(cut)
        assert "truncated" in msg
        assert f"has {len(cut):,} bytes" in msg
        # The count comes from the cut field's declared length: the graph, which ends just
        # before the few bytes of opset_import that follow it.
        missing = int(msg.split("(")[-1].split(" byte")[0].replace(",", ""))
        assert 1000 - 16 <= missing <= 1000

    @pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
    def test_truncated_anywhere(self, keep):
        data = linear(32, 32).SerializeToString()
        assert "truncated" in error_of(data[: int(len(data) * keep)])

    def test_no_graph(self):
        m = onnx.ModelProto(ir_version=10)
        m.opset_import.add(version=21)
        assert "has no graph" in error_of(m.SerializeToString())

    def test_a_model_from_before_ir_3_is_described_with_why_ort_refuses_it(self, capsys):
        """Issue 8, item 8: an IR-1 export with no opset imports was refused by every command,
        although Netron shows it."""
        from inspector import build_compat, build_overview, load_model
        from inspector.cli import main

        m = linear()
        del m.opset_import[:]
        m.ir_version = 1
        loaded = load_model(m.SerializeToString(), name="old.onnx")
        assert build_overview(loaded).counts.nodes_total == 2
        c = build_compat(loaded)
        assert c.installed_loads == "no"
        assert "IR version 1 < 3: ONNX Runtime reads IR 3 and later" in c.installed_stamp_reasons
        assert "no opset imports: operators cannot be resolved" in c.installed_stamp_reasons
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "old.onnx"
            f.write_bytes(m.SerializeToString())
            assert main(["diagnose", str(f), "--no-session-check"]) == 0
            assert "ort_refuses" in capsys.readouterr().out

    def test_nesting_deeper_than_protobuf_allows(self):
        msg = error_of(nested_if(40))
        assert "deeper than protobuf allows" in msg

    def test_nesting_within_limits_loads(self):
        assert load_model(nested_if(30)).proto.graph.node


class TestLimits:
    def test_file_over_limit(self):
        data = linear().SerializeToString()
        with pytest.raises(LimitExceededError, match="max_model_bytes"):
            load_model(data, limits=Limits(max_model_bytes=len(data) - 1))

    def test_path_over_limit_is_refused_before_reading(self, tmp_path):
        p = tmp_path / "big.onnx"
        with open(p, "wb") as fh:
            fh.truncate(3 * 1024**3)  # sparse: refusing must not read it
        with pytest.raises(LimitExceededError, match="external data"):
            load_model(p)


class TestParserChoice:
    def test_json_extension_is_still_parsed_as_binary(self, tmp_path):
        # onnx.load picks a text parser from the extension; we never do.
        p = tmp_path / "model.json"
        p.write_bytes(linear().SerializeToString())
        assert load_model(p).proto.graph.node[0].op_type == "MatMul"

    def test_path_errors(self, tmp_path):
        with pytest.raises(ModelLoadError, match="Cannot read"):
            load_model(tmp_path / "missing.onnx")
        with pytest.raises(ModelLoadError, match="not a file"):
            load_model(tmp_path)


def test_loads_bytes_and_keeps_name():
    m = load_model(linear().SerializeToString(), name="upload.onnx")
    assert m.name == "upload.onnx" and m.size_bytes > 0 and len(m.sha256) == 64


def test_model_with_unknown_fields_still_loads():
    m = model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", shape=[1])], [vi("y", shape=[1])])
    data = m.SerializeToString() + b"\xf8\x07\x01"  # field 127, varint: unknown to onnx
    assert load_model(data).proto.graph.node[0].op_type == "Relu"


def test_random_bytes_never_raise_anything_else():
    rng = np.random.default_rng(7)
    for size in (1, 2, 7, 64, 1000):
        for _ in range(20):
            try:
                load_model(rng.bytes(size))
            except ModelLoadError:
                pass
    assert os.getcwd()  # reached: no other exception type escaped
