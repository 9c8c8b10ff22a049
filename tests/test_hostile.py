"""Crafted models that once hung, exhausted memory or crashed a record (found in review and by
fuzzing). Every build_* returns a record for any model load_model accepts."""

from __future__ import annotations

import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector as I
from inspector.errors import ModelLoadError
from tests.factories import _field, linear, model, vi

BUILDERS = [
    I.build_overview,
    I.build_graph,
    I.build_subgraphs,
    I.build_initializers,
    I.build_external_data,
    I.build_compat,
    I.diagnose,
]


def every_record(m):
    loaded = I.load_model(m if isinstance(m, bytes) else m.SerializeToString(), {})
    return loaded, [b(loaded) for b in BUILDERS]


def test_invalid_utf8_in_string_fields_is_repaired():
    m = linear()
    m.producer_name = "PRODUCERX"
    data = m.SerializeToString().replace(b"PRODUCERX", b"PRODUCE\xd6\xff")
    loaded, records = every_record(data)
    assert records[0].producer_name.startswith("PRODUCE") and "\ufffd" in records[0].producer_name
    assert "1 text fields held invalid UTF-8" in loaded.notes[0]
    assert any(f.code == "repaired_on_load" for f in records[6].findings)


def test_densely_calling_functions_are_linear():
    fns = []
    n = 24
    for i in range(n):
        calls = [helper.make_node(f"f{j}", ["a"], [f"t{j}"], domain="d") for j in range(i + 1, n)]
        body = calls + [helper.make_node("Identity", ["a"], ["b"])]
        fns.append(
            helper.make_function(
                "d",
                f"f{i}",
                ["a"],
                ["b"],
                body,
                [helper.make_opsetid("", 21), helper.make_opsetid("d", 1)],
            )
        )
    m = model(
        [helper.make_node("f0", ["x"], ["y"], domain="d")],
        [vi("x", shape=[1])],
        [vi("y")],
        opsets=[helper.make_opsetid("", 21), helper.make_opsetid("d", 1)],
        functions=fns,
    )
    start = time.monotonic()
    tree = I.build_subgraphs(I.load_model(m.SerializeToString()))
    assert tree.recursive_functions == () and time.monotonic() - start < 5


def test_many_overlapping_external_ranges_are_counted_not_stored():
    tensors = []
    for i in range(3000):
        t = TensorProto(
            name=f"w{i}", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL
        )
        for k, v in {"location": "w.bin", "offset": "0", "length": "16"}.items():
            e = t.external_data.add()
            e.key, e.value = k, v
        tensors.append(t)
    m = model([], [], [], tensors)
    rep = I.build_external_data(I.load_model(m.SerializeToString(), {"w.bin": bytes(16)}))
    (f,) = rep.files
    assert f.overlap_count == 3000 * 2999 // 2 and len(f.overlaps) == 100


def test_constant_value_attribute_without_a_tensor():
    node = helper.make_node("Constant", [], ["y"])
    attr = node.attribute.add()
    attr.name, attr.type, attr.f = "value", onnx.AttributeProto.FLOAT, 1.0
    loaded, records = every_record(model([node], [], [vi("y")]))
    (row,) = records[3].rows
    assert "holds no tensor" in row.error
    assert "holds no tensor" in I.tensor_stats(loaded, row.key).error


def test_statistics_of_extreme_values():
    t = numpy_helper.from_array(np.array([-1.7e308, 1.7e308], np.float64), "t")
    loaded, _ = every_record(
        model([helper.make_node("Identity", ["t"], ["y"])], [], [vi("y")], [t])
    )
    s = I.tensor_stats(loaded, "t")
    assert s.error == "" and s.mean == 0.0 and np.isfinite(s.std) and sum(s.histogram_counts) == 2


def test_negative_dims_are_an_invalid_shape_not_a_huge_count():
    t = TensorProto(name="t", data_type=TensorProto.FLOAT, dims=[-100000, -100000])
    loaded, records = every_record(
        model([helper.make_node("Identity", ["t"], ["y"])], [], [vi("y")], [t])
    )
    assert records[0].counts.parameters == 0 and records[0].counts.bytes_inline == 0
    assert any(f.code == "invalid_shape" for f in records[6].findings)


