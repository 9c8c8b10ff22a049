"""The collapsed drawing (inspector.model.collapsed): every node of the graph exactly once, in
boxes whose inputs and outputs are the tensors that really cross them, no drawing over its
box limit — on hand-made graphs, synthetic 10k/100k-node exports with and without scopes,
every cached real model — and the Graph page draws it for a real 3.6k-node export and
synthetic 10k/100k-node graphs without a click."""

from __future__ import annotations

from collections import Counter

import onnx
import pytest
from onnx import TensorProto, helper

from inspector.errors import InspectorError
from inspector.model.collapsed import DOMAIN, collapsed_model, original_nodes
from tests import realmodels
from tests.factories import model, scoped_transformer, vi


def _key(n: onnx.NodeProto) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    return n.name, n.op_type, tuple(n.input), tuple(n.output)


def check_drawing(m: onnx.ModelProto, boxes: int = 60, root: str = "/") -> None:
    """The invariants of a collapsed drawing of ``m``: every main-graph node under ``root``
    exactly once; no level over ``boxes`` items; each box's body reads only its inputs, what
    it makes and weights, makes every output it declares, and its inputs are exactly what its
    body reads from outside it (no tensor crossing unseen, none listed that does not)."""
    drawn = collapsed_model(m, root=root, boxes=boxes)
    got = Counter(map(_key, original_nodes(drawn.model)))
    if root == "/":
        assert got == Counter(map(_key, m.graph.node))
    assert sum(got.values()) == drawn.nodes
    weights = {t.name for t in m.graph.initializer}
    bodies = {(f.domain, f.name, f.overload): f for f in drawn.model.functions}
    assert len(drawn.model.graph.node) <= boxes
    for f in drawn.model.functions:
        if f.domain != DOMAIN:
            continue
        assert 1 <= len(f.node) <= boxes, f.doc_string
        made = {o for n in f.node for o in n.output}
        reads = [x for n in f.node for x in n.input if x]
        for n in f.node:  # a body's reads of If/Loop bodies count as reads too
            if n.domain != DOMAIN:
                from inspector.model.graph import implicit_inputs

                reads += implicit_inputs(n)
        outside = {x for x in reads if x not in made and x not in weights}
        assert outside == set(f.input), f.doc_string
        assert set(f.output) <= made, f.doc_string
    for n in drawn.model.graph.node:  # each call matches its function's signature
        if n.domain == DOMAIN:
            f = bodies[(n.domain, n.op_type, n.overload)]
            assert list(n.input) == list(f.input) and list(n.output) == list(f.output)


def test_a_small_scoped_graph_draws_its_scopes_as_boxes_with_their_boundaries():
    nodes = [
        helper.make_node("Relu", ["x"], ["a1"], name="/a/r1"),
        helper.make_node("Relu", ["a1"], ["a2"], name="/a/r2"),
        helper.make_node("Add", ["a2", "x"], ["s"], name="/sum"),  # own node of the root
        helper.make_node("Relu", ["s"], ["b1"], name="/b/r1"),
        helper.make_node("Mul", ["b1", "a1"], ["y"], name="/b/m"),
    ]
    m = model(nodes, [vi("x", shape=[2])], [vi("y", shape=[2])])
    drawn = collapsed_model(m, boxes=3)  # opening a box would make 4 items: they stay shut
    assert [(n.op_type, n.name) for n in drawn.model.graph.node] == [
        ("a (2)", "/a"),
        ("Add", "/sum"),
        ("b (2)", "/b"),
    ]
    a, _, b = drawn.model.graph.node
    assert list(a.input) == ["x"] and list(a.output) == ["a1", "a2"]  # a1 is read by /b too
    assert list(b.input) == ["s", "a1"] and list(b.output) == ["y"]
    assert {at.name: helper.get_attribute_value(at) for at in a.attribute}["nodes"] == 2
    assert drawn.boxes == 2 and drawn.top == 3 and drawn.depth == 2
    check_drawing(m, boxes=3)
    check_drawing(m, boxes=2)  # 3 items over 2: grouped runs of items
    opened = collapsed_model(m, boxes=5)  # room for every node: both boxes opened in place
    assert [n.op_type for n in opened.model.graph.node] == ["Relu", "Relu", "Add", "Relu", "Mul"]
    part = collapsed_model(m, root="/b", boxes=5)
    assert [i.name for i in part.model.graph.input] == ["s", "a1"] and part.nodes == 2
    with pytest.raises(InspectorError, match="no scope '/c'"):
        collapsed_model(m, root="/c")


def test_weights_stay_rows_of_their_nodes_not_inputs_of_boxes():
    w = helper.make_tensor("W", TensorProto.FLOAT, [2, 2], [1.0, 0.0, 0.0, 1.0])
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="/l0/mm"),
        helper.make_node("Relu", ["h"], ["h2"], name="/l0/relu"),
        helper.make_node("MatMul", ["h2", "W"], ["h3"], name="/l1/mm"),
        helper.make_node("Relu", ["h3"], ["y"], name="/l1/relu"),
    ]
    m = model(nodes, [vi("x", shape=[2, 2])], [vi("y", shape=[2, 2])], [w])
    drawn = collapsed_model(m, boxes=2)
    assert [list(n.input) for n in drawn.model.graph.node] == [["x"], ["h2"]]
    check_drawing(m, boxes=2)


