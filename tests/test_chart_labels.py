"""Issue 26: charts label nodes by their names, shortened to fit (unique within a chart, the
end of the name kept), with the whole name, the id and the op type in the hover."""

from __future__ import annotations

import pytest

from inspector.charts import LABEL_CHARS, node_hover, node_labels, short_name, slowest_nodes
from inspector.run.analyses.compare import NodeTimingRow


def _row(name: str, op: str = "MatMul", nid: str = "main:1", **kw: object) -> NodeTimingRow:
    return NodeTimingRow(
        node_id=nid, node=name or nid, op_type=op, times_us=(1.0,), eps=("CPU",), name=name, **kw
    )


LONG = "/encoder/bert/encoder/layer.10/attention/self/query/MatMul_quant_output_scale_mul"


class TestShortName:
    @pytest.mark.parametrize(
        "name",
        [
            LONG,
            "inner.embeddings.word_embeddings.position_embeddings.weight_mul",
            "model/conv2d/StatefulPartitionedCall/StatefulPartitionedCall/Conv2D__7",
            "x" * 90,
        ],
        ids=["scopes", "dotted", "tf-scopes", "one-long-word"],
    )
    def test_it_fits_the_cap_and_keeps_the_end_of_the_name(self, name):
        short = short_name(name)
        assert len(short) <= LABEL_CHARS and short.startswith("…")
        assert name.endswith(short.removeprefix("…"))

    def test_it_keeps_whole_scope_components_after_an_ellipsis(self):
        assert short_name("/a/bb/ccc/dddd/eeeee", cap=15) == "…/dddd/eeeee"
        assert short_name("/encoder/bert/encoder/layer.10/attention/self/query/MatMul") == (
            "…/layer.10/attention/self/query/MatMul"
        )

    def test_a_name_that_fits_is_left_alone(self):
        assert short_name("/model.22/cv2.0/act/Sigmoid") == "/model.22/cv2.0/act/Sigmoid"


class TestNodeLabels:
    def test_labels_are_unique_capped_names_with_their_op(self):
        # twelve layers whose names end alike, an encoder and a decoder that differ only first
        rows = [
            _row(f"/enc/bert/layer.{i}/attention/self/query/MatMul", nid=f"main:{i}")
            for i in range(12)
        ]
        rows += [
            _row(f"/{part}/" + "/".join(["block"] * 12) + "/q/MatMul", nid=f"main:{20 + i}")
            for i, part in enumerate(("encoder", "decoder"))
        ]
        rows += [_row("val_1_mul", "Mul", "main:30"), _row("val_1_mul", "Mul", "main:31")]
        labels = node_labels(rows)
        assert len(set(labels)) == len(labels), labels
        for row, label in zip(rows[:14], labels[:14], strict=True):
            name = label.split(" (main:")[0]
            assert len(name) <= LABEL_CHARS, label
            assert row.name.endswith(name.split("…", 1)[-1]), (row.name, label)
        assert labels[12].startswith("/encoder/…") and labels[13].startswith("/decoder/…")
        assert labels[14:] == ["val_1_mul · Mul (main:30)", "val_1_mul · Mul (main:31)"]

    def test_the_op_is_added_unless_the_name_already_ends_with_it(self):
        labels = node_labels(
            [
                _row("/blocks/act/Sigmoid", "Sigmoid", "main:1"),
                _row("node_MatMul_115", "MatMul", "main:2"),
                _row("val_473_mul", "Mul", "main:3"),
                _row("", "ConvInteger", "main:2266"),
            ]
        )
        assert labels == [
            "/blocks/act/Sigmoid",
            "node_MatMul_115",
            "val_473_mul · Mul",
            "ConvInteger main:2266",  # no name to show: its op and id
        ]

    def test_the_hover_has_the_whole_name_the_id_and_the_op(self):
        hover = node_hover(_row(LONG, "Mul", "main:2266"))
        assert LONG in hover and "main:2266" in hover and "Mul" in hover

    def test_the_chart_shows_the_labels_and_carries_the_key_last(self):
        rows = [_row(LONG, "Mul", "main:7")]
        fig = slowest_nodes(("cpu",), rows)
        bar = fig.data[0]
        assert list(bar.y) == node_labels(rows)
        assert LONG in bar.customdata[0][0]
        assert bar.customdata[0][-1] == "main:7"  # what Compare's timing tab reads back


def test_op_histogram_labels_ops_without_their_domain_unless_two_domains_share_one():
    """The op histogram sits in a quarter of the Graph page: the real diacritizer's
    "com.microsoft::DynamicQuantizeLSTM" was cut to "osoft::DynamicQuantizeLSTM"; bars name the
    op type, the hover names the domain too."""
    from dataclasses import replace

    from inspector import load_model
    from inspector.charts import op_histogram
    from inspector.model.graph import build_graph
    from inspector.model.packaged import FALLBACK_DEMO, by_id, locate

    found = locate(by_id(FALLBACK_DEMO))
    assert found.path, found.reason
    graph = build_graph(load_model(found.path))
    assert ("com.microsoft::DynamicQuantizeLSTM", 3) in graph.op_histogram  # the record keeps it
    (bar,) = op_histogram(graph).data
    assert "DynamicQuantizeLSTM" in bar.y and "com.microsoft::DynamicQuantizeLSTM" in bar.hovertext
    assert not any("::" in y for y in bar.y)
    both = replace(graph, op_histogram=(("Gelu", 2), ("com.microsoft::Gelu", 1), ("Add", 1)))
    (bar,) = op_histogram(both).data
    assert set(bar.y) == {"Gelu", "com.microsoft::Gelu", "Add"}
