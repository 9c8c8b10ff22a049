"""Overview, graph, subgraph and initializer records on models built in code."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import (
    build_graph,
    build_initializers,
    build_overview,
    build_subgraphs,
    load_model,
    tensor_stats,
)
from inspector.errors import NotFoundError
from tests.factories import linear, model, nested_if, vi


def load(m: onnx.ModelProto):
    return load_model(m.SerializeToString(), name="m.onnx")


class TestOverview:
    def test_metadata_and_counts(self):
        m = linear(4, 3)
        helper.set_model_props(m, {"author": "me", "license": "MIT"})
        m.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
        ov = build_overview(load(m))
        assert (ov.ir_version, ov.producer_name, ov.doc_string) == (10, "tests", "a linear layer")
        assert dict(ov.metadata_props) == {"author": "me", "license": "MIT"}
        used = {o.domain: o.used for o in ov.opset_imports}
        assert used == {"": True, "ai.onnx.ml": False}
        assert ov.counts.nodes_total == 2 and ov.counts.initializers == 2
        assert ov.counts.parameters == 4 * 3 + 3
        assert ov.counts.bytes_inline == (12 + 3) * 4 and ov.counts.bytes_external == 0
        json.dumps(ov.to_dict())  # JSON twin

    def test_dims_fixed_symbolic_unknown(self):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, [None, "seq", 8])
        m = model([helper.make_node("Identity", ["x"], ["y"])], [x], [vi("y")])
        ov = build_overview(load(m))
        (inp,) = ov.inputs
        assert inp.dtype == "FLOAT16"
        assert [(d.kind, d.value) for d in inp.dims] == [
            ("unknown", None),
            ("symbolic", "seq"),
            ("fixed", 8),
        ]
        assert inp.shape_text == "[?, seq, 8]"
        assert ov.outputs[0].dims is None  # rank unknown

    def test_initializers_listed_as_inputs_are_separated(self):
        m = linear()
        m.graph.input.append(vi("W", shape=[4, 3]))
        ov = build_overview(load(m))
        assert [i.name for i in ov.inputs] == ["x"]
        assert ov.initializers_listed_as_inputs == ("W",)

    def test_counts_include_subgraphs_and_functions(self):
        body = helper.make_graph(
            [
                helper.make_node("Neg", ["x"], ["n"], name="neg"),
                helper.make_node("Abs", ["n"], ["y"], name="abs"),
            ],
            "b",
            [],
            [vi("y", shape=[1])],
        )
        fn = helper.make_function(
            "custom",
            "Twice",
            ["a"],
            ["b"],
            [helper.make_node("Add", ["a", "a"], ["b"])],
            [helper.make_opsetid("", 21)],
        )
        m = model(
            [
                helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body),
                helper.make_node("Twice", ["y"], ["z"], domain="custom"),
            ],
            [vi("c", TensorProto.BOOL, []), vi("x", shape=[1])],
            [vi("z", shape=[1])],
            opsets=[helper.make_opsetid("", 21), helper.make_opsetid("custom", 1)],
            functions=[fn],
        )
        c = build_overview(load(m)).counts
        assert (c.nodes_total, c.nodes_main_graph, c.subgraphs, c.functions) == (2 + 4 + 1, 2, 2, 1)


class TestGraph:
    def test_node_table_ids_are_unique_with_empty_and_duplicate_names(self):
        m = model(
            [
                helper.make_node("Relu", ["x"], ["a"]),
                helper.make_node("Relu", ["a"], ["b"]),
                helper.make_node("Relu", ["b"], ["c"], name="r"),
                helper.make_node("Relu", ["c"], ["y"], name="r"),
            ],
            [vi("x", shape=[2])],
            [vi("y", shape=[2])],
        )
        g = build_graph(load(m))
        assert [n.id for n in g.nodes] == ["main:0", "main:1", "main:2", "main:3"]
        assert [n.name for n in g.nodes] == ["", "", "r", "r"]
        assert g.op_histogram == (("Relu", 4),)
        assert g.topological_order == ("main:0", "main:1", "main:2", "main:3")

    def test_shapes_are_inferred(self):
        g = build_graph(load(linear(4, 3)))
        assert g.shape_inference.ok
        assert [n.output_shapes for n in g.nodes] == [("FLOAT[batch, 3]",), ("FLOAT[batch, 3]",)]
        assert g.filter(shape="batch, 3") == g.nodes

    def test_shape_inference_failure_is_reported_not_raised(self):
        # MatMul of [2,3] by [4,5]: inference fails in strict mode.
        m = model(
            [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
            [vi("a", shape=[2, 3]), vi("b", shape=[4, 5])],
            [vi("y")],
        )
        g = build_graph(load(m))
        assert not g.shape_inference.ok and "MatMul" in g.shape_inference.error

    def test_cycle_dangling_duplicate_unsorted(self):
        m = model(
            [
                helper.make_node("Add", ["x", "ghost"], ["a"], name="uses_ghost"),
                helper.make_node("Relu", ["c"], ["b"], name="late_use"),
                helper.make_node("Relu", ["x"], ["c"], name="first"),
                helper.make_node("Relu", ["x"], ["c"], name="again"),
            ],
            [vi("x", shape=[1])],
            [vi("a"), vi("b")],
        )
        kinds = {(i.kind, i.tensor) for i in build_graph(load(m)).issues}
        assert ("dangling_input", "ghost") in kinds
        assert ("duplicate_output", "c") in kinds
        assert ("unsorted", "") in kinds
        cyclic = model(
            [
                helper.make_node("Relu", ["b"], ["a"], name="p"),
                helper.make_node("Relu", ["a"], ["b"], name="q"),
            ],
            [],
            [vi("a")],
        )
        g = build_graph(load(cyclic))
        assert [i.kind for i in g.issues] == ["cycle"] and g.topological_order == ()
        assert set(g.issues[0].nodes) == {"main:0", "main:1"}

    def test_outer_scope_names_are_not_dangling(self):
        body = helper.make_graph(
            [helper.make_node("Add", ["x", "outer"], ["y"], name="in_body")],
            "b",
            [],
            [vi("y", shape=[1])],
        )
        m = model(
            [
                helper.make_node("Relu", ["x"], ["outer"], name="before"),
                helper.make_node("If", ["c"], ["y"], name="if", then_branch=body, else_branch=body),
            ],
            [vi("c", TensorProto.BOOL, []), vi("x", shape=[1])],
            [vi("y", shape=[1])],
        )
        g = build_graph(load(m))
        assert g.issues == ()
        assert g.topological_order == ("main:0", "main:1")

    def test_filters(self):
        fn_model = model(
            [
                helper.make_node("Relu", ["x"], ["a"], name="Act1"),
                helper.make_node("Sum", ["a"], ["y"], name="s", domain="com.example"),
            ],
            [vi("x", shape=[1])],
            [vi("y")],
            opsets=[helper.make_opsetid("", 21), helper.make_opsetid("com.example", 1)],
        )
        g = build_graph(load(fn_model))
        assert [n.name for n in g.filter(name="act")] == ["Act1"]
        assert [n.name for n in g.filter(op_type="Sum")] == ["s"]
        assert [n.name for n in g.filter(domain="ai.onnx")] == ["Act1"]
        assert [n.name for n in g.filter(domain="com.example")] == ["s"]
        assert len(g.frame()) == 2

    def test_attribute_summary_is_bounded(self):
        node = helper.make_node("Pad", ["x", "p"], ["y"], name="pad", mode="constant")
        node.attribute.append(helper.make_attribute("long", "z" * 1000))
        m = model([node], [vi("x", shape=[1]), vi("p", TensorProto.INT64, [2])], [vi("y")])
        attrs = build_graph(load(m)).nodes[0].attributes
        assert len(attrs) <= 200 and attrs.endswith("…") and "mode='constant'" in attrs


class TestSubgraphs:
    def test_tree_of_if_and_loop(self, samples):
        tree = build_subgraphs(load_model(samples / "control_flow_if_loop.onnx"))
        by_id = {g.id: g for g in tree.graphs}
        assert tree.max_depth == 2
        loop_body = next(g for g in tree.graphs if g.owner_op == "Loop")
        assert loop_body.attribute == "body" and loop_body.depth == 1
        nested = tree.children(loop_body.id)
        assert {g.owner_op for g in nested} == {"If"} and all(g.depth == 2 for g in nested)
        assert by_id["main"].nodes_nested == sum(g.nodes for g in tree.graphs)

    def test_deep_nesting_is_walked_to_the_limit(self):
        from inspector.limits import Limits

        m = load_model(nested_if(30), limits=Limits(max_subgraph_depth=10))
        tree = build_subgraphs(m)
        assert tree.max_depth == 10 and len(tree.not_walked) == 1

    def test_recursive_functions_are_detected(self):
        f = helper.make_function(
            "d",
            "F",
            ["a"],
            ["b"],
            [helper.make_node("G", ["a"], ["b"], domain="d")],
            [helper.make_opsetid("d", 1)],
        )
        g = helper.make_function(
            "d",
            "G",
            ["a"],
            ["b"],
            [helper.make_node("F", ["a"], ["b"], domain="d")],
            [helper.make_opsetid("d", 1)],
        )
        m = model(
            [helper.make_node("F", ["x"], ["y"], domain="d")],
            [vi("x", shape=[1])],
            [vi("y")],
            opsets=[helper.make_opsetid("", 21), helper.make_opsetid("d", 1)],
            functions=[f, g],
        )
        tree = build_subgraphs(load(m))
        assert len(tree.recursive_functions) == 1
        assert set(tree.recursive_functions[0]) == {"fn:d.F", "fn:d.G"}
        assert {g.kind for g in tree.graphs} == {"main", "function"}


class TestInitializers:
    def test_initializers_and_constants_are_listed(self):
        m = model(
            [
                helper.make_node(
                    "Constant",
                    [],
                    ["k"],
                    name="const",
                    value=numpy_helper.from_array(np.arange(6, dtype=np.int32).reshape(2, 3)),
                ),
                helper.make_node("Constant", [], ["f"], name="cf", value_floats=[1.0, 2.0]),
                helper.make_node("Identity", ["W"], ["y"]),
            ],
            [],
            [vi("y")],
            [numpy_helper.from_array(np.ones((2, 2), np.float32), "W")],
        )
        table = build_initializers(load(m))
        rows = {r.key: r for r in table.rows}
        assert set(rows) == {"main/W", "main:0/value", "main:1/value_floats"}
        assert rows["main:0/value"].source == "Constant" and rows["main:0/value"].shape == (2, 3)
        assert rows["main:1/value_floats"].elements == 2
        assert table.total_bytes == 16 + 24 + 8

    @pytest.mark.parametrize(
        "dtype, onnx_type",
        [
            (np.float32, "FLOAT"),
            (np.float16, "FLOAT16"),
            (np.float64, "DOUBLE"),
            (ml_dtypes.bfloat16, "BFLOAT16"),
            (ml_dtypes.float8_e4m3fn, "FLOAT8E4M3FN"),
            (ml_dtypes.float8_e5m2, "FLOAT8E5M2"),
            (ml_dtypes.int4, "INT4"),
            (np.int8, "INT8"),
            (np.uint8, "UINT8"),
            (np.int64, "INT64"),
            (np.bool_, "BOOL"),
        ],
        ids=lambda v: v if isinstance(v, str) else None,
    )
    def test_statistics_for_every_numeric_dtype(self, dtype, onnx_type):
        values = np.array([-2, -1, 0, 0, 1, 2, 3, 0], dtype=np.float32)
        if dtype is np.uint8 or dtype is np.bool_:
            values = np.abs(values)
        arr = values.astype(dtype)
        t = numpy_helper.from_array(arr, "t")
        m = model([helper.make_node("Identity", ["t"], ["y"])], [], [vi("y")], [t], ir=11)
        s = tensor_stats(load(m), "t")
        ref = arr.astype(np.float64)
        assert s.dtype == onnx_type and s.error == ""
        assert (s.min, s.max) == (ref.min(), ref.max())
        assert s.mean == pytest.approx(ref.mean()) and s.std == pytest.approx(ref.std())
        assert s.zero_fraction == pytest.approx((ref == 0).mean())
        assert sum(s.histogram_counts) == 8 and len(s.histogram_edges) == 51

    def test_nan_and_inf_are_counted_not_propagated(self):
        t = numpy_helper.from_array(np.array([1.0, np.nan, np.inf, -np.inf, 3.0], np.float32), "t")
        m = model([helper.make_node("Identity", ["t"], ["y"])], [], [vi("y")], [t])
        s = tensor_stats(load(m), "t")
        assert (s.nan_count, s.inf_count, s.min, s.max, s.mean) == (1, 2, 1.0, 3.0, 2.0)

    def test_strings_with_invalid_utf8_are_decoded_safely(self):
        t = helper.make_tensor("s", TensorProto.STRING, [3], [b"ok", b"\xff\xfe", "é".encode()])
        m = model(
            [helper.make_node("Identity", ["s"], ["y"])], [], [vi("y", TensorProto.STRING)], [t]
        )
        s = tensor_stats(load(m), "s")
        assert s.error == "" and s.invalid_utf8 == 1
        assert s.preview == ("ok", "\\xff\\xfe", "é")

    @pytest.mark.parametrize(
        "damage, message",
        [
            (lambda t: setattr(t, "raw_data", t.raw_data[:-4]), "raw_data holds 36 bytes"),
            (lambda t: t.ClearField("raw_data"), "has no data"),
        ],
        ids=["short_raw_data", "no_data"],
    )
    def test_undecodable_tensor_is_a_row_with_an_error(self, damage, message):
        t = numpy_helper.from_array(np.ones(10, np.float32), "bad")
        damage(t)
        m = model([helper.make_node("Identity", ["bad"], ["y"])], [], [vi("y")], [t])
        loaded = load(m)
        assert [r.key for r in build_initializers(loaded).rows] == ["main/bad"]
        s = tensor_stats(loaded, "bad")
        assert message in s.error and s.min is None

    def test_unknown_name(self):
        with pytest.raises(NotFoundError, match="nope"):
            tensor_stats(load(linear()), "nope")


def test_parameters_are_the_weights_pages_rows_not_every_tensor_attribute():
    """Issue 8, item 3: ConstantOfShape's fill value was counted as a weight."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from inspector import build_initializers, build_overview, load_model
    from tests.factories import model, vi

    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "W")
    fill = helper.make_tensor("fill", TensorProto.FLOAT, [1], [0.5])
    shape = numpy_helper.from_array(np.array([2, 3], np.int64), "shape")
    m = model(
        [
            helper.make_node("ConstantOfShape", ["shape"], ["z"], value=fill),
            helper.make_node("Constant", [], ["c"], value_floats=[1.0, 2.0]),
            helper.make_node("MatMul", ["z", "W"], ["y0"]),
            helper.make_node("Add", ["y0", "c"], ["y"]),
        ],
        [],
        [vi("y")],
        [w, shape],
    )
    loaded = load_model(m.SerializeToString(), name="cos.onnx")
    ov, weights = build_overview(loaded), build_initializers(loaded)
    assert ov.counts.parameters == weights.total_elements == 12 + 2 + 2
    assert ov.counts.bytes_inline == weights.total_bytes
