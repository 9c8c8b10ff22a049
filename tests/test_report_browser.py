"""Issue 26: the HTML report's charts, opened from ``file://`` in Chromium under the report's
own Content-Security-Policy, render in colour with readable labels — checked on the rendered
pixels and the drawn tick labels, not only on the HTML — and the policy runs no script but
the report's own."""

from __future__ import annotations

from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest

from inspector import load_model
from inspector.charts import node_labels
from inspector.report import html_report
from inspector.run.analyses.compare import node_timing_table
from inspector.run.execute.runner import run_matrix
from inspector.run.setup.config import RunConfig, expand_matrix
from inspector.run.setup.inputs import default_inputs
from tests.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, chromium_available
from tests.conftest import SAMPLES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian chromium is not installed"),
]

LEVELS = ["disable_all", "basic", "all"]
# Every CSP violation, whether or not the browser also logs it (registered before any script).
WATCH_CSP = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation', "
    "e => window.__csp.push(e.effectiveDirective + ' ' + e.blockedURI));"
)
# Drawn and styled: every chart has its marks filled (plotly places them, then styles them,
# then redraws once the automatic margins are known; the state after the last pass is checked).
STYLED = (  # bars draw '.point path', scatter markers (the roofline) 'path.point'
    "[...document.querySelectorAll('.js-plotly-plot')].every(p => p._fullLayout && "
    "p.querySelector('.point path, path.point') && "
    "[...p.querySelectorAll('.point path, path.point')].every(e => e.style.fill))"
)
# Each tick label's box against its chart's svg: [chart, axis, text, inside?].
TICKS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap((p, i) => {
  const svg = p.querySelector('.main-svg').getBoundingClientRect();
  return [...p.querySelectorAll('.xtick text, .ytick text')].map(t => {
    const b = t.getBoundingClientRect();
    const axis = t.parentNode.classList.contains('xtick') ? 'x' : 'y';
    return [i, axis, t.textContent, b.left >= svg.left - 0.5 && b.right <= svg.right + 0.5
            && b.top >= svg.top - 0.5 && b.bottom <= svg.bottom + 0.5];
  });
})"""

# Chart i's value axis from 0 to 1.3 times trace t's longest bar (Plotly.relayout, the call a
# user's zoom makes; it resolves once the chart is redrawn).
ZOOM = """async ([i, t, axis]) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[i];
  const top = Math.max(...gd.data[t][axis].map(Number));
  await Plotly.relayout(gd, {[axis + 'axis.range']: [0, 1.3 * top]});
}"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A report of a real run of a sample model under three configurations, as a file."""
    m = load_model((SAMPLES / "mlp_gelu_layernorm.onnx").read_bytes(), {}, name="mlp.onnx")
    mat = expand_matrix(["cpu"], LEVELS, base=RunConfig(timed_runs=5, profiled_runs=2))
    results = tuple(run_matrix(m, mat, default_inputs(m)))
    assert [r.status for r in results] == ["ok"] * 3, [r.error for r in results]
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html_report(m, results), encoding="utf-8")
    return path, results


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _until(page, expression: str, timeout_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``expression`` is true in the page. Not ``wait_for_function``: when its first
    check fails, Playwright polls by evaluating a string inside the page, which the report's
    policy (no 'unsafe-eval') refuses; ``evaluate`` runs outside the page's policy."""
    import time

    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {expression[:80]}")
        page.wait_for_timeout(50)  # between checks of the state, not instead of one


def _open(browser, path: Path, width: int = 1000):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": width, "height": 900})
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.add_init_script(WATCH_CSP)
    page.goto(path.as_uri())
    return page, console


def _colours(png: bytes, box: dict[str, float], origin: dict[str, float]) -> Counter:
    """Pixels per saturated colour inside ``box`` (page coordinates) of a chart screenshot
    whose top left is ``origin``: bars' colours, not the grey grid, white or black text."""
    import numpy as np
    from PIL import Image

    img = Image.open(BytesIO(png)).convert("RGB")
    left, top = int(box["x"] - origin["x"]), int(box["y"] - origin["y"])
    crop = img.crop((left, top, left + int(box["width"]), top + int(box["height"])))
    px = np.asarray(crop).reshape(-1, 3).astype(int)
    saturated = px[px.max(axis=1) - px.min(axis=1) > 80]
    return Counter(tuple(int(v) for v in c) for c in saturated)


@pytest.mark.parametrize("width", [1000, 700], ids=["wide", "narrow"])
def test_charts_render_each_configuration_in_its_own_colour_with_whole_labels(
    report, browser, width
):
    path, results = report
    page, console = _open(browser, path, width)
    charts = page.locator(".js-plotly-plot")
    charts.nth(3).wait_for()  # latency, slowest nodes, op types, nodes per EP
    _until(page, STYLED)
    try:
        _until(page, f"({TICKS})().every(t => t[3])", timeout_s=10)
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"report-charts-{width}.png"), full_page=True)
    ticks = page.evaluate(TICKS)
    assert [t for t in ticks if not t[3]] == []  # no label runs off its chart

    # The tick labels are the whole labels: configurations, then node labels.
    labels = [r.label for r in results]
    assert [t[2] for t in ticks if t[:2] == [0, "x"]] == labels
    _, rows = node_timing_table(results)
    wanted = node_labels(list(rows[:20])[::-1])
    assert [t[2] for t in ticks if t[:2] == [1, "y"]] == wanted

    # Latency: one bar per configuration, each in its own colour, none black or white.
    lat = charts.nth(0)
    png, origin = lat.screenshot(), lat.bounding_box()
    centres = []
    for bar in lat.locator(".point path").all():
        b = bar.bounding_box()
        centres.append(
            _colours(
                png,
                {
                    **b,
                    "x": b["x"] + b["width"] / 2 - 2,
                    "width": 4,
                    "y": b["y"] + b["height"] / 2 - 2,
                    "height": 4,
                },
                origin,
            )
        )
    tops = [c.most_common(1)[0][0] if c else None for c in centres]
    assert len(tops) == 3 and None not in tops and len(set(tops)) == 3, tops

    # Slowest nodes and op types: each configuration's colour fills a real area of the plot.
    # Bar lengths are measured times: one slow profiled run of the reference can make the
    # others' bars slivers (seen in CI: a 77 µs median beside 5 µs shares), so each
    # configuration is looked at with the value axis zoomed to its own bars, as a user would.
    for k, axis in ((1, "x"), (2, "y")):
        chart = charts.nth(k)
        for t, colour in enumerate(tops):
            page.evaluate(ZOOM, [k, t, axis])
            _until(page, STYLED)
            png, origin = chart.screenshot(), chart.bounding_box()
            area = chart.locator(".nsewdrag").first.bounding_box()
            seen = [c for c, n in _colours(png, area, origin).most_common() if n >= 30]
            # The same colour within antialiasing (hatched, derived bars blend a few levels off).
            assert any(
                max(abs(a - b) for a, b in zip(colour, c, strict=True)) <= 8 for c in seen
            ), (k, t, colour, seen[:8])

    violations = page.evaluate("window.__csp")
    assert violations == [] and not [m for m in console if "Content Security Policy" in m]
    page.close()


def test_only_the_reports_own_scripts_run(report, browser, tmp_path):
    """A script or handler that reached the page past the escaping (simulated here by
    editing the file) is refused by the policy; the report's own scripts still draw."""
    path, _ = report
    tampered = tmp_path / "tampered.html"
    smuggled = "<script>window.__ran = 1</script><svg onload='window.__ran = 2'></svg>"
    tampered.write_text(path.read_text(encoding="utf-8").replace("<h2>", smuggled + "<h2>", 1))
    page, _ = _open(browser, tampered)
    page.locator(".js-plotly-plot").nth(3).wait_for()
    _until(page, STYLED)
    _until(page, "window.__csp.length >= 2")
    assert page.evaluate("window.__ran") is None
    assert all(v.startswith("script-src") for v in page.evaluate("window.__csp"))
    page.close()
