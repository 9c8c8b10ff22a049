"""Issue 27: ``overview`` without ``import onnx`` (1 s of a 1.4 s command on a 92 MB model).

The overview is built from onnx's message classes alone (``inspector.model.proto``) with weight
totals summed from dtypes and dims. These tests hold it to the record the onnx route gives —
the totals of the Weights page's rows — on every sample model, every cached real model and
models built here for the corners (Constant scalars, sparse and external tensors, bodies,
functions), and check that the command really imports neither onnx nor numpy.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.model import build_initializers, build_overview, load_model
from inspector.records import to_jsonable
from tests.factories import external_tensor, if_branches, model, scoped_transformer, vi
from tests.realmodels import FETCH, catalogue

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "sample_models").glob("*.onnx"))
HEAVY = ("onnx", "numpy", "ml_dtypes")


def _python(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def constants_everywhere() -> onnx.ModelProto:
    """Every kind of row the Weights page lists: initializers (float, string, a negative dim,
    external), a sparse initializer, Constant values of every attribute (tensor, sparse, each
    scalar form, one holding nothing), in the main graph, an If branch and a function."""
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1, 2, 3], np.float32), "sp"),
        numpy_helper.from_array(np.array([0, 5, 9], np.int64), "sp_idx"),
        [4, 4],
    )
    strings = helper.make_tensor("names", TensorProto.STRING, [2], [b"ab", b"cde"])
    negative = TensorProto(name="neg", data_type=TensorProto.FLOAT, dims=[-1, 4])
    empty = helper.make_node("Constant", [], ["c_empty"], name="c_empty")
    empty.attribute.append(onnx.AttributeProto(name="value", type=onnx.AttributeProto.TENSOR))
    no_floats = helper.make_node("Constant", [], ["c_none"], name="c_none")
    no_floats.attribute.append(
        helper.make_attribute("value_floats", [], attr_type=onnx.AttributeProto.FLOATS)
    )
    constants = [
        helper.make_node(
            "Constant",
            [],
            ["c_t"],
            value=numpy_helper.from_array(np.ones((2, 3), np.float16), "c_t"),
        ),
        helper.make_node("Constant", [], ["c_sp"], sparse_value=sparse),
        helper.make_node("Constant", [], ["c_f"], value_float=1.5),
        helper.make_node("Constant", [], ["c_fs"], value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Constant", [], ["c_i"], value_int=7),
        helper.make_node("Constant", [], ["c_is"], value_ints=[1, 2]),
        helper.make_node("Constant", [], ["c_s"], value_string="abc"),
        helper.make_node("Constant", [], ["c_ss"], value_strings=["a", "bb", "ccc"]),
        helper.make_node("Constant", [], ["c_dom"], domain="ai.onnx", value_ints=[4, 5, 6]),
        no_floats,
        empty,
    ]
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["b"], value_ints=[1, 2, 3, 4])],
        "then",
        [],
        [vi("b", TensorProto.INT64, [4])],
        [numpy_helper.from_array(np.zeros(5, np.int32), "inner")],
    )
    fn = helper.make_function(
        "custom",
        "F",
        ["a"],
        ["b"],
        [
            helper.make_node("Constant", [], ["k"], value_floats=[0.5, 0.25]),
            helper.make_node("Mul", ["a", "k"], ["b"]),
        ],
        [helper.make_opsetid("", 21)],
    )
    m = model(
        [
            *constants,
            helper.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch),
            helper.make_node("F", ["x"], ["z"], domain="custom"),
        ],
        [vi("cond", TensorProto.BOOL, []), vi("x", shape=[2])],
        [vi("y", TensorProto.INT64, [4]), vi("z", shape=[2])],
        [
            numpy_helper.from_array(np.ones((3, 4), np.float32), "W"),
            strings,
            negative,
            external_tensor("w.bin", "ext"),
        ],
        functions=[fn],
        opsets=[helper.make_opsetid("", 21), helper.make_opsetid("custom", 1)],
    )
    m.graph.sparse_initializer.append(sparse)
    return m


BUILT = {
    "constants_everywhere": constants_everywhere,
    "if_branches": if_branches,
    "scoped_transformer_20": lambda: scoped_transformer(20),
}
REAL = {m.id: m for m in catalogue()}
CASES = (
    [pytest.param(("sample", p.name), id=p.stem) for p in SAMPLES]
    + [pytest.param(("built", name), id=name) for name in BUILT]
    + [pytest.param(("real", name), id=name) for name in REAL]
)


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("overview_fast")
    out: dict[tuple[str, str], Path] = {("sample", p.name): p for p in SAMPLES}
    for name, build in BUILT.items():
        path = folder / f"{name}.onnx"
        path.write_bytes(build().SerializeToString())
        out[("built", name)] = path
    out.update({("real", i): m.path for i, m in REAL.items() if m.path.exists()})
    return out


@pytest.fixture(scope="module")
def fresh(paths: dict[tuple[str, str], Path]) -> dict:
    """Every overview built in one fresh interpreter that never imports onnx, as JSON."""
    code = (
        "import json, sys\n"
        "from inspector.model import build_overview, load_model\n"
        "from inspector.records import to_jsonable\n"
        "out = {p: to_jsonable(build_overview(load_model(p))) for p in sys.argv[1:]}\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'records': out, 'heavy': heavy}))\n"
    )
    return json.loads(_python(code, *map(str, paths.values())))


def via_weights_page(path: Path) -> dict:
    """The record the onnx route gives: counts from the Weights page's rows."""
    loaded = load_model(path)
    ov = build_overview(loaded)
    rows = build_initializers(loaded).rows
    counts = dataclasses.replace(
        ov.counts,
        parameters=sum(r.elements for r in rows),
        bytes_inline=sum(r.bytes for r in rows if r.storage != "external"),
        bytes_external=sum(r.bytes for r in rows if r.storage == "external"),
    )
    return json.loads(json.dumps(to_jsonable(dataclasses.replace(ov, counts=counts))))


