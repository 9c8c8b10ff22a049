"""Issue 13 (report): a self-contained HTML report that opens offline with no request to any
other origin, from the library, the CLI and the app."""

from __future__ import annotations

import pytest

from inspector import load_model
from inspector.cli import main
from inspector.report import html_report
from inspector.run.execute.runner import run_matrix
from inspector.run.setup.config import RunConfig, expand_matrix
from tests.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, chromium_available
from tests.conftest import SAMPLES
from tests.factories import linear

HOSTILE = '<img src=x onerror="alert(1)">'


def _runs(m):  # type: ignore[no-untyped-def]
    import numpy as np

    mat = expand_matrix(
        ["cpu"], ["disable_all", "all"], base=RunConfig(timed_runs=3, profiled_runs=1)
    )
    return tuple(run_matrix(m, mat, {"x": np.ones((2, 4), np.float32)}))


def _hostile_model():  # type: ignore[no-untyped-def]
    proto = linear()
    proto.graph.node[0].name = HOSTILE
    proto.doc_string = HOSTILE
    entry = proto.metadata_props.add()
    entry.key, entry.value = "k", HOSTILE
    return load_model(proto.SerializeToString(), {}, name="lin<script>.onnx")


def test_the_report_is_one_offline_file_with_every_string_escaped():
    m = _hostile_model()
    page = html_report(m, _runs(m))
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count("plotly.js v") == 1  # inlined once, no CDN script tag
    assert "cdn" not in page.lower().split("plotly.js v")[0]
    assert HOSTILE not in page and "lin<script>" not in page
    assert "lin&lt;script&gt;.onnx" in page
    for section in ("Overview", "Will ONNX Runtime load it?", "Diagnostics", "Runs", "Fallback"):
        assert section in page
    assert "Output deltas against" in page and "Slowest" in page


def test_the_cli_writes_it(tmp_path, capsys):
    out = tmp_path / "r.html"
    argv = ["report", str(SAMPLES / "ep_fallback_det.onnx"), "-o", str(out), "--run"]
    assert main([*argv, "--runs", "2", "--profiled-runs", "1"]) == 0
    assert "wrote" in capsys.readouterr().out and out.stat().st_size > 1_000_000
    assert main(["report", str(SAMPLES / "cnn_conv_bn_relu.onnx"), "-o", str(out)]) == 0
    assert "Runs" not in out.read_text() and "Diagnostics" in out.read_text()


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="Debian chromium is not installed")
def test_it_opens_offline_in_chromium_with_no_other_origin(tmp_path):
    from playwright.sync_api import sync_playwright

    m = _hostile_model()
    path = tmp_path / "report.html"
    path.write_text(html_report(m, _runs(m)), encoding="utf-8")
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.locator(".js-plotly-plot").nth(2).wait_for(timeout=30_000)
        assert page.locator(".js-plotly-plot .main-svg").count() >= 3  # drawn, not just placed
        # plotly styles its marks after it places them: a screenshot taken in between shows
        # every bar black (issue 26 read that as the page policy blocking plotly's styles)
        # (bars' marks are `.point path`; the roofline scatter's markers are `path.point`)
        page.wait_for_function(
            "[...document.querySelectorAll('.js-plotly-plot')].every(p => "
            "p.querySelector('.point path, path.point') && "
            "p.querySelector('.point path, path.point').style.fill)"
        )
        fills = page.evaluate(
            "[...document.querySelectorAll('.js-plotly-plot')].map(p => [...new Set("
            "[...p.querySelectorAll('.point path, path.point')].map(e => "
            "getComputedStyle(e).fill))])"
        )
        assert all(f and "rgb(0, 0, 0)" not in f for f in fills), fills
        assert len(fills[2]) >= 2, fills  # the op-type chart tells configurations apart
        assert fills[3] == ["rgb(76, 120, 168)"], fills  # nodes per EP: CPU's colour (issue 25)
        assert page.get_by_text(HOSTILE).count() >= 1  # shown as text
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
        browser.close()
    assert [u for u in requests if u != path.as_uri()] == []
    assert dialogs == []  # the injected handler never ran