def test_subgraph_reads_cross_box_boundaries():
    """An If in one scope whose branch reads a tensor made in another: that tensor is an
    input of the box holding the If (the body's read is a real edge)."""
    then = helper.make_graph(
        [helper.make_node("Identity", ["outer"], ["t"], name="ti")],
        "then",
        [],
        [vi("t", shape=[2])],
    )
    other = helper.make_graph(
        [helper.make_node("Neg", ["outer"], ["e"], name="ei")], "else", [], [vi("e", shape=[2])]
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["outer"], name="/a/relu"),
        helper.make_node("Relu", ["outer"], ["o2"], name="/a/relu2"),
        helper.make_node("If", ["c"], ["y"], name="/b/if", then_branch=then, else_branch=other),
        helper.make_node("Identity", ["y"], ["z"], name="/b/id"),
    ]
    m = model(nodes, [vi("x", shape=[2]), vi("c", TensorProto.BOOL, [])], [vi("z", shape=[2])])
    drawn = collapsed_model(m, boxes=2)
    b = drawn.model.graph.node[1]
    assert b.name == "/b" and sorted(b.input) == ["c", "outer"]
    check_drawing(m, boxes=2)


@pytest.mark.parametrize("scoped", [True, False], ids=["scoped", "no-scopes"])
@pytest.mark.parametrize("layers", [700, 7000], ids=["10k", "100k"])
def test_synthetic_exports_of_10k_and_100k_nodes(layers, scoped):
    m = scoped_transformer(layers, scoped=scoped)
    check_drawing(m)
    drawn = collapsed_model(m)
    assert drawn.top > 10  # the first drawing shows structure, not one box
    if not scoped:  # no scopes: boxes are runs of consecutive nodes, named by their indices
        assert drawn.model.graph.node[0].op_type.startswith("[0–")


@pytest.mark.parametrize("real", realmodels.catalogue(), ids=lambda m: m.id)
def test_every_real_model_draws_collapsed_with_every_node_once(real):
    if not real.path.exists():
        pytest.skip(realmodels.FETCH)
    m = onnx.load(str(real.path), load_external_data=False)
    check_drawing(m)
    check_drawing(m, boxes=8)  # small boxes: deep hierarchies, runs inside scopes


def test_the_kokoro_export_draws_its_encoder_and_decoder(tmp_path):
    """The real 3,614-node TTS export whose graph drew nothing: its first drawing holds the
    encoder box and the decoder's parts; the CLI writes the same drawing."""
    real = next(m for m in realmodels.catalogue() if m.id.startswith("kokoro"))
    if not real.path.exists():
        pytest.skip(realmodels.FETCH)
    from inspector.cli import main

    out = tmp_path / "collapsed.onnx"
    assert main(["scopes", str(real.path), "--collapsed", "-o", str(out)]) == 0
    drawn = onnx.load(str(out))
    names = {n.name for n in drawn.graph.node if n.domain == DOMAIN}
    assert "/encoder" in names
    assert len(original_nodes(drawn)) == 3614
    assert (
        main(["scopes", str(real.path), "--collapsed", "--scope", "/decoder", "-o", str(out)]) == 0
    )
    assert len(original_nodes(onnx.load(str(out)))) == 1638


@pytest.mark.browser
def test_the_graph_page_draws_real_and_huge_graphs_with_no_click(tmp_path):
    """In the browser: a real 3,614-node export and synthetic 10k/100k-node graphs, with and
    without name scopes, each opened on the Graph page, are drawn (collapsed, in Netron)
    before anything is clicked. (bench/bench_graph.py times it.)"""
    from tests.browser import app_with_files, open_page
    from tests.test_browser import drop_model_files, shot

    cases: list[tuple[str, str, str]] = []  # file, what the caption says, a box Netron shows
    real = next(m for m in realmodels.catalogue() if m.id.startswith("kokoro"))
    if real.path.exists():
        cases.append((str(real.path), "/ — 3,614 nodes", "encoder (1448)"))
    for layers, scoped in ((700, True), (700, False), (7000, True), (7000, False)):
        path = tmp_path / f"{'scoped' if scoped else 'flat'}_{layers * 15 + 1}.onnx"
        path.write_bytes(scoped_transformer(layers, scoped=scoped).SerializeToString())
        root = "/model" if scoped else "/"
        box = "layers․0–" if scoped else "[0–"  # groups of layers; runs of nodes
        cases.append((str(path), f"{root} — {layers * 15 + 1:,} nodes", box))
    first = cases[0][0].rsplit("/", 1)[-1]
    with app_with_files([cases[0][0]], first, (1400, 1100)) as (_url, _browser, page):
        open_page(page, "Graph", f"Graph · {first}")
        for i, (path, caption, box) in enumerate(cases):
            name = path.rsplit("/", 1)[-1]
            if i:
                drop_model_files(page, [path])
                page.get_by_role("heading", name=f"Graph · {name}").wait_for(timeout=120_000)
            page.get_by_text(f"Drawn collapsed: {caption} as").wait_for(timeout=120_000)
            netron = page.frame_locator("iframe").first
            netron.locator("body.default #canvas .node").first.wait_for(timeout=60_000)
            netron.locator("#canvas").get_by_text(box).first.wait_for(timeout=60_000)
            assert netron.locator("#canvas .node").count() < 200  # boxes, not the graph
            shot(page, f"graph-collapsed-{name.removesuffix('.onnx')}")
        assert page.locator('[data-testid="stException"]').count() == 0
