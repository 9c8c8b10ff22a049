"""The Model diff on a real ~400-node pair: the MiniLM transformer (385 nodes) against a
re-export of itself (every node renamed, two LayerNormalization epsilons changed; see
tests/test_diff_browser.py).

1. ``diff_models`` with weight values compared, against a baseline measured in the same run:
   ``onnx.load`` and shape inference of both models (what any tool pays to open the pair).
2. In Debian chromium: picking B on the Model diff page (click → the summary shows the pair and
   the page is idle), opening the Graphs tab (→ both Netron panes hold nodes), and Run both
   (click → the outputs table). Target (issues 26/27): pick-B ≤ 3 s.

``python bench/bench_diff.py [--repeat 5] [--skip-browser]``. Reports, never fails; needs the
real models (``python -m tests.realmodels``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def pair(folder: Path) -> tuple[Path, Path]:
    from tests.realmodels import catalogue
    from tests.test_diff_browser import reexport

    real = next(m for m in catalogue() if m.id == "minilm_l6_int8w")
    if not real.path.exists():
        sys.exit("minilm_l6_int8w is not cached: run python -m tests.realmodels")
    a = onnx.load(real.path)
    onnx.save(a, folder / "minilm_a.onnx")
    onnx.save(reexport(a), folder / "minilm_b.onnx")
    return folder / "minilm_a.onnx", folder / "minilm_b.onnx"


def median_s(f, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def python_side(a: Path, b: Path, repeat: int) -> None:
    from inspector import load_model
    from inspector.model.diff import diff_models

    def baseline() -> None:
        for p in (a, b):
            onnx.shape_inference.infer_shapes(onnx.load(p))

    def diff() -> None:  # a fresh load each time: nothing cached between repeats
        la = load_model(a.read_bytes(), {}, name=a.name)
        lb = load_model(b.read_bytes(), {}, name=b.name)
        diff_models(la, lb, weights=True)

    base, ours = median_s(baseline, repeat), median_s(diff, repeat)
    print(f"onnx.load + shape inference of both: {base:.3f} s (baseline)")
    print(f"load both + diff_models(weights=True): {ours:.3f} s = {ours / base:.2f}× baseline")


def browser_side(a: Path, b: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
    from tests.test_browser import drop_model_files

    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        for f in (b, a):  # the last opened is A
            drop_model_files(page, [str(f)])
            page.get_by_role("heading", name=f.name).wait_for(timeout=60_000)
        page.get_by_role("link", name="Model diff", exact=True).click()
        page.get_by_role("heading", name=f"Model diff · {a.name}").wait_for(timeout=60_000)
        page.locator(IDLE).wait_for(timeout=120_000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Compare with").click()
        start = time.monotonic()
        page.get_by_role("option", name=b.name).click()
        page.get_by_text(f"{a.name} → {b.name}").wait_for(timeout=300_000)
        page.locator(IDLE).wait_for(timeout=300_000)
        pick_b = time.monotonic() - start
        print(f"pick B (click → summary, page idle): {pick_b:.2f} s (target ≤ 3 s)")
        start = time.monotonic()
        page.get_by_role("tab", name="Graphs").click()
        frames = page.frame_locator("iframe[src*='netron']")
        for i in range(2):
            frames.nth(i).locator("#canvas .node").first.wait_for(state="attached", timeout=300_000)
        print(
            f"Graphs tab (click → both Netron panes hold nodes): {time.monotonic() - start:.2f} s"
        )
        page.get_by_role("tab", name="Run both").click()
        page.get_by_role("button", name="Run both").wait_for(timeout=60_000)
        page.locator(IDLE).wait_for(timeout=60_000)  # a click during the tab's rerun is lost
        page.get_by_role("button", name="Run both").click()
        start = time.monotonic()
        page.get_by_text("Outputs (B against A)").wait_for(timeout=240_000)
        print(f"Run both (click → outputs table): {time.monotonic() - start:.2f} s")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a, b = pair(Path(tmp))
        python_side(a, b, args.repeat)
        if not args.skip_browser:
            browser_side(a, b)


if __name__ == "__main__":
    main()