def test_duplicate_function_definitions_and_attribute_names_keep_ids_unique():
    body = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "body", [], [vi("b")])
    big = helper.make_function(
        "d",
        "f",
        ["a", "c"],
        ["o"],
        [helper.make_node("Identity", ["a"], [f"t{i}"]) for i in range(3)]
        + [helper.make_node("If", ["c"], ["o"], then_branch=body, else_branch=body)],
        [helper.make_opsetid("", 21)],
    )
    small = helper.make_function(
        "d",
        "f",
        ["a", "c"],
        ["o"],
        [helper.make_node("Identity", ["a"], ["o"])],
        [helper.make_opsetid("", 21)],
    )
    m = model(
        [helper.make_node("f", ["x", "c"], ["y"], domain="d")],
        [vi("x", shape=[1]), vi("c", TensorProto.BOOL, [])],
        [vi("y", shape=[1])],
        opsets=[helper.make_opsetid("", 21), helper.make_opsetid("d", 1)],
        functions=[big, small],
    )
    _, records = every_record(m)
    ids = [g.id for g in records[2].graphs]
    assert len(ids) == len(set(ids)) and "fn:d.f#2" in ids


def test_opset_versions_outside_int32():
    m = linear()
    m.opset_import[0].version = 2**40
    _, records = every_record(m)
    assert any("not a valid version" in p.problem for p in records[5].op_problems)


def test_deeply_nested_truncated_tags_do_not_recurse_forever():
    # graph > node > attribute > g, 2000 times, every length running past the end.
    chunk = b""
    for _ in range(2000):
        chunk = _field(7, _field(1, _field(5, _field(6, chunk))))[:-1]
    with pytest.raises(ModelLoadError):
        I.load_model(onnx.ModelProto(ir_version=10).SerializeToString() + chunk[:20000])


