"""Issue 24's done-when, in Debian chromium: the Run lab runs a string-input model, a detector
and a model with external data with the page's defaults untouched.

A user drops the model (with its data file), opens the Run lab and clicks "Run the matrix".
The page must show no exception, and its results table must list every configuration the
default widgets name, each ok. The numbers are checked too: the session bundle the Compare page
offers holds the run's exact inputs and outputs, and plain ONNX Runtime in this process, with
the same EPs, level and thread count on those inputs, must give the same outputs. (Issue 24:
every model with a string input crashed the page with "string indices must be integers".)

The string-input model is built here (no scikit-learn converter is installed): what a
scikit-learn pipeline exports — a LabelEncoder over a categorical column, a Scaler over a
numeric one, a LinearClassifier and a ZipMap, whose output is a sequence of maps. The detector
(YOLOv8n) and the external-data transformer are real models from pinned wheels
(tests/real_models.json), skipped where not cached; the sample's external-data MLP runs
everywhere. Screenshots of each results table go to tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from playwright.sync_api import expect

from inspector.bundle import read_bundle
from inspector.run.readout.results import RunResult
from inspector.run.setup.plan import RunPlan
from tests.browser import (
    SCREENSHOTS,
    chromium_available,
    download,
    open_page,
    open_tab,
)
from tests.conftest import SAMPLES
from tests.factories import model, vi
from tests.realmodels import FETCH, catalogue
from tests.test_browser import browser, drop_model_files, server  # noqa: F401 - the fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="Debian chromium is not installed"),
]

DONE = re.compile(r"^Done: (\d+) ok, (\d+) failed$")


def sklearn_pipeline() -> onnx.ModelProto:
    """A classifier over a string column and a numeric column, as scikit-learn converters
    export one: label and a ZipMap of class probabilities (``seq(map(int64, float))``)."""
    ml = "ai.onnx.ml"
    nodes = [
        helper.make_node(
            "LabelEncoder",
            ["sex"],
            ["code"],
            domain=ml,
            keys_strings=["female", "male"],
            values_int64s=[0, 1],
            default_int64=-1,
        ),
        helper.make_node("Cast", ["code"], ["code_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["code_f", "axis1"], ["code_col"]),
        helper.make_node("Scaler", ["age"], ["age_scaled"], domain=ml, offset=[30.0], scale=[0.05]),
        helper.make_node("Concat", ["code_col", "age_scaled"], ["features"], axis=1),
        helper.make_node(
            "LinearClassifier",
            ["features"],
            ["label", "probabilities"],
            domain=ml,
            classlabels_ints=[0, 1],
            coefficients=[0.8, -0.4, -0.8, 0.4],
            intercepts=[0.1, -0.1],
            post_transform="LOGISTIC",
        ),
        helper.make_node(
            "ZipMap",
            ["probabilities"],
            ["output_probability"],
            domain=ml,
            classlabels_int64s=[0, 1],
        ),
    ]
    zipmap = helper.make_value_info(
        "output_probability",
        helper.make_sequence_type_proto(
            helper.make_map_type_proto(
                TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
            )
        ),
    )
    return model(
        nodes,
        [vi("sex", TensorProto.STRING, ["N"]), vi("age", TensorProto.FLOAT, ["N", 1])],
        [vi("label", TensorProto.INT64, ["N"]), zipmap],
        [numpy_helper.from_array(np.array([1], np.int64), "axis1")],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid(ml, 3)],
    )


@dataclass(frozen=True)
class Case:
    """A model to drop: ``files(tmp_path)`` gives the model first, then its data files."""

    files: Callable[[Path], list[Path]]
    marks: tuple = ()


def _built(tmp: Path) -> list[Path]:
    path = tmp / "titanic_pipeline.onnx"
    onnx.save(sklearn_pipeline(), path)
    return [path]


def _real(model_id: str) -> Case:
    m = next(m for m in catalogue() if m.id == model_id)
    skip = pytest.mark.skip(reason=f"{m.package} not cached: run {FETCH}")
    data = [m.path.parent / Path(e).name for e in m.external_data]
    return Case(lambda _tmp: [m.path, *data], () if m.path.exists() else (skip,))


CASES = {
    "string-input-pipeline": Case(_built),
    "yolov8n-detector": _real("nudenet_yolov8n_320"),
    "external-data-transformer": _real("khmersm_transformer_extdata"),
    "external-data-sample": Case(
        lambda _tmp: [SAMPLES / "external_data_mlp.onnx", SAMPLES / "external_data_mlp.weights.bin"]
    ),
}


def chips(page, label: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The values chosen in the multiselect labelled ``label``, as the user sees them."""
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text=label)
    expect(box.locator("[data-tag]").first).to_be_visible(timeout=30_000)  # drawn
    return [t.get_attribute("aria-label") or "" for t in box.locator("[data-tag]").all()]


