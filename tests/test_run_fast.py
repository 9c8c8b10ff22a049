"""Issue 27: ``run`` costs what ONNX Runtime costs — no ``import onnx`` in the CLI's process.

``import onnx`` (with ml_dtypes) took 0.55–0.7 s of a 1.6 s ``onnx-inspector run`` of a
YOLOv8n detector; shape inference in the onnx child added 2 s to a MiniLM export's run for one
table size. These tests hold the faster route to the old one's answers: dtype decoding and
mapping equal onnx's own, the quantized-table bound found without shape inference, the model
the workers get byte for byte what was loaded (or the renamed copy where names had to change)
— and check in fresh processes that the command and the input resolution on every cached real
model import neither onnx nor ml_dtypes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import load_model
from inspector.model.dtypes import plain_array
from inspector.run.execute.prepare import prepare, unique_names
from inspector.run.setup.inputs import FEEDABLE_DTYPES, NUMPY_DTYPES, shape_hints
from tests.factories import if_branches, model, vi
from tests.realmodels import available

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("onnx", "ml_dtypes", "inspector.model.native")


def quantized_embedding(rows: int = 50, d: int = 4) -> onnx.ModelProto:
    """ids → Gather on a table dequantized in the graph (int8 weight, Cast, Mul by a per-row
    scale), as the MiniLM export of the real-model set does it: the table's row count is the
    weight's, known without shape inference."""
    rng = np.random.default_rng(0)
    q = numpy_helper.from_array(rng.integers(-127, 127, (rows, d), dtype=np.int8), "table_q")
    scale = numpy_helper.from_array(np.full((rows, 1), 0.01, np.float32), "table_scale")
    nodes = [
        helper.make_node("Cast", ["table_q"], ["table_f"], to=TensorProto.FLOAT, name="cast"),
        helper.make_node("Mul", ["table_f", "table_scale"], ["table"], name="dequant"),
        helper.make_node("Gather", ["table", "ids"], ["y"], name="lookup"),
    ]
    return model(
        nodes,
        [vi("ids", TensorProto.INT64, ["batch", "sequence"])],
        [vi("y", TensorProto.FLOAT, None)],
        [q, scale],
    )


def _fresh(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_the_run_command_imports_neither_onnx_nor_ml_dtypes(tmp_path):
    path = tmp_path / "emb.onnx"
    path.write_bytes(quantized_embedding().SerializeToString())
    code = (
        "import sys\n"
        "from inspector.cli import main\n"
        "code = main(['run', sys.argv[1], '--ep', 'cpu', '--level', 'all', '--warmup', '0',\n"
        "             '--runs', '6', '--profiled-runs', '0'])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    run = _fresh(code, str(path))
    assert run.returncode == 0, run.stderr
    assert "ids within the table: 0..49 (Gather on table (50 rows))" in run.stderr
    assert "CPU · all" in run.stdout and " ok " in run.stdout
    assert run.stderr.strip().splitlines()[-1] == "[]"


def test_inputs_for_every_cached_real_model_resolve_without_onnx_in_this_process():
    """Shape inference may still run where a table's size is known no other way — in its own
    child process, which imports onnx there; this process never does."""
    models = available()
    if not models:
        pytest.skip("no real models cached (python -m tests.realmodels)")
    code = (
        "import json, sys\n"
        "from inspector import load_model\n"
        "from inspector.run.setup.request import RunForm, RunRequest\n"
        "out = {}\n"
        "for path in sys.argv[1:]:\n"
        "    m = load_model(path)\n"
        "    run = RunRequest.from_form(RunForm(eps=('CPU',)), {'CPU': 'cpu'}).resolve(m)\n"
        "    out[path] = {'inputs': sorted(run.inputs), 'inferred': 'native' in m.__dict__}\n"
        "heavy = [m for m in ('onnx', 'ml_dtypes') if m in sys.modules]\n"
        "print(json.dumps({'models': out, 'heavy': heavy}))\n"
    )
    run = _fresh(code, *(str(m.path) for m in models))
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["heavy"] == []
    for m in models:
        assert got["models"][str(m.path)]["inputs"], m.id
    # The two the issue measured need no shape inference at all.
    by_id = {m.id: got["models"][str(m.path)] for m in models}
    for rid in ("nudenet_yolov8n_320", "minilm_l6_int8w"):
        if rid in by_id:
            assert by_id[rid]["inferred"] is False, rid


def test_a_table_dequantized_in_the_graph_is_bounded_without_shape_inference():
    loaded = load_model(quantized_embedding(rows=37).SerializeToString())
    hints = dict(shape_hints(loaded).values)
    assert hints["ids"].high == 36 and "37 rows" in hints["ids"].why
    assert "native" not in loaded.__dict__  # shape inference never ran


def test_a_broadcast_that_does_not_fit_falls_back_to_shape_inference():
    """A scale whose shape cannot broadcast with the weight's says nothing about the table:
    the bound then comes from shape inference, or from nothing."""
    m = quantized_embedding(rows=8)
    m.graph.initializer[1].CopyFrom(
        numpy_helper.from_array(np.full((3, 1), 0.01, np.float32), "table_scale")
    )
    loaded = load_model(m.SerializeToString())
    shape_hints(loaded)
    assert "native" in loaded.__dict__


NUMERIC = [
    np.float32,
    np.float64,
    np.float16,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.bool_,
]


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "typed_field"])
def test_plain_array_decodes_as_onnx_does(dtype, raw):
    values = (np.arange(-3, 9).reshape(3, 4) % (2 if dtype is np.bool_ else 200)).astype(dtype)
    if raw:
        t = numpy_helper.from_array(values, "t")
    else:
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        if dtype is np.float16:
            t = helper.make_tensor("t", elem, values.shape, values.view(np.uint16).ravel())
        else:
            t = helper.make_tensor("t", elem, values.shape, values.ravel().tolist())
    assert t.HasField("raw_data") is raw
    got, want = plain_array(t), numpy_helper.to_array(t)
    assert got is not None and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_plain_array_leaves_types_numpy_lacks_and_external_data_to_onnx():
    bf16 = helper.make_tensor("b", TensorProto.BFLOAT16, [2], [1.0, 2.0])
    text = helper.make_tensor("s", TensorProto.STRING, [1], [b"x"])
    ext = numpy_helper.from_array(np.ones(2, np.float32), "e")
    ext.data_location = TensorProto.EXTERNAL
    assert plain_array(bf16) is None and plain_array(text) is None and plain_array(ext) is None


