"""The app's responsiveness with a large model, against a small one measured in the same run.

1. Server-side page switch: with a generated 3,200-node model open, the time of one
   ``switch_page(...).run()`` per page (Streamlit's AppTest runs the real page scripts; records
   are cached per model content, so this is what a user waits for after the first visit).
   Baseline: the same switch with the 18-node sample. Target: < 0.3 s per switch.
2. Overlay render time in the browser (Debian chromium): a page that draws the EP-coloured
   overlay of an N-node graph with ``st.graphviz_chart``, timed from navigation to the SVG
   being in the page, for N in 50, 200, 400, 1000; ratio against N = 10 in the same run.
   The Compare page pages the overlay in parts of 400 nodes.

``python bench/bench_app.py [--sizes 50,200,400,1000] [--skip-browser]``. Reports, never fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = [
    "pages/1_Overview.py",
    "pages/2_Graph.py",
    "pages/3_Weights.py",
    "pages/4_Subgraphs.py",
    "pages/5_External_data.py",
    "pages/6_Run_lab.py",
    "pages/7_Compare.py",
]


def big_model(blocks: int = 800) -> bytes:
    """A residual MLP chain: 4 nodes per block (MatMul, Add, Relu, Add)."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(blocks):
        inits.append(
            numpy_helper.from_array(rng.standard_normal((16, 16)).astype(np.float32), f"w{i}")
        )
        inits.append(numpy_helper.from_array(np.zeros(16, np.float32), f"b{i}"))
        nodes += [
            helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"blk{i}/mm"),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"], name=f"blk{i}/bias"),
            helper.make_node("Relu", [f"a{i}"], [f"r{i}"], name=f"blk{i}/relu"),
            helper.make_node("Add", [f"r{i}", x], [f"h{i}"], name=f"blk{i}/res"),
        ]
        x = f"h{i}"
    graph = helper.make_graph(
        nodes,
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["n", 16])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m.SerializeToString()


def page_switches(name: str, data: bytes, rounds: int) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.file_uploader(key="upload").set_value([(name, data, "application/octet-stream")]).run()
    for page in PAGES:  # first visit builds and caches the records
        at.switch_page(page).run()
    times: dict[str, list[float]] = {p: [] for p in PAGES}
    for _ in range(rounds):
        for page in PAGES:
            t = time.perf_counter()
            at.switch_page(page).run()
            times[page].append(time.perf_counter() - t)
            assert not at.exception, at.exception
    return {p: statistics.median(v) for p, v in times.items()}


OVERLAY_APP = textwrap.dedent("""
    import streamlit as st
    from inspector import build_graph, load_model
    from inspector.charts import overlay_dot
    n = int(st.query_params.get("n", 10))
    path = st.query_params.get("model")
    graph = build_graph(load_model(path))
    ids = [x.id for x in graph.nodes][:n]
    colors = {nid: ("#F58518" if i % 7 else "#4C78A8") for i, nid in enumerate(ids)}
    st.graphviz_chart(overlay_dot(graph, colors, {}, ids))
""")


def overlay_times(model_path: Path, sizes: list[int], rounds: int) -> dict[int, float]:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "overlay_app.py"
        app.write_text(OVERLAY_APP)
        import tests.browser as tb

        original = tb.ROOT
        tb.ROOT = Path(tmp)  # serve the overlay script instead of app.py
        (Path(tmp) / "app.py").write_text(OVERLAY_APP)
        try:
            with streamlit_server(cwd=ROOT) as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                out: dict[int, list[float]] = {n: [] for n in sizes}
                for _ in range(rounds):
                    for n in sizes:
                        t = time.perf_counter()
                        page.goto(f"{url}?n={n}&model={model_path}")
                        page.locator('[data-testid="stGraphVizChart"] svg g.node').nth(
                            min(n, 10) - 1
                        ).wait_for(timeout=120_000)
                        out[n].append(time.perf_counter() - t)
                browser.close()
        finally:
            tb.ROOT = original
    return {n: statistics.median(v) for n, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200,400,1000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args(argv)
    data = big_model()
    small = (ROOT / "sample_models" / "mlp_gelu_layernorm.onnx").read_bytes()
    print("page switch (server side, median of rounds, records cached after the first visit)")
    base = page_switches("small.onnx", small, args.rounds)
    big = page_switches("big.onnx", data, args.rounds)
    print(f"  {'page':28} {'18 nodes':>10} {'3,200 nodes':>12} {'ratio':>7}  target < 0.3 s")
    worst = 0.0
    for page in PAGES:
        worst = max(worst, big[page])
        print(
            f"  {page:28} {base[page]:9.3f}s {big[page]:11.3f}s {big[page] / base[page]:6.2f}x"
            f"  {'PASS' if big[page] < 0.3 else 'MISS'}"
        )
    print(f"  slowest switch with 3,200 nodes: {worst:.3f} s")
    if not args.skip_browser:
        sizes = [int(x) for x in args.sizes.split(",")]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.onnx"
            path.write_bytes(data)
            times = overlay_times(path, sizes, args.rounds)
        print("\noverlay render in chromium (navigation → SVG nodes present), median")
        for n in sizes:
            print(
                f"  {n:5} nodes  {times[n]:6.2f} s  ratio vs {sizes[0]} nodes: "
                f"{times[n] / times[sizes[0]]:5.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
