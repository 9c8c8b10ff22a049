"""Issue 12: model A vs model B — pairing, structural diff, behaviour diff, CLI gates."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from inspector import load_model
from inspector.cli import main
from inspector.model.diff import diff_models, overlay_focus
from inspector.model.graph import build_graph
from inspector.run.analyses.diff import behaviour_diff
from tests.factories import linear, model, vi

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 8)).astype(np.float32)


def chain(alpha: float = 0.1, rename: str = "", rename_tensors: bool = False) -> onnx.ModelProto:
    """x → MatMul → Add → LeakyRelu(alpha) → Sigmoid → Mul → y; nodes (and tensors) renamable."""
    w = numpy_helper.from_array(
        np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32), "W"
    )
    b = numpy_helper.from_array(np.full(8, -0.5, np.float32), "b")
    s = numpy_helper.from_array(np.array(2.0, np.float32), "s")
    t = (lambda n: f"{n}_v2") if rename_tensors else (lambda n: n)
    names = ["mm", "add", "act", "sig", "scale"]
    names = [f"{rename}{i}" for i in range(5)] if rename else names
    nodes = [
        helper.make_node("MatMul", ["x", "W"], [t("h0")], name=names[0]),
        helper.make_node("Add", [t("h0"), "b"], [t("h1")], name=names[1]),
        helper.make_node("LeakyRelu", [t("h1")], [t("h2")], name=names[2], alpha=alpha),
        helper.make_node("Sigmoid", [t("h2")], [t("h3")], name=names[3]),
        helper.make_node("Mul", [t("h3"), "s"], ["y"], name=names[4]),
    ]
    return model(nodes, [vi("x", shape=[4, 8])], [vi("y", shape=[4, 8])], [w, b, s])


def load(m: onnx.ModelProto, name: str):  # type: ignore[no-untyped-def]
    return load_model(m.SerializeToString(), {}, name=name)


def quantized_pair(tmp_path):  # type: ignore[no-untyped-def]
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx.save(linear(64, 32), tmp_path / "fp32.onnx")
    quantize_dynamic(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", weight_type=QuantType.QInt8)
    return tmp_path / "fp32.onnx", tmp_path / "int8.onnx"


class TestStructure:
    def test_renamed_nodes_and_a_changed_attribute(self):
        d = diff_models(load(chain(), "a.onnx"), load(chain(0.2, rename="node_"), "b.onnx"))
        assert {p.how for p in d.pairs} == {"outputs"} and len(d.pairs) == 5
        assert [(p.a_name, p.b_name, p.changes) for p in d.changed_pairs] == [
            ("act", "node_2", ("attribute alpha: 0.10000000149011612 → 0.20000000298023224",))
        ]
        assert d.lone == () and d.ops == () and d.initializers == () and d.opsets == ()

    def test_renamed_nodes_and_tensors_pair_by_op_and_position(self):
        d = diff_models(load(chain(), "a.onnx"), load(chain(rename="n", rename_tensors=True), "b"))
        # graph outputs keep their names: the last node pairs by its output "y"
        assert [p.how for p in d.pairs] == ["op+position"] * 4 + ["outputs"]
        assert d.changed_pairs == () and d.lone == ()
        assert "5 matched (4 by op+position, 1 by outputs)" in "\n".join(d.summary())

    def test_quantize_dynamic_lists_the_rewrite_and_the_quantization_error(self, tmp_path):
        fp32, int8 = quantized_pair(tmp_path)
        a, b = load_model(fp32), load_model(int8)
        d = diff_models(a, b)
        removed = {(n.name, n.op_type) for n in d.lone if n.side == "removed"}
        added = sorted(n.op_type for n in d.lone if n.side == "added")
        assert removed == {("mm", "MatMul")}
        assert added == ["Cast", "DynamicQuantizeLinear", "MatMulInteger", "Mul", "Mul"]
        assert [(p.a_name, p.how) for p in d.pairs] == [("add", "name")]
        (w,) = [i for i in d.initializers if i.change == "quantized"]
        scale = float(
            numpy_helper.to_array(next(t for t in b.proto.graph.initializer if t.name == "W_scale"))
        )
        assert w.name == "W" and w.b_name == "W_quantized" and w.b_type == "INT8 [64, 32]"
        assert 0 < w.max_abs <= scale / 2 + 1e-7 and 0 < w.rms < w.max_abs
        assert {i.change for i in d.initializers} == {"quantized"}  # b unchanged, W's parts used
        structure_only = diff_models(a, b, weights=False)
        assert structure_only.initializers[0].max_abs is None and structure_only.skipped

    def test_two_opsets(self):
        a = model(
            [helper.make_node("ReduceMean", ["x"], ["y"], name="mean", axes=[1], keepdims=1)],
            [vi("x", shape=[2, 3])],
            [vi("y", shape=[2, 1])],
            opsets=[helper.make_opsetid("", 17)],
        )
        b = onnx.version_converter.convert_version(a, 18)
        d = diff_models(load(a, "op17.onnx"), load(b, "op18.onnx"))
        assert d.opsets == (("", 17, 18),)
        (p,) = d.pairs
        assert p.how == "name" and "attribute axes removed (was [1])" in p.changes
        assert any(c.startswith("arity 1→2 in") for c in p.changes)
        assert [(n.side, n.op_type) for n in d.lone] + [(i.change,) for i in d.initializers] in (
            [("added", "Constant")],
            [("added",)],
        )


class TestOverlayFocus:
    """What the Graphs tab draws of each side: the differing nodes, then their neighbours two
    edges away, at most the cap; the differing nodes past the cap are listed instead."""

    @staticmethod
    def leaky_chain(alphas: list[float]) -> onnx.ModelProto:
        nodes = [
            helper.make_node("LeakyRelu", [f"t{i}"], [f"t{i + 1}"], name=f"n{i}", alpha=a)
            for i, a in enumerate(alphas)
        ]
        return model(nodes, [vi("t0", shape=[2])], [vi(f"t{len(alphas)}", shape=[2])])

    def test_one_change_in_a_long_chain_draws_it_with_two_neighbours_each_way(self):
        a = load(self.leaky_chain([0.1] * 30), "a.onnx")
        b = load(self.leaky_chain([0.1] * 15 + [0.3] + [0.1] * 14), "b.onnx")
        d = diff_models(a, b)
        for side, m in (("a", a), ("b", b)):
            focus = overlay_focus(d, build_graph(m), side)
            assert focus.drawn == tuple(f"main:{i}" for i in range(13, 18))
            assert (focus.differing, focus.left_out) == (1, ())

    def test_changes_past_the_cap_are_left_out_in_graph_order(self):
        a = load(self.leaky_chain([0.1] * 30), "a.onnx")
        b = load(self.leaky_chain([0.2] * 30), "b.onnx")
        focus = overlay_focus(diff_models(a, b), build_graph(b), "b", cap=8)
        assert focus.drawn == tuple(f"main:{i}" for i in range(8))
        assert focus.differing == 30
        assert focus.left_out == tuple(f"main:{i}" for i in range(8, 30))

    def test_removed_nodes_are_drawn_on_a_and_not_on_b(self):
        a = load(self.leaky_chain([0.1] * 6), "a.onnx")
        short = self.leaky_chain([0.1] * 3)
        short.graph.node.append(helper.make_node("Identity", ["t3"], ["t6"], name="skip"))
        short.graph.output[0].name = "t6"
        b = load(short, "b.onnx")
        d = diff_models(a, b)
        assert {n.side for n in d.lone} == {"removed", "added"}
        drawn_a = overlay_focus(d, build_graph(a), "a")
        assert drawn_a.differing == 3 and {"main:3", "main:4", "main:5"} <= set(drawn_a.drawn)
        assert overlay_focus(d, build_graph(b), "b").differing == 1


class TestBehaviour:
    def test_the_first_matched_tensor_that_differs_is_the_changed_node(self):
        a, b = load(chain(), "a.onnx"), load(chain(0.2, rename="n", rename_tensors=True), "b")
        d = behaviour_diff(a, b, diff_models(a, b), {"x": X})
        assert d.a.ok and d.b.ok
        (out,) = d.outputs.outputs
        assert out.output == "y" and out.allclose is False
        div = d.divergence
        assert div is not None and div.found, div
        assert (div.a_tensor, div.b_tensor, div.op_type) == ("h2", "h2_v2", "LeakyRelu")
        assert {t.op_type for t in d.timing} >= {"MatMul", "LeakyRelu"}

    def test_identical_models_agree_and_inputs_match_by_position(self):
        a = load(chain(), "a.onnx")
        renamed = chain()
        renamed.graph.input[0].name = "input"
        renamed.graph.node[0].input[0] = "input"
        b = load(renamed, "b.onnx")
        d = behaviour_diff(a, b, diff_models(a, b), {"x": X})
        assert d.outputs.all_close and d.worst_max_abs == 0.0
        assert d.warnings == ("inputs matched by position, not name: x → input",)
        assert d.divergence is not None and not d.divergence.found


class TestCli:
    def test_json_and_the_max_delta_gate(self, tmp_path, capsys):
        fp32, int8 = quantized_pair(tmp_path)
        assert main(["diff", str(fp32), str(int8), "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["behaviour"] is None
        assert [i["change"] for i in data["structure"]["initializers"]] == ["quantized"]
        argv = ["diff", str(fp32), str(int8), "--runs", "2", "--profiled-runs", "1"]
        assert main([*argv, "--max-delta", "1e-9"]) == 1
        assert "outputs differ by up to" in capsys.readouterr().err
        assert main([*argv, "--max-delta", "10", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        (out,) = data["behaviour"]["outputs"]["outputs"]
        assert out["output"] == "y" and 0 < out["max_abs"] < 10

    def test_text_and_a_model_that_will_not_load(self, tmp_path, capsys):
        onnx.save(chain(), tmp_path / "a.onnx")
        onnx.save(chain(0.2, rename="n"), tmp_path / "b.onnx")
        assert main(["diff", str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")]) == 0
        text = capsys.readouterr().out
        assert "5 matched (5 by outputs), 1 changed" in text and "attribute alpha" in text
        (tmp_path / "bad.onnx").write_bytes(b"nope")
        assert main(["diff", str(tmp_path / "a.onnx"), str(tmp_path / "bad.onnx")]) == 1
        assert "error:" in capsys.readouterr().err


@pytest.mark.browser
def test_the_model_diff_page(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, streamlit_server
    from tests.test_browser import drop_model_files, shot

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    (tmp_path / "exported_v2.onnx").write_bytes(
        chain(0.2, rename="n", rename_tensors=True).SerializeToString()
    )
    (tmp_path / "exported_v1.onnx").write_bytes(chain().SerializeToString())
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url)
        page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        for name in ("exported_v2.onnx", "exported_v1.onnx"):  # the last opened is A
            drop_model_files(page, [str(tmp_path / name)])
            page.get_by_role("heading", name=name).wait_for(timeout=30_000)
        page.get_by_role("link", name="Model diff").click()
        page.get_by_role("heading", name="Model diff · exported_v1.onnx").wait_for(timeout=30_000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Compare with").click()
        page.get_by_role("option", name="exported_v2.onnx").click()
        page.get_by_text("5 matched (4 by op+position, 1 by outputs), 1 changed").wait_for(
            timeout=30_000
        )
        shot(page, "diff-summary")
        page.get_by_role("tab", name="Graphs").click()
        page.frame_locator("iframe").nth(1).locator("#canvas").get_by_text(
            "LeakyRelu"
        ).first.wait_for(timeout=60_000)
        page.locator('[data-testid="stGraphVizChart"]').nth(1).wait_for(timeout=30_000)
        shot(page, "diff-graphs")
        page.get_by_role("tab", name="Run both").click()
        page.get_by_role("button", name="Run both").click()
        page.get_by_text("First matched tensor that differs: h2 (A main:2)").wait_for(
            timeout=120_000
        )
        assert page.locator('[data-testid="stException"]').count() == 0
        shot(page, "diff-run")
        browser.close()
