"""Large graphs: time to the first drawn graph, whole graph vs the scoped view, by node count.

For each size N, a transformer-shaped model named like a PyTorch export
(``tests.factories.scoped_transformer``: 15 nodes per layer, ``/model/layers.i/attn/...``):

* **whole**: the patched Netron the app embeds, served same-origin by a local HTTP server,
  opened in Debian chromium on the whole model; timed from navigation to the graph drawn
  (layout done: Netron's body class back to ``default`` with nodes in ``#canvas``), capped at
  ``--cap`` seconds. Netron shows "This large
  graph layout might take a very long time" when its layout worker runs past 2.5 s; the time
  that dialog appeared is printed too.
* **scoped**: what the app does above its node budget: the scope tree (server side), the
  sub-model of the first layer's scope (``inspector.model.scopes.sub_model``), published and
  drawn by the same Netron; timed from the start of the tree to the first drawn node.

The ratio column is scoped / whole (the whole graph's time is a lower bound when capped).
``python bench/bench_graph.py [--sizes 500,2000,10000,100000] [--cap 60]``. Reports, never
fails.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspector import load_model  # noqa: E402
from inspector.model.scopes import scope_tree, sub_model  # noqa: E402
from inspector.netron_assets import MODEL_FILE, install, publish  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.factories import scoped_transformer  # noqa: E402


def serve(root: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def first_drawn(page, url: str, cap: float) -> tuple[float | None, float | None]:  # type: ignore[no-untyped-def]
    """Seconds from navigation to Netron's first SVG node (None past ``cap``), and to its
    "large graph layout" notice (None if it never showed)."""
    start = time.perf_counter()
    page.goto(url)
    warned = None
    while time.perf_counter() - start < cap:
        # Netron puts nodes in the SVG to measure them before the layout; the graph is drawn
        # when the layout is done and the body's screen class is back to "default".
        if page.locator("body.default #canvas .node").count():  # Netron disables eval
            return time.perf_counter() - start, warned
        if warned is None and page.get_by_text("large graph layout").count():
            warned = time.perf_counter() - start
        page.wait_for_timeout(50)
    return None, warned


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def explorer_drawn(browser, binary: str, path: Path, cap: float) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds from navigation to Model Explorer's first drawing of ``path`` (its ONNX adapter,
    its own server; the layer hierarchy starts collapsed), None past ``cap``. The server's
    start-up is not counted; its conversion of the model is (it runs on the first request)."""
    import subprocess
    from urllib.parse import quote

    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            "--extensions=model_explorer_onnx",
            "--no_open_in_browser",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:  # wait for the server
            if "Starting Model Explorer server" in line:
                break
        time.sleep(1.0)
        data = quote(json.dumps({"models": [{"url": str(path)}]}))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/?data={data}")
        drawn = None
        while time.perf_counter() - start < cap:
            text = page.locator("body").inner_text(timeout=int(cap * 1000))  # visible text
            busy = any(w in text for w in ("Processing graph", "Welcome to Model Explorer"))
            if not busy and page.locator("canvas").count():
                drawn = time.perf_counter() - start
                break
            page.wait_for_timeout(100)
        page.close()
        return drawn
    finally:
        server.kill()
        server.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="500,2000,5000,10000,100000")
    ap.add_argument("--cap", type=float, default=60.0)
    ap.add_argument("--budget", type=int, default=0, help="scope budget (default: the app's)")
    ap.add_argument(
        "--explorer",
        metavar="BIN",
        help="also time ai-edge-model-explorer (its 'model-explorer' script, installed with "
        "model-explorer-onnx in another environment)",
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from inspector.limits import DEFAULT_LIMITS

    budget = args.budget or DEFAULT_LIMITS.graph_node_budget
    static = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    install(static)
    base, server = serve(static)
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for n in [int(x) for x in args.sizes.split(",")]:
            proto = scoped_transformer(max(1, n // 15))
            data = proto.SerializeToString()
            nodes = len(proto.graph.node)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            key = publish(static, data, {})
            whole, warned = first_drawn(
                page, f"{base}/netron/index.html?url=../models/{key}/{MODEL_FILE}", args.cap
            )
            page.close()

            model = load_model(data, {}, name="big.onnx")
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            tree = scope_tree(model.proto.graph, budget)
            tree_s = time.perf_counter() - start
            scope = next(s for s in tree.scopes if s.nodes <= budget)
            sub = sub_model(model, tree.nodes_of(scope.path))
            key = publish(static, sub.SerializeToString(), {})
            prep_s = time.perf_counter() - start
            drawn, _ = first_drawn(
                page, f"{base}/netron/index.html?url=../models/{key}/{MODEL_FILE}", args.cap
            )
            scoped = None if drawn is None else prep_s + drawn
            page.close()
            explorer: float | None | str = "not run"
            if args.explorer:
                path = static / f"explorer_{nodes}.onnx"
                path.write_bytes(data)
                explorer = explorer_drawn(browser, args.explorer, path, args.cap)
                path.unlink()
                print(f"  model explorer: {explorer}", flush=True)
            rows.append((nodes, whole, warned, scoped, explorer))
            w = f"{whole:.2f}" if whole is not None else f">{args.cap:.0f}"
            s = f"{scoped:.2f}" if scoped is not None else f">{args.cap:.0f}"
            print(
                f"{nodes:>7,} nodes: whole {w} s"
                + (f" (large-layout notice at {warned:.1f} s)" if warned else "")
                + f"; scoped {s} s (tree {tree_s:.2f} s, {len(tree.scopes):,} scopes; "
                f"sub-model of {scope.path} with {scope.nodes} nodes ready at {prep_s:.2f} s)",
                flush=True,
            )
        browser.close()
    server.shutdown()
    print(
        "\n| nodes | whole graph drawn (s) | scoped view drawn (s) | scoped / whole | "
        "Model Explorer, collapsed first view (s) |"
        "\n|---:|---:|---:|---:|---:|"
    )
    for nodes, whole, _warned, scoped, explorer in rows:
        whole_text = f"{whole:.2f}" if whole is not None else f"> {args.cap:.0f} (capped)"
        scoped_text = f"{scoped:.2f}" if scoped is not None else "—"
        if whole and scoped:
            ratio = f"{scoped / whole:.2f}"
        else:
            ratio = f"< {scoped / args.cap:.2f}" if scoped else "—"
        if isinstance(explorer, str):
            me = explorer
        else:
            me = f"{explorer:.2f}" if explorer is not None else f"> {args.cap:.0f} (capped)"
        print(f"| {nodes:,} | {whole_text} | {scoped_text} | {ratio} | {me} |")


if __name__ == "__main__":
    main()
