"""What a user does, in Debian chromium: open the app, drop a model with its data file, drop a
bad file. Screenshots go to tests/artifacts/ (looked at when the pages change)."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE,
    SCREENSHOTS,
    chromium_available,
    download,
    streamlit_server,
)
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian chromium is not installed"),
]

SAMPLES = ROOT / "sample_models"


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    yield page
    context.close()


def drop_model_files(page, files: list[str]) -> None:
    """Drop files on the sidebar's model uploader (found by its label: during a rerun the
    folder uploader can briefly come first in the page)."""
    box = page.locator('[data-testid="stFileUploader"]').filter(
        has_text="Drop an .onnx model with its external-data files"
    )
    box.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_opens_on_a_sample(page):
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    page.get_by_text("onnxruntime 1.").first.wait_for()
    page.get_by_text("No findings.").wait_for(timeout=30_000)
    shot(page, "overview-sample")


def test_upload_model_with_external_data(page):
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    drop_model_files(
        page,
        [str(SAMPLES / "external_data_mlp.onnx"), str(SAMPLES / "external_data_mlp.weights.bin")],
    )
    page.get_by_text("2 external tensors, all found in the uploaded files.").wait_for(
        timeout=30_000
    )
    page.get_by_role("heading", name="external_data_mlp.onnx").wait_for()
    shot(page, "overview-upload-external")


def test_drag_and_drop_model_without_its_data_file(page):
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    data = (SAMPLES / "external_data_mlp.onnx").read_bytes()
    page.locator('[data-testid="stFileUploaderDropzone"]').first.wait_for(timeout=30_000)
    page.evaluate(
        """([bytes]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], "external_data_mlp.onnx"));
            const zone = document.querySelector('[data-testid="stFileUploaderDropzone"]');
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true}));
            }
        }""",
        [list(data)],
    )
    page.get_by_text("2 of 2 external tensors cannot be read.").wait_for(timeout=30_000)
    shot(page, "overview-drop-missing-data")


def test_bad_file_gets_a_message_and_the_app_keeps_working(page, tmp_path):
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    bad = tmp_path / "photo.onnx"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(128))
    drop_model_files(page, [str(bad)])
    page.get_by_text("it looks like a PNG image").wait_for(timeout=30_000)
    shot(page, "overview-bad-file")
    # Switch back to the sample: still working.
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="mlp_gelu_layernorm.onnx").click()
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)


def _open_sample(page, name: str) -> None:
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    page.locator('[data-testid="stSelectbox"]').nth(1).click()
    page.get_by_role("option", name=name).click()
    page.get_by_role("button", name="Open sample").click()
    page.get_by_role("heading", name=name).wait_for(timeout=30_000)


def test_netron_renders_same_origin_only(browser, server):
    from urllib.parse import urlparse

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server)
    _open_sample(page, "external_data_mlp.onnx")
    page.get_by_role("link", name="Graph", exact=True).click()
    frame = page.frame_locator("iframe").first
    # Netron draws the graph as SVG nodes; the MatMul nodes carry the op name as text.
    frame.locator("#canvas").get_by_text("MatMul").first.wait_for(timeout=30_000)
    page.locator(IDLE).wait_for()
    shot(page, "graph-netron")
    outside = [
        u
        for u in requests
        if u.startswith("http") and urlparse(u).netloc != urlparse(server).netloc
    ]
    assert outside == [], outside
    context.close()


def _second_ep() -> str | None:
    from inspector.run.setup.demo import demo_ep

    ep = demo_ep()
    return ep.name.removesuffix("ExecutionProvider") if ep else None


def test_run_a_2x2_matrix_and_compare(page):
    second = _second_ep()
    _open_sample(page, "ep_fallback_det.onnx")
    page.get_by_role("link", name="Run lab").click()
    page.get_by_role("button", name="Run the matrix").wait_for(timeout=30_000)
    eps = page.locator('[data-testid="stMultiSelect"]').first
    if second:  # default: the second EP → CPU; add CPU for the 2×2
        eps.click()
        page.get_by_role("option", name="CPU", exact=True).click()
        page.keyboard.press("Escape")
    page.get_by_role("button", name="Run the matrix").click()
    page.get_by_text("Last results").first.wait_for(timeout=120_000)
    shot(page, "runlab-results")
    # The reference, then EP lists × {disable_all, all} (CPU · disable_all *is* the reference).
    rows = 4 if second else 2
    page.get_by_text(f"Done: {rows} ok, 0 failed").wait_for(timeout=10_000)
    page.get_by_role("link", name="Compare", exact=True).click()
    page.get_by_text("Latency per configuration").wait_for(timeout=30_000)
    page.get_by_text("Slowest 4 nodes").wait_for(timeout=30_000)
    # Each configuration against the reference: a ratio with its verdict, and node changes
    # within noise counted apart (issue 23).
    page.get_by_text("Per-node changes beyond noise").wait_for(timeout=30_000)
    page.get_by_text(
        re.compile(r"× \[[\d.]+, [\d.]+\] — (within noise|[\d.]+× (slower|faster))")
    ).first.wait_for(timeout=30_000)
    shot(page, "compare-timing")
    page.get_by_role("tab", name="Outputs").click()
    if second:
        page.get_by_text("|error| of probs").first.wait_for(timeout=30_000)
    shot(page, "compare-outputs")
    page.get_by_role("tab", name="Downloads").click()
    report = download(page, "Report (HTML").decode("utf-8")
    assert "ONNX Inspector report · ep_fallback_det.onnx" in report
    assert report.count("plotly.js v") == 1 and "Output deltas against" in report


def test_one_click_fallback_demo(page):
    """From the Run lab of any model: one click runs the Det sample on the usable second EP
    and lands on the EP assignment of the fallback configuration."""
    second = _second_ep()
    if second is None:
        pytest.skip("no usable second EP here (discovery says why on the Run lab page)")
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    page.get_by_role("link", name="Run lab").click()
    page.get_by_role("button", name=f"Fallback demo ({second})").click()
    page.get_by_role("heading", name="Compare · ep_fallback_det.onnx").wait_for(timeout=120_000)
    # Landed on the EP tab (its text is only visible when the tab is selected).
    page.get_by_text(f"CPU: 1, {second}: 3").first.wait_for(timeout=30_000)
    page.get_by_role("tab", name="EP assignment", selected=True).wait_for()
    # Issue 25: nodes per EP as stacked bars, a legend swatch per EP in its fixed colour.
    bars = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Nodes per EP")
    bars.locator(".barlayer .point path").first.wait_for(timeout=30_000)
    page.wait_for_function(  # plotly styles its marks after it places them
        "[...document.querySelectorAll('.legend .legendpoints path')].some(e => e.style.fill)"
    )
    swatches = bars.locator(".legend .traces").evaluate_all(
        "ts => ts.map(t => [t.querySelector('.legendtext').textContent, "
        "getComputedStyle(t.querySelector('.legendpoints path')).fill])"
    )
    assert dict(swatches)["CPU"] == "rgb(76, 120, 168)" and second in dict(swatches), swatches
    # The strict copies were refused as the demo expects: a note, not an error box.
    alerts = page.locator('[data-testid="stAlert"]')
    alerts.filter(has_text="refused as expected (strict: no CPU fallback)").first.wait_for()
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    # Configurations of CPU alone have no EP to explain: their log lines share one expander
    # after the EP configurations' (each of those has its own).
    page.get_by_text(re.compile(r"Log lines · \d configurations? of CPU alone")).first.wait_for()
    assert page.get_by_text(f"Log lines · {second}+CPU", exact=False).count() >= 1
    assert page.get_by_text("Log lines · reference", exact=False).count() == 0
    shot(page, "fallback-demo-ep-tab")
    page.get_by_role("tab", name="Graph").click()
    charts = page.locator('[data-testid="stGraphVizChart"] svg')
    charts.nth(1).wait_for(timeout=30_000)
    legend, svg = charts.first.inner_html(), charts.nth(1).inner_html()
    assert "CPU" in legend and second in legend and "no record" in legend  # the swatches
    assert "CPU" in svg and second in svg
    page.locator('[data-testid="stGraphVizChart"]').first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "fallback-overlay.png"))  # the viewport: the graph


def test_under_base_url_path(browser):
    with streamlit_server(base_path="inspector") as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base + "Graph")
        frame = page.frame_locator("iframe").first
        frame.locator("#canvas").get_by_text("MatMul").first.wait_for(timeout=30_000)
        shot(page, "graph-baseurlpath")
        page.close()


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 1100m;
    server {{
        listen 127.0.0.1:{port};
        # Streamlit sends neither header: only this page and the app may frame the app.
        add_header X-Frame-Options "SAMEORIGIN" always;
        add_header Content-Security-Policy "frame-ancestors 'self'" always;
        location /inspector/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 86400;
        }}
    }}
}}
"""


