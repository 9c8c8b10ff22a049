"""What a user does, in Debian chromium: open the app, drop a model with its data file, drop a
bad file. Screenshots go to tests/artifacts/ (looked at when the pages change)."""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, chromium_available, streamlit_server
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
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [str(SAMPLES / "external_data_mlp.onnx"), str(SAMPLES / "external_data_mlp.weights.bin")]
    )
    page.get_by_text("2 external tensors, all found in the uploaded files.").wait_for(
        timeout=30_000
    )
    page.get_by_role("heading", name="external_data_mlp.onnx").wait_for()
    shot(page, "overview-upload-external")


def test_drag_and_drop_model_without_its_data_file(page):
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
    data = (SAMPLES / "external_data_mlp.onnx").read_bytes()
    page.locator('[data-testid="stFileUploaderDropzone"]').wait_for(timeout=30_000)
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
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(bad)])
    page.get_by_text("it looks like a PNG image").wait_for(timeout=30_000)
    shot(page, "overview-bad-file")
    # Switch back to the sample: still working.
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="mlp_gelu_layernorm.onnx").click()
    page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