@pytest.mark.parametrize("table", [NUMPY_DTYPES, FEEDABLE_DTYPES], ids=["generated", "feedable"])
def test_the_numpy_type_of_every_element_type_is_onnxs(table):
    for name in table:
        want = (
            np.str_
            if name == "STRING"
            else helper.tensor_dtype_to_np_dtype(TensorProto.DataType.Value(name)).type
        )
        assert table[name] is want, name
    with pytest.raises(KeyError):
        table["NOT_A_TYPE"]


class TestTheModelWorkersGet:
    def test_unique_safe_names_keep_the_model_itself(self):
        m = load_model(quantized_embedding().SerializeToString())
        named, mapping = unique_names(m.proto)
        assert named is m.proto and mapping == {
            "cast": "main:0",
            "dequant": "main:1",
            "lookup": "main:2",
        }

    @pytest.mark.parametrize("source", ["bytes", "path"])
    def test_the_loaded_bytes_are_written_as_they_were(self, tmp_path, source):
        data = quantized_embedding().SerializeToString()
        path = tmp_path / "m.onnx"
        path.write_bytes(data)
        loaded = load_model(data if source == "bytes" else path)
        prepared = prepare(loaded)
        try:
            assert prepared.model_path.read_bytes() == data
        finally:
            prepared.cleanup()

    def test_a_file_changed_since_loading_is_not_what_workers_get(self, tmp_path):
        path = tmp_path / "m.onnx"
        path.write_bytes(quantized_embedding(rows=50).SerializeToString())
        loaded = load_model(path)
        path.write_bytes(quantized_embedding(rows=60).SerializeToString())  # after loading
        prepared = prepare(loaded)
        try:
            written = onnx.load_from_string(prepared.model_path.read_bytes())
            assert list(written.graph.initializer[0].dims) == [50, 4]  # the loaded model
        finally:
            prepared.cleanup()

    def test_nodes_renamed_in_a_body_rename_the_copy_only(self):
        m = if_branches()
        for g in (m.graph, *(a.g for n in m.graph.node for a in n.attribute if a.g.node)):
            for node in g.node:
                node.name = ""
        loaded = load_model(m.SerializeToString())
        named, mapping = unique_names(loaded.proto)
        assert named is not loaded.proto
        bodies = [a.g for n in named.graph.node for a in n.attribute if a.g.node]
        names = [n.name for g in (named.graph, *bodies) for n in g.node]
        assert all(names) and len(set(names)) == len(names) == len(mapping)
        assert not any(n.name for n in loaded.proto.graph.node)  # the loaded model untouched
        prepared = prepare(loaded)
        try:
            assert prepared.model_path.read_bytes() == named.SerializeToString()
        finally:
            prepared.cleanup()