@pytest.mark.skipif(
    not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"),
    reason="nginx is not installed",
)
def test_behind_a_single_port_reverse_proxy(browser, server, tmp_path):
    """nginx strips a /inspector/ prefix Streamlit knows nothing about: the viewer must use
    the prefix the browser sees, not an absolute /app/static path."""
    import subprocess
    from urllib.parse import urlparse

    from tests.browser import _free_port, wait_healthy

    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, upstream=urlparse(server).port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/inspector/"
        wait_healthy(base, 30)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(base + "Graph")
        frame = page.frame_locator("iframe").first
        frame.locator("#canvas").get_by_text("MatMul").first.wait_for(timeout=30_000)
        shot(page, "graph-behind-nginx")
        page.close()
        # Issue 22: the proxy's headers keep other sites from framing the app (the Netron
        # frame above is same-origin, so it still renders).
        import urllib.request

        for path in ("", "app/static/netron/index.html"):
            with urllib.request.urlopen(base + path, timeout=10) as r:
                assert r.headers["X-Frame-Options"] == "SAMEORIGIN", path
                assert r.headers["Content-Security-Policy"] == "frame-ancestors 'self'", path
        other = browser.new_page()  # another origin (about:blank) framing the app
        # set_content returns once the page and its frame have loaded (a refused frame loads
        # Chromium's error page).
        other.set_content(f'<iframe src="{base}" width="800" height="600"></iframe>')
        assert not any(f.url.startswith(base) for f in other.frames[1:]), [
            f.url for f in other.frames
        ]
        other.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_run_lab_refuses_a_path_taking_config_key(page, tmp_path):
    """Issue 15's reproduction from the page: a node name that is a line of Python plus a
    session config key that writes a CSV to a path of the user's choosing."""
    import sysconfig

    import onnx

    from tests.test_security import evil_model

    src = tmp_path / "evil.onnx"
    onnx.save(evil_model(), src)
    target = __import__("pathlib").Path(sysconfig.get_paths()["purelib"]) / "zz_browser.pth"
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    drop_model_files(page, [str(src)])
    page.get_by_role("heading", name="evil.onnx").wait_for(timeout=30_000)
    page.get_by_role("link", name="Run lab").click()
    page.get_by_role("button", name="Run the matrix").wait_for(timeout=30_000)
    page.get_by_text("Options", exact=True).click()
    area = page.get_by_role("textbox", name="Session config entries")
    area.fill(f"session.collect_node_memory_stats_to_file={target}")
    area.press("Control+Enter")
    page.get_by_role("button", name="Run the matrix").click()
    refused = page.get_by_text("is not accepted: it writes a file at a path you choose")
    refused.wait_for(timeout=30_000)
    refused.scroll_into_view_if_needed()
    shot(page, "runlab-refused-config-key")
    assert not target.exists()
    # The page still works: a clean run goes through.
    area.fill("optimization.enable_gelu_approximation=1")
    area.press("Control+Enter")
    page.get_by_role("button", name="Run the matrix").click()
    page.get_by_text("Last results").first.wait_for(timeout=120_000)
    assert not target.exists()


