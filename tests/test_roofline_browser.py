"""Issue 28 in Debian chromium: on a real detector (YOLOv8n, 320²), after a small run, the
Overview shows the model's cost at the suggested input sizes and Compare's Cost tab draws the
roofline scatter (points, both roofs), the op-type table and the nodes furthest below their
roof. Screenshots go to tests/artifacts/ (roofline-*.png)."""

from __future__ import annotations

import re

import pytest

from tests.browser import SCREENSHOTS, chromium_available, open_page, open_tab
from tests.realmodels import FETCH, catalogue
from tests.test_browser import browser, drop_model_files, server  # noqa: F401 - the fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian chromium is not installed"),
]


def _detector():  # type: ignore[no-untyped-def]
    m = next(m for m in catalogue() if m.id == "nudenet_yolov8n_320")
    if not m.path.exists():
        pytest.skip(f"{m.package} not cached: run {FETCH}")
    return m.path


def test_compare_cost_tab_draws_the_roofline_of_a_real_detector(browser, server):  # noqa: F811
    path = _detector()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(server)
        page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        drop_model_files(page, [str(path)])
        page.get_by_role("heading", name=path.name).wait_for(timeout=60_000)
        # The Overview: the cost at the suggested 1×3×320×320, with the activation peak.
        section = page.get_by_text("Cost at the suggested input sizes")
        section.wait_for(timeout=60_000)
        page.get_by_text("Activation peak (estimate)").wait_for(timeout=30_000)
        page.get_by_text("images [1, 3, 320, 320]").first.wait_for(timeout=30_000)
        section.scroll_into_view_if_needed()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "roofline-overview-cost.png"))
        # A small run: the default matrix with a 1 s budget per configuration.
        open_page(page, "Run lab", f"Run lab · {path.name}")
        page.get_by_text("Options", exact=True).click()
        budget = page.get_by_role("spinbutton", name="time budget per configuration (s)")
        budget.fill("1")
        budget.press("Enter")
        page.get_by_role("button", name="Run the matrix").click()
        page.get_by_text("Last results").first.wait_for(timeout=240_000)
        done = page.get_by_text(re.compile(r"^Done: \d+ ok, \d+ failed$"))
        done.wait_for(timeout=240_000)
        page.screenshot(path=str(SCREENSHOTS / "roofline-runlab.png"), full_page=True)
        ok, failed = (int(x) for x in re.findall(r"\d+", done.inner_text()))
        assert ok >= 2 and failed == 0  # the reference and at least one candidate
        open_page(page, "Compare", f"Compare · {path.name}")
        chart = page.locator(".js-plotly-plot").filter(has_text="Roofline of")
        open_tab(page, "Cost", chart.first)
        # The candidate first; the reference one click away.
        title = chart.first.locator(".gtitle")
        assert not (title.text_content() or "").startswith("Roofline of reference")
        memory = page.locator(".js-plotly-plot").filter(has_text="Worker memory per configuration")
        memory.first.wait_for(timeout=30_000)  # issue 28: every configuration's memory
        assert memory.first.locator(".legendtext", has_text="peak: creating the session").count()
        assert memory.first.locator(".barlayer .point").count() >= 6  # 3 phases × ≥ 2 configs
        memory.first.scroll_into_view_if_needed()
        memory.first.screenshot(path=str(SCREENSHOTS / "memory-detector.png"))
        page.get_by_text("memory roof: copy").first.wait_for(timeout=30_000)
        page.get_by_text("compute roof: float32").first.wait_for(timeout=30_000)
        page.get_by_text("in-cache roof: copy").first.wait_for(timeout=30_000)
        page.get_by_text("Furthest below their roof").wait_for(timeout=30_000)
        page.get_by_text("Per op type", exact=True).wait_for(timeout=30_000)
        # Points: one scatter trace per op type, Conv among them, with drawn markers.
        assert chart.first.locator(".legendtext", has_text="Conv").count() >= 1
        assert chart.first.locator(".scatterlayer .point").count() > 50
        chart.first.scroll_into_view_if_needed()
        chart.first.screenshot(path=str(SCREENSHOTS / "roofline-detector.png"))
        page.screenshot(path=str(SCREENSHOTS / "roofline-compare-cost.png"), full_page=True)
        radio = page.locator('[data-testid="stRadio"]').filter(has_text="Configuration")
        radio.get_by_text("reference · CPU · disable_all", exact=True).click()
        page.get_by_text("Roofline of reference · CPU · disable_all").wait_for(timeout=30_000)
        chart.first.screenshot(path=str(SCREENSHOTS / "roofline-detector-reference.png"))
    finally:
        context.close()