class TestOnnxNativeCrashers:
    """onnx's C++ passes crash or balloon on these; they run in a limited child process, so
    each becomes a finding and the calling process (the server) lives on."""

    def test_segfault_in_shape_inference_is_a_finding(self):
        import resource

        from tests.factories import onnx_segfault

        loaded, records = every_record(onnx_segfault())
        diagnosis = records[-1]
        crash = [f for f in diagnosis.findings if f.code == "onnx_failed"]
        assert crash and "crashed (SIGSEGV)" in crash[0].message
        assert records[1].shape_inference.ok is False
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0  # we are still here

    def test_declared_memory_bomb_stays_in_the_child(self):
        import resource

        from tests.factories import declared_memory_bomb

        limits = I.Limits(analysis_memory_bytes=1 << 30)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        loaded = I.load_model(declared_memory_bomb(), {}, limits=limits)
        graph = I.build_graph(loaded)
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert not graph.shape_inference.ok
        assert "GiB allowed (analysis_memory_bytes)" in graph.shape_inference.error
        assert grown_mib < 500, grown_mib

    def test_cli_exits_with_a_finding_not_a_signal(self, tmp_path):
        import subprocess
        import sys

        from tests.factories import onnx_segfault

        src = tmp_path / "regex.onnx"
        src.write_bytes(onnx_segfault())
        proc = subprocess.run(
            [sys.executable, "-m", "inspector.cli", "diagnose", str(src)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "onnx_failed" in proc.stdout and "crashed (SIGSEGV)" in proc.stdout


class TestHostileInputFiles:
    """Issue 16: input files and input types that ended in a generic error or a traceback."""

    @staticmethod
    def npy(arr):  # type: ignore[no-untyped-def]
        import io

        buf = io.BytesIO()
        np.save(buf, arr)
        return buf.getvalue()

    def test_negative_npy_shape_and_a_damaged_npz_get_messages(self):
        import io
        import zipfile

        from inspector.run.setup.inputs import InputError, load_input_files

        good = self.npy(np.ones(4, np.float32))
        with pytest.raises(InputError, match="negative dimension"):
            load_input_files({"x.npy": good.replace(b"(4,)", b"(-4,)")}, ["x"])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("x.npy", good)
        raw = bytearray(buf.getvalue())
        raw[raw.find(b"\x93NUMPY") + 60] ^= 0xFF
        with pytest.raises(InputError, match="is damaged"):
            load_input_files({"a.npz": bytes(raw)}, ["x"])

    def test_float8_inputs_reach_onnx_runtime(self, tmp_path, capsys):
        from inspector.cli import main

        m = model(
            [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
            [vi("x", TensorProto.FLOAT8E5M2, [2])],
            [vi("y")],
        )
        path = tmp_path / "f8.onnx"
        path.write_bytes(m.SerializeToString())
        argv = ["run", str(path), "--runs", "1", "--profiled-runs", "0", "--json"]
        assert main(argv) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert '"status": "ok"' in out and "descr" not in out

    @pytest.mark.parametrize(
        "dtype, opset, ir, values",
        [
            ("INT4", 21, 10, [1, -2, 3, -8, 7]),
            ("UINT4", 21, 10, [0, 15, 3, 9, 1]),
            ("INT2", 25, 12, [1, -2, 0, -1, 1]),
            ("UINT2", 25, 12, [3, 0, 2, 1, 3]),
        ],
    )
    def test_sub_byte_inputs_reach_onnx_runtime_packed(self, dtype, opset, ir, values):
        """Issue 16: int2/int4 inputs reached ORT as tensor(string). Generated inputs stay in the
        type's range, and a file's values (an int8 .npy, onnx's own .pb) arrive unchanged."""
        from inspector.run.execute.runner import run_matrix
        from inspector.run.setup.config import Matrix, RunConfig
        from inspector.run.setup.inputs import (
            InputError,
            InputPlan,
            check_inputs,
            generate,
            load_input_files,
            resolve,
        )

        m = model(
            [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
            [vi("x", getattr(TensorProto, dtype), [5])],
            [vi("y", shape=[5])],
            ir=ir,
            opsets=[helper.make_opsetid("", opset)],
        )
        loaded = I.load_model(m.SerializeToString(), {})
        ov = I.build_overview(loaded)
        mat = Matrix((RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0),))
        pb = helper.make_tensor("x", getattr(TensorProto, dtype), [5], values)
        for files in (
            {"x.npy": self.npy(np.array(values, np.int8))},
            {"x.pb": pb.SerializeToString()},
        ):
            arrays = load_input_files(files, ["x"])
            check_inputs(arrays, ov.inputs)
            (r,) = run_matrix(loaded, mat, arrays)
            assert r.ok, r.error
            assert r.output_arrays()["y"].tolist() == values, (files.keys(), r.output_arrays()["y"])
        lo, hi = min(values), max(values)
        with pytest.raises(InputError, match=rf"is {dtype} .* holds values"):
            check_inputs({"x": np.array([lo - 1, 0, 0, 0, hi], np.int8)}, ov.inputs)
        with pytest.raises(InputError, match="give whole numbers"):
            check_inputs({"x": np.zeros(5, np.float32)}, ov.inputs)
        generated = generate(resolve(ov.inputs, InputPlan()))
        (r,) = run_matrix(loaded, mat, generated)
        assert r.ok and set(r.output_arrays()["y"].tolist()) <= set(range(lo, hi + 1)), r.error

    def test_an_impossible_shape_is_a_message_not_an_overflow(self):
        from inspector.run.setup.inputs import InputError, InputPlan, resolve

        m = model(
            [helper.make_node("Relu", ["x"], ["y"])], [vi("x", shape=[2**63 - 1, 2])], [vi("y")]
        )
        ov = I.build_overview(I.load_model(m.SerializeToString(), {}))
        with pytest.raises(InputError, match="would take .* bytes"):
            resolve(ov.inputs, InputPlan())

    def test_the_run_lab_shows_a_bad_input_file_and_keeps_working(self):
        from streamlit.testing.v1 import AppTest

        from tests.conftest import ROOT
        from tests.test_app import widget

        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        at.switch_page("pages/6_Run_lab.py").run()
        bad = self.npy(np.ones(4, np.float32)).replace(b"(4,)", b"(-4,)")
        at.file_uploader(key=widget(at, "rl_files")).set_value(
            [("x.npy", bad, "application/octet-stream")]
        ).run()
        at.button(key="rl_go").click().run()
        assert not at.exception
        assert any("negative dimension" in e.value for e in at.error)


def test_statistics_of_a_sub_byte_tensor_are_bounded_by_what_decoding_costs():
    """Issue 16: a 64 MiB INT4 weight took +4 GB on the Weights page; the limit now counts
    the decoded values (float64), not the packed storage."""
    t = onnx.TensorProto(name="q", data_type=TensorProto.INT4, dims=[1024, 1024])
    t.raw_data = bytes(1024 * 1024 // 2)  # 512 KiB packed: 1 M values, 8 MiB decoded
    m = model([helper.make_node("Identity", ["q"], ["y"])], [], [vi("y")], [t])
    loaded = I.load_model(
        m.SerializeToString(), {}, limits=I.Limits(max_stats_tensor_bytes=4 << 20)
    )
    stats = I.tensor_stats(loaded, "q")
    assert "decoding it takes 8,388,608 bytes" in stats.error