@pytest.mark.parametrize("case", CASES)
def test_the_overview_without_onnx_is_the_onnx_routes_record(case, paths, fresh):
    if case not in paths:
        pytest.skip(f"{REAL[case[1]].package} not cached: run {FETCH}")
    assert fresh["heavy"] == []
    assert fresh["records"][str(paths[case])] == via_weights_page(paths[case])


def test_the_corner_model_counts_every_kind_of_row(paths, fresh):
    """The built corners are not vacuous: scalars count their numpy itemsize, the external
    initializer its declared bytes, the nested and function Constants their values."""
    counts = fresh["records"][str(paths[("built", "constants_everywhere")])]["counts"]
    assert counts["bytes_external"] == 16
    assert counts["initializers"] == 6  # W, names, neg, ext; "inner" in each If branch
    rows = build_initializers(load_model(paths[("built", "constants_everywhere")])).rows
    assert {r.source for r in rows} == {"initializer", "sparse_initializer", "Constant"}
    assert any(r.graph.startswith("fn:") for r in rows)
    assert any(":" in r.graph for r in rows if not r.graph.startswith("fn:"))
    assert counts["parameters"] == sum(r.elements for r in rows) > 0


def test_the_overview_command_imports_neither_onnx_nor_numpy():
    code = (
        "import sys\n"
        "from inspector.cli import main\n"
        "for flags in ([], ['--json']):\n"
        "    assert main(['overview', sys.argv[1], *flags]) == 0\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", code, str(SAMPLES[0])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "Opset imports" in run.stdout
    assert run.stderr.strip().splitlines()[-1] == "[]"


def test_the_message_classes_are_onnxs_own():
    """Parsed without onnx, a model is an ``onnx.ModelProto`` once onnx is imported: the
    shape inference, checker and helpers that take it see no difference."""
    code = (
        "import sys\n"
        "from inspector.model import proto\n"
        "before = 'onnx' in sys.modules\n"
        "import onnx\n"
        "names = ['AttributeProto', 'FunctionProto', 'GraphProto', 'ModelProto', 'NodeProto',\n"
        "         'TensorProto', 'TensorShapeProto', 'TypeProto', 'ValueInfoProto']\n"
        "same = all(getattr(proto, n) is getattr(onnx, n) for n in names)\n"
        "print(before, same)\n"
    )
    assert _python(code).split() == ["False", "True"]
    loaded = load_model(SAMPLES[0])
    assert isinstance(loaded.proto, onnx.ModelProto)
    onnx.checker.check_model(loaded.proto)