def test_a_model_that_segfaults_onnx_does_not_take_the_server_down(page, tmp_path):
    """A 68-byte upload once killed the server for everyone (issue 16)."""
    from tests.factories import onnx_segfault

    bad = tmp_path / "regex_crash.onnx"
    bad.write_bytes(onnx_segfault())
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    drop_model_files(page, [str(bad)])
    page.get_by_role("heading", name="regex_crash.onnx").wait_for(timeout=30_000)
    # Findings are a data grid (canvas cells are "hidden" to Playwright): wait for the cell.
    page.get_by_text("onnx crashed (SIGSEGV) on this model").first.wait_for(
        state="attached", timeout=60_000
    )
    shot(page, "overview-onnx-crash")
    page.get_by_role("link", name="Graph", exact=True).click()
    page.get_by_role("heading", name="Graph · regex_crash.onnx").wait_for(timeout=30_000)
    # The server is alive and the next upload works.
    drop_model_files(page, [str(SAMPLES / "cnn_conv_bn_relu.onnx")])
    page.get_by_role("heading", name="Graph · cnn_conv_bn_relu.onnx").wait_for(timeout=30_000)


def test_a_stride32_detector_runs_with_the_suggested_sizes(page, tmp_path):
    """Issue 10: default dims of 1 failed on detectors; the Run lab now suggests the model's
    own image size (metadata imgsz) and the run succeeds with no input options."""
    from tests.factories import stride32_detector

    src = tmp_path / "det_yolo.onnx"
    src.write_bytes(stride32_detector(imgsz="[320, 320]").SerializeToString())
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    drop_model_files(page, [str(src)])
    page.get_by_role("heading", name="det_yolo.onnx").wait_for(timeout=30_000)
    page.get_by_role("link", name="Run lab").click()
    page.get_by_text("Suggested: height = 320 (the model's metadata imgsz").wait_for(timeout=30_000)
    page.get_by_role("button", name="Run the matrix").click()
    page.get_by_text("Last results").first.wait_for(timeout=120_000)
    page.get_by_text("ok, 0 failed").first.wait_for(timeout=10_000)
    shot(page, "runlab-detector-suggested-sizes")