def table_rows(page, first_header: str, n: int) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The rows of the data grid whose first column is ``first_header``, once it has ``n``
    (it is drawn again after the "Done" line), read from the grid's accessible table: its
    cells are drawn on a canvas."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(has_text=first_header).last
    expect(grid.locator('table[role="grid"] tbody tr')).to_have_count(n, timeout=30_000)
    return grid.evaluate(
        """(el) => {
            const table = el.querySelector('table[role="grid"]');
            const heads = [...table.querySelectorAll('th[role="columnheader"]')]
                .map(h => [h.getAttribute('aria-colindex'), h.textContent.trim()]);
            const name = Object.fromEntries(heads);
            return [...table.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(
                [...tr.querySelectorAll('td')].map(td =>
                    [name[td.getAttribute('aria-colindex')], td.textContent.trim()])));
        }"""
    )


def _comparable(value):  # type: ignore[no-untyped-def]
    """Plain ORT's output as the run saves it: a sequence of maps becomes one row per map,
    one column per key in sorted order; string tensors compare as text."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return np.array([[float(v[k]) for k in sorted(v)] for v in value])
    if isinstance(value, list):
        return [np.asarray(v) for v in value]
    arr = np.asarray(value)
    return arr.astype(np.str_) if arr.dtype == object else arr


def plain_outputs(path: Path, result: RunResult, inputs: dict) -> dict:  # type: ignore[type-arg]
    """The model run by plain ONNX Runtime in this process with ``result``'s EPs (plugin EPs
    registered from the same libraries the workers use), level and thread count."""
    import onnxruntime as ort

    from inspector.run.setup.eps import plugin_libraries

    cfg = result.config
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel(cfg.level_value)
    options.intra_op_num_threads = cfg.intra_op_threads
    options.log_severity_level = 3
    names = [e.name for e in cfg.eps]
    plugins = dict(map(tuple, plugin_libraries()))
    if any(n in plugins for n in names):
        for name in names:
            if name in plugins:
                try:
                    ort.register_execution_provider_library(name, plugins[name])
                except Exception as exc:  # registered by an earlier case
                    if "already registered" not in str(exc):
                        raise
        devices = ort.get_ep_devices()
        for name, options_of in ((e.name, dict(e.options)) for e in cfg.eps):
            options.add_provider_for_devices([d for d in devices if d.ep_name == name], options_of)
        session = ort.InferenceSession(str(path), options)
    else:
        session = ort.InferenceSession(str(path), options, providers=names)
    feeds = {k: v.astype(object) if v.dtype.kind == "U" else v for k, v in inputs.items()}
    out = session.run(None, feeds)
    return {o.name: _comparable(v) for o, v in zip(session.get_outputs(), out, strict=True)}


@pytest.mark.parametrize("case", [pytest.param(c, id=k, marks=c.marks) for k, c in CASES.items()])
def test_the_run_lab_runs_the_model_with_the_page_defaults(case: Case, server, browser, tmp_path):  # noqa: F811
    files = case.files(tmp_path)
    name = files[0].name
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(server)
        page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        drop_model_files(page, [str(f) for f in files])
        page.get_by_role("heading", name=name).wait_for(timeout=60_000)
        open_page(page, "Run lab", f"Run lab · {name}")
        run = page.get_by_role("button", name="Run the matrix")
        run.wait_for(timeout=30_000)
        # The configurations the untouched widgets name (chips "ggml → CPU", "disable_all"…).
        ep_lists = [c.replace(" → ", ",") for c in chips(page, "EP priority lists")]
        levels = chips(page, "Optimization levels")
        plan = RunPlan(ep_lists=tuple(ep_lists), levels=tuple(levels))  # as the form builds it
        want = [c.label for c in plan.matrix().configs]
        run.click()
        error = page.locator('[data-testid="stException"]')
        page.get_by_text(DONE).or_(error).first.wait_for(timeout=180_000)
        assert error.count() == 0, error.first.inner_text()
        assert page.get_by_text("This app has encountered an error").count() == 0
        done = DONE.match(page.get_by_text(DONE).inner_text())
        assert done is not None and done.groups() == (str(len(want)), "0"), done

        # One results table once the page settles (the job panel draws it again on "Done").
        expect(page.get_by_role("heading", name="Last results")).to_have_count(1, timeout=30_000)
        rows = table_rows(page, "configuration", len(want))
        assert [(r["configuration"], r["status"]) for r in rows] == [(w, "ok") for w in want]
        page.locator('[data-testid="stDataFrame"]').filter(has_text="configuration").last.evaluate(
            "el => el.scrollIntoView({block: 'center'})"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"runlab-defaults-{name}.png"))

        # The run's numbers: its exact inputs and outputs, from the Compare page's bundle.
        open_page(page, "Compare", f"Compare · {name}")
        open_tab(page, "Downloads", page.get_by_role("button", name="Session bundle"))
        bundle = read_bundle(download(page, "Session bundle"))
        assert [r.label for r in bundle.results] == want
        for result in bundle.results:
            got = result.output_values()
            plain = plain_outputs(files[0], result, bundle.inputs)
            assert set(got) == set(plain), result.label
            for out, value in plain.items():
                what = f"{name} {result.label} {out}"
                if isinstance(value, list):
                    assert len(got[out]) == len(value), what
                    for a, b in zip(got[out], value, strict=True):
                        np.testing.assert_array_equal(a, b, err_msg=what)
                else:
                    np.testing.assert_array_equal(got[out], value, err_msg=what)
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
