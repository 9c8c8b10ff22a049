"""External data: a class per threat. Nothing outside the companion set may ever be opened."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import build_external_data, load_model, tensor_stats
from inspector.errors import CompanionFileError
from inspector.model.companions import DirectoryCompanions, MemoryCompanions, normalize_location
from tests.factories import (
    external_tensor,
    linear,
    model,
    vi,
    with_external,
    with_function_default,
)

W_BYTES = 4 * 3 * 4


def report_for(tmp_path, **kw):
    path = with_external(linear(4, 3), tmp_path, "W", **kw)
    model = load_model(path)
    return model, build_external_data(model)


class TestHappyPath:
    def test_valid_reference(self, tmp_path):
        model, rep = report_for(tmp_path)
        (t,) = rep.tensors
        assert (t.status, t.file, t.offset, t.length, t.expected_bytes) == (
            "ok",
            "w.bin",
            0,
            W_BYTES,
            W_BYTES,
        )
        (f,) = rep.files
        assert (f.size, f.bytes_referenced, f.gap_bytes, f.overlaps) == (W_BYTES, W_BYTES, 0, ())
        assert rep.ok
        stats = tensor_stats(model, "W")
        ref = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
        assert stats.error == "" and stats.max == pytest.approx(float(ref.max()))

    def test_uploads_in_memory(self, tmp_path):
        path = with_external(linear(4, 3), tmp_path, "W")
        data = {"w.bin": (tmp_path / "w.bin").read_bytes(), "notes.txt": b"x"}
        model = load_model(path.read_bytes(), data)
        rep = build_external_data(model)
        assert rep.tensors[0].status == "ok" and rep.unreferenced_files == ("notes.txt",)

    def test_gap_and_overlap(self, tmp_path):
        m = linear(4, 3)
        path = with_external(m, tmp_path, "W", offset=16, pad=8)
        rep = build_external_data(load_model(path))
        assert rep.files[0].gap_bytes == 16 + 8
        # Point b at the same bytes as W: an overlap.
        from onnx import TensorProto

        proto = load_model(path).proto
        b = next(t for t in proto.graph.initializer if t.name == "b")
        b.ClearField("raw_data")
        b.data_location = TensorProto.EXTERNAL
        for k, v in {"location": "w.bin", "offset": "20", "length": "12"}.items():
            e = b.external_data.add()
            e.key, e.value = k, v
        rep = build_external_data(
            load_model(proto.SerializeToString(), {"w.bin": (tmp_path / "w.bin").read_bytes()})
        )
        assert rep.files[0].overlaps == (("main/W", "main/b"),)


class TestPathTraversal:
    @pytest.mark.parametrize(
        "location",
        [
            "../secret.bin",
            "a/../../secret.bin",
            "/etc/passwd",
            "\\\\server\\share\\w.bin",
            "C:\\weights\\w.bin",
            "c:/w.bin",
            "..\\secret.bin",
            "w.bin\x00.txt",
        ],
        ids=[
            "dotdot",
            "nested-dotdot",
            "absolute",
            "unc",
            "drive",
            "drive-slash",
            "backslash-dotdot",
            "nul",
        ],
    )
    def test_unsafe_locations_are_refused_and_never_opened(self, tmp_path, location):
        (tmp_path / "secret.bin").write_bytes(b"S" * W_BYTES)
        model, rep = report_for(tmp_path / "m", location=location)
        (t,) = rep.tensors
        assert t.status == "unsafe_path" and not t.usable
        stats = tensor_stats(model, "W")
        assert "refused" in stats.error and stats.min is None

    def test_server_file_in_working_directory_is_not_reachable(self, tmp_path, monkeypatch):
        # The measured exploit: a location naming a file in the server's cwd.
        cwd = tmp_path / "server"
        (cwd / ".streamlit").mkdir(parents=True)
        (cwd / ".streamlit" / "secrets.toml").write_bytes(b"K" * W_BYTES)
        monkeypatch.chdir(cwd)
        upload = tmp_path / "upload"
        path = with_external(linear(4, 3), upload, "W", location=".streamlit/secrets.toml")
        model = load_model(path.read_bytes(), {})  # uploaded alone: no companions
        (t,) = build_external_data(model).tensors
        assert t.status == "missing_file"
        assert "not provided" in tensor_stats(model, "W").error

    def test_symlink_in_folder_is_refused(self, tmp_path):
        (tmp_path / "outside.bin").write_bytes(b"\0" * W_BYTES)
        folder = tmp_path / "m"
        path = with_external(linear(4, 3), folder, "W", location="link.bin", write=False)
        os.symlink(tmp_path / "outside.bin", folder / "link.bin")
        (t,) = build_external_data(load_model(path)).tensors
        assert t.status == "missing_file"

    def test_upload_names_are_checked_too(self):
        with pytest.raises(CompanionFileError, match="'..' path component"):
            MemoryCompanions({"../x.bin": b""})
        assert normalize_location("a\\./b//c.bin") == "a/b/c.bin"

    def test_directory_read_outside_range_is_refused(self, tmp_path):
        (tmp_path / "f.bin").write_bytes(b"12345678")
        comp = DirectoryCompanions(tmp_path)
        assert comp.read("f.bin", 2, 3) == b"345"
        with pytest.raises(CompanionFileError, match="outside"):
            comp.read("f.bin", 4, 8)


class TestBadReferences:
    def test_missing_file(self, tmp_path):
        model, rep = report_for(tmp_path, location="nothere.bin", write=False)
        assert rep.tensors[0].status == "missing_file" and rep.files[0].size is None

    def test_offset_beyond_file(self, tmp_path):
        path = with_external(linear(4, 3), tmp_path, "W")
        (tmp_path / "w.bin").write_bytes(b"\0" * 10)  # shorter than the tensor
        (t,) = build_external_data(load_model(path)).tensors
        assert t.status == "out_of_range" and "beyond the end" in t.messages[0]

    def test_truncated_file_without_length_key(self, tmp_path):
        # onnx silently accepts a short file when 'length' is absent: we do not.
        path = with_external(linear(4, 3), tmp_path, "W", length=None)
        (tmp_path / "w.bin").write_bytes(b"\0" * (W_BYTES - 4))
        (t,) = build_external_data(load_model(path)).tensors
        assert t.status == "out_of_range" and any("no 'length'" in m for m in t.messages)

    def test_shared_file_without_length_keys_is_fine(self, tmp_path):
        # Tensors packed back to back with only offsets: each spans exactly its own bytes.
        path = with_external(linear(), tmp_path, "W", length=None, pad=12)
        proto = load_model(path).proto
        b = next(t for t in proto.graph.initializer if t.name == "b")
        b.ClearField("raw_data")
        b.data_location = TensorProto.EXTERNAL
        for k, v in {"location": "w.bin", "offset": str(W_BYTES)}.items():
            e = b.external_data.add()
            e.key, e.value = k, v
        rep = build_external_data(load_model(proto.SerializeToString(), tmp_path))
        assert [t.status for t in rep.tensors] == ["no_length", "no_length"] and rep.ok
        assert rep.files[0].gap_bytes == 0

    def test_sparse_indices_are_checked_too(self, tmp_path):
        values = numpy_helper.from_array(np.ones(2, np.float32), "sv")
        indices = numpy_helper.from_array(np.array([0, 3], np.int64), "si")
        indices.ClearField("raw_data")
        indices.data_location = TensorProto.EXTERNAL
        e = indices.external_data.add()
        e.key, e.value = "location", "../../etc/passwd"
        sparse = helper.make_sparse_tensor(values, indices, [4])
        m = model([helper.make_node("Identity", ["sv"], ["y"])], [], [vi("y")], ir=10)
        m.graph.sparse_initializer.append(sparse)
        rep = build_external_data(load_model(m.SerializeToString(), {}))
        assert [t.status for t in rep.tensors] == ["unsafe_path"] and not rep.ok

    def test_length_disagrees_with_shape(self, tmp_path):
        _, rep = report_for(tmp_path, length=W_BYTES - 4)
        assert rep.tensors[0].status == "size_mismatch"

    @pytest.mark.parametrize("offset_value, status", [("-4", "bad_number"), ("abc", "bad_number")])
    def test_negative_or_garbage_numbers(self, tmp_path, offset_value, status):
        path = with_external(linear(4, 3), tmp_path, "W")
        model = load_model(path)
        entry = next(e for e in model.proto.graph.initializer[0].external_data if e.key == "offset")
        entry.value = offset_value
        rep = build_external_data(load_model(model.proto.SerializeToString(), tmp_path))
        assert rep.tensors[0].status == status

    def test_unknown_key_is_a_warning(self, tmp_path):
        _, rep = report_for(tmp_path, extra={"sha1": "abc"})
        (t,) = rep.tensors
        assert t.status == "unknown_key" and t.usable


def test_two_gb_of_external_weights_are_described_without_reading(tmp_path):
    from onnx import TensorProto, helper

    tensors = []
    for i in range(3):
        t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[256 * 1024 * 1024])
        t.data_location = TensorProto.EXTERNAL
        for k, v in {
            "location": "big.bin",
            "offset": str(i * 1024**3),
            "length": str(1024**3),
        }.items():
            e = t.external_data.add()
            e.key, e.value = k, v
        tensors.append(t)
    from tests.factories import model as make
    from tests.factories import vi

    m = make([helper.make_node("Sum", ["w0", "w1", "w2"], ["y"])], [], [vi("y")], tensors)
    (tmp_path / "m.onnx").write_bytes(m.SerializeToString())
    with open(tmp_path / "big.bin", "wb") as fh:
        fh.truncate(3 * 1024**3)  # sparse: reading it would take seconds and 3 GB
    rep = build_external_data(load_model(tmp_path / "m.onnx"))
    assert rep.ok and rep.files[0].bytes_referenced == 3 * 1024**3


class TestWhereReferencesHide:
    """Issue 22: a model-local function's default attribute values (``attribute_proto``) were
    not walked: the page said no tensor uses external data while the model named /etc/passwd."""

    def test_a_function_default_tensor_is_listed_and_refused(self):
        m = with_function_default(external_tensor("/etc/passwd"))
        rep = build_external_data(load_model(m.SerializeToString(), {}))
        (row,) = rep.tensors
        assert row.graph == "fn:custom.F.default:w" and row.status == "unsafe_path"
        # The same message as anywhere else in the model.
        plain = build_external_data(
            load_model(_in_initializer("/etc/passwd").SerializeToString(), {})
        ).tensors[0]
        assert row.messages == plain.messages and not rep.ok

    def test_a_graph_in_a_function_default_is_walked_too(self):
        inner = helper.make_graph(
            [helper.make_node("Identity", ["w"], ["o"])],
            "g",
            [],
            [vi("o")],
            [external_tensor("../../etc/shadow")],
        )
        m = with_function_default(inner)
        rep = build_external_data(load_model(m.SerializeToString(), {}))
        assert [(t.graph, t.status) for t in rep.tensors] == [
            ("fn:custom.F.default:w", "unsafe_path")
        ]

    def test_a_run_refuses_it(self):
        from inspector.run.execute.prepare import RunError, prepare

        m = with_function_default(external_tensor("/etc/passwd"))
        with pytest.raises(RunError, match="absolute path"):
            prepare(load_model(m.SerializeToString(), {}))

    def test_cli_json_lists_it(self, tmp_path):
        import json
        import subprocess
        import sys

        path = tmp_path / "m.onnx"
        path.write_bytes(with_function_default(external_tensor("/etc/passwd")).SerializeToString())
        proc = subprocess.run(
            [sys.executable, "-m", "inspector", "external-data", str(path), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        data = json.loads(proc.stdout)
        (row,) = data["tensors"]
        assert row["status"] == "unsafe_path" and row["graph"] == "fn:custom.F.default:w"
        assert data["errors"] == 1

    def test_bodies_past_the_depth_limit_are_still_checked(self):
        from inspector.limits import Limits

        inner = helper.make_graph(
            [helper.make_node("Identity", ["w"], ["o"])],
            "inner",
            [],
            [vi("o")],
            [external_tensor("/etc/passwd")],
        )
        cond = helper.make_tensor("c", TensorProto.BOOL, [], [True])
        mid = helper.make_graph(
            [helper.make_node("If", ["c"], ["o"], then_branch=inner, else_branch=inner)],
            "mid",
            [],
            [vi("o")],
            [cond],
        )
        m = model(
            [helper.make_node("If", ["c"], ["y"], then_branch=mid, else_branch=mid)],
            [],
            [vi("y")],
            [cond],
        )
        loaded = load_model(m.SerializeToString(), {}, limits=Limits(max_subgraph_depth=1))
        rep = build_external_data(loaded)
        # Two If bodies, each with two copies of the inner graph: four tensors, each once.
        assert [t.status for t in rep.tensors] == ["unsafe_path"] * 4
        assert {t.graph for t in rep.tensors} == {"(nested past max_subgraph_depth)"}


def _in_initializer(location: str):  # type: ignore[no-untyped-def]
    m = linear()
    m.graph.initializer.append(external_tensor(location))
    return m
