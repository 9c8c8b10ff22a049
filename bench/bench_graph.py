"""Large graphs: time to the first drawn graph — whole, collapsed, one scope — by node count.

For each size N, a transformer-shaped model named like a PyTorch export
(``tests.factories.scoped_transformer``: 15 nodes per layer, ``/model/layers.i/attn/...``),
the same without scopes (``node_<i>``), and every cached real model of ≥ 1,000 nodes:

* **whole**: the patched Netron the app embeds, served same-origin by a local HTTP server,
  opened in Debian chromium on the whole model; timed from navigation to the graph drawn
  (layout done: Netron's body class back to ``default`` with nodes in ``#canvas``), capped at
  ``--cap`` seconds. Netron shows "This large
  graph layout might take a very long time" when its layout worker runs past 2.5 s; the time
  that dialog appeared is printed too.
* **collapsed**: what the Graph page draws first above its node budget: the hierarchy as
  model-local functions (``inspector.model.collapsed.collapsed_of``, untyped as on a first
  visit), published and drawn by the same Netron; timed from the start of the build.
* **one scope**: the first scope within the budget cut as a sub-model (what a click on a small
  scope draws), timed from the start of the tree.
* **app**: the real app: each model uploaded, its Overview done, then the click on "Graph" in
  the sidebar until Netron's first drawn node.

The ratio column is collapsed / whole (the whole graph's time is a lower bound when capped).
``python bench/bench_graph.py [--sizes 500,2000,10000,100000] [--cap 60] [--no-real]
[--no-app]``. Reports, never fails.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
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


def _cases(sizes: list[int], real: bool) -> list[tuple[str, bytes]]:
    """(label, model bytes): synthetic exports of each size with and without name scopes,
    then the real exports of at least 1,000 nodes in the test cache."""
    out = []
    for n in sizes:
        for scoped in (True, False):
            proto = scoped_transformer(max(1, n // 15), scoped=scoped)
            tag = "scoped" if scoped else "no scopes"
            out.append((f"{len(proto.graph.node):,} ({tag})", proto.SerializeToString()))
    if real:
        import onnx

        from tests import realmodels

        for m in realmodels.available():
            proto = onnx.load(str(m.path), load_external_data=False)
            if len(proto.graph.node) >= 1000:
                out.append((f"{len(proto.graph.node):,} (real: {m.id})", m.path.read_bytes()))
    return out


def app_drawn(
    cases: list[tuple[str, bytes]], cap: float
) -> list[tuple[str, float | None, float | None]]:
    """Seconds from the click on "Graph" in the app's sidebar to Netron's first drawn node,
    each model uploaded and its Overview finished first (a user opening the Graph page)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import open_page, streamlit_server
    from tests.test_browser import drop_model_files

    out = []
    folder = Path(tempfile.mkdtemp(prefix="bench-graph-app-"))
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, data in cases:
            path = folder / f"m{len(out)}.onnx"
            path.write_bytes(data)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
            drop_model_files(page, [str(path)])
            page.get_by_role("heading", name=path.name).wait_for(timeout=120_000)
            page.get_by_role("heading", name="Diagnostics").wait_for(timeout=120_000)
            verdict = re.compile("created a session for it|does not load this model|did not finish")
            page.get_by_text(verdict).first.wait_for(timeout=300_000)  # the load check is done
            times: list[float | None] = []
            for _visit in range(2):  # the first visit, then a later one (Netron's scripts cached)
                start = time.perf_counter()
                open_page(page, "Graph", f"Graph · {path.name}", timeout=cap * 1000)
                frame = page.frame_locator("iframe").first
                try:
                    frame.locator("body.default #canvas .node").first.wait_for(timeout=cap * 1000)
                    times.append(time.perf_counter() - start)
                except Exception:
                    times.append(None)
                open_page(page, "Overview", path.name)
            out.append((label, times[0], times[1]))
            print(f"  app: {label}: {times}", flush=True)
            page.close()
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="500,2000,5000,10000,100000")
    ap.add_argument("--cap", type=float, default=60.0)
    ap.add_argument("--budget", type=int, default=0, help="scope budget (default: the app's)")
    ap.add_argument("--no-real", action="store_true", help="leave out the cached real models")
    ap.add_argument("--no-app", action="store_true", help="leave out the in-app timing")
    ap.add_argument(
        "--explorer",
        metavar="BIN",
        help="also time ai-edge-model-explorer (its 'model-explorer' script, installed with "
        "model-explorer-onnx in another environment)",
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from inspector.limits import DEFAULT_LIMITS
    from inspector.model.collapsed import collapsed_of

    budget = args.budget or DEFAULT_LIMITS.graph_node_budget
    static = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    install(static)
    base, server = serve(static)
    cases = _cases([int(x) for x in args.sizes.split(",")], not args.no_real)
    rows = []

    def drawn_after(page, start: float, data: bytes) -> float | None:  # type: ignore[no-untyped-def]
        key = publish(static, data, {})
        prep = time.perf_counter() - start
        t, _ = first_drawn(
            page, f"{base}/netron/index.html?url=../models/{key}/{MODEL_FILE}", args.cap
        )
        return None if t is None else prep + t

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, data in cases:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            key = publish(static, data, {})
            whole, warned = first_drawn(
                page, f"{base}/netron/index.html?url=../models/{key}/{MODEL_FILE}", args.cap
            )
            page.close()

            model = load_model(data, {}, name="big.onnx")
            model.skeleton  # noqa: B018 — built once per model in the app, before any page
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            drawn = collapsed_of(model, typed=False)
            collapsed = drawn_after(page, start, drawn.model.SerializeToString())
            page.close()

            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            tree = scope_tree(model.proto.graph, budget)
            scope = next(s for s in tree.scopes if s.nodes <= budget)
            sub = sub_model(model, tree.nodes_of(scope.path), for_viewing=True)
            scoped = drawn_after(page, start, sub.SerializeToString())
            page.close()
            explorer: float | None | str = "not run"
            if args.explorer:
                path = static / "explorer.onnx"
                path.write_bytes(data)
                explorer = explorer_drawn(browser, args.explorer, path, args.cap)
                path.unlink()
            rows.append((label, whole, warned, collapsed, drawn.top, scoped, explorer))
            print(
                f"{label}: whole {whole} (notice {warned}), collapsed {collapsed} "
                f"({drawn.top} items, {drawn.boxes} boxes), one scope {scoped}",
                flush=True,
            )
        browser.close()
    server.shutdown()
    app = (
        []
        if args.no_app
        else app_drawn(
            [c for c in cases if "real" in c[0] or c[0].startswith(("10,", "100,"))], args.cap
        )
    )

    def sec(v: float | None) -> str:
        return f"{v:.2f}" if v is not None else f"> {args.cap:.0f} (capped)"

    print(
        "\n| nodes | whole graph drawn (s) | collapsed drawn (s) | collapsed / whole | "
        "one scope drawn (s) | Model Explorer (s) |\n|---|---:|---:|---:|---:|---:|"
    )
    for label, whole, warned, collapsed, top, scoped, explorer in rows:
        w = sec(whole) + (f" (notice at {warned:.1f} s)" if warned else "")
        if whole and collapsed:
            ratio = f"{collapsed / whole:.2f}"
        else:
            ratio = f"< {collapsed / args.cap:.2f}" if collapsed else "—"
        me = explorer if isinstance(explorer, str) else sec(explorer)
        print(
            f"| {label} | {w} | {sec(collapsed)} ({top} items) | {ratio} | {sec(scoped)} | {me} |"
        )
    if app:
        print("\nIn the app, click on Graph → first drawn node (the Overview done first):\n")
        print("| model | first visit (s) | a later visit (s) |\n|---|---:|---:|")
        for label, first, later in app:
            print(f"| {label} | {sec(first)} | {sec(later)} |")


if __name__ == "__main__":
    main()