def test_another_model_opened_on_the_run_lab_gets_its_own_input_widgets(page, tmp_path):
    """Input files, dims and ranges belong to one model: opening another on the Run lab once
    kept them in the browser (Streamlit keeps a keyed widget's value, and the browser sends
    it back), so the first model's files stayed listed — and ran — for the second."""
    import numpy as np

    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((2, 64), np.float32))
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    page.get_by_role("link", name="Run lab").click()
    box = page.locator('[data-testid="stFileUploader"]').filter(has_text="Input files")
    box.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [str(tmp_path / "x.npy")]
    )
    page.get_by_label("shape").first.wait_for(state="detached", timeout=60_000)  # taken
    page.locator(IDLE).wait_for()
    assert box.get_by_text("x.npy").count() == 1
    page.locator('[data-testid="stSelectbox"]').nth(1).click()
    page.get_by_role("option", name="cnn_conv_bn_relu.onnx").click()
    page.get_by_role("button", name="Open sample").click()
    page.get_by_role("heading", name="Run lab · cnn_conv_bn_relu.onnx").wait_for(timeout=30_000)
    page.get_by_label("shape").first.wait_for(timeout=30_000)  # its own inputs, generated
    page.locator(IDLE).wait_for()
    assert page.get_by_label("shape").first.input_value() == "1,3,32,32"
    assert box.get_by_text("x.npy").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_run_survives_navigation_and_reload(page):
    """Issue 11: the matrix is a job; leaving the page and reloading neither loses it nor
    starts it twice."""
    _open_sample(page, "dynamic_axes_transformer_block.onnx")
    page.get_by_role("link", name="Run lab").click()
    page.get_by_role("button", name="Run the matrix").wait_for(timeout=30_000)
    seq = page.get_by_label("dim sequence")  # long sequences: a run of several seconds
    seq.fill("2048")
    seq.press("Enter")
    # The rerun that took the dim is over once the inputs' shape fields show it.
    page.get_by_label("shape").first.and_(page.locator('[value="1,2048"]')).wait_for()
    page.locator(IDLE).wait_for()
    page.get_by_role("button", name="Run the matrix").click()
    page.locator('[data-testid="stProgress"]').first.wait_for(timeout=30_000)  # job submitted
    page.get_by_role("link", name="Graph", exact=True).click()
    page.get_by_role("heading", name="Graph · dynamic_axes_transformer_block.onnx").wait_for(
        timeout=30_000
    )
    assert "?s=" in page.url or "&s=" in page.url  # the job owner travels with the URL
    page.reload()  # a new session: it reopens the model of this URL's job
    page.get_by_role("link", name="Run lab").click()
    page.get_by_role("heading", name="Run lab · dynamic_axes_transformer_block.onnx").wait_for(
        timeout=30_000
    )
    page.get_by_text("Last results").first.wait_for(timeout=180_000)
    page.get_by_text("ok, 0 failed").first.wait_for(timeout=30_000)
    assert page.get_by_text("Done:").count() == 1
    shot(page, "runlab-after-reload")


def test_cancel_stops_the_workers_and_removes_the_temp_folder(page, server, tmp_path):
    from tests.factories import endless_loop
    from tests.test_jobs import _run_dirs, _workers
    from tests.test_sessions import _wait

    src = tmp_path / "endless.onnx"
    src.write_bytes(endless_loop().SerializeToString())
    before_dirs = _run_dirs()
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    drop_model_files(page, [str(src)])
    page.get_by_role("heading", name="endless.onnx").wait_for(timeout=30_000)
    page.get_by_role("link", name="Run lab").click()
    page.get_by_role("button", name="Run the matrix").click()
    page.get_by_text("configurations — running").first.wait_for(timeout=60_000)
    assert _wait(lambda: bool(_workers(server.pid)), 30), "no worker was running"
    page.get_by_role("button", name="Cancel this run").click()
    page.get_by_text("Cancelled after").wait_for(timeout=30_000)
    shot(page, "runlab-cancelled")
    assert _wait(lambda: not _workers(server.pid), 10), _workers(server.pid)
    assert _wait(lambda: not (_run_dirs() - before_dirs), 10), _run_dirs() - before_dirs
