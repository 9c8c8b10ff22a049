"""AppTest: every page renders, opens a sample by default, and takes uploads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.factories import linear, with_external


def title(at: AppTest) -> str:
    """The page title as the browser shows it (model strings are Markdown-escaped)."""
    return at.title[0].value.replace("\\", "")


def wait_for_jobs(at: AppTest) -> None:
    """Runs are jobs that go on outside the script: wait for this session's, then rerun."""
    from inspector.run.execute.jobs import queue

    for job in queue().jobs(at.session_state["owner"]):
        assert queue().wait(job, 120)
    at.run()


def widget(at: AppTest, key: str) -> str:
    """The key of the open model's widget ``key`` (pages key per-model widgets by the model:
    ``Source.widget``)."""
    from pages.common.models import widget_key

    return widget_key(key, at.session_state["current_model"])


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_opens_on_a_sample_model():
    at = app().run()
    assert not at.exception
    assert title(at) == "mlp_gelu_layernorm.onnx"
    assert any("created a session" in s.value for s in at.success)


def test_switch_to_another_sample():
    at = app().run()
    at.selectbox(key="sample_pick").set_value("too_new_for_runtime.onnx").run()
    at.button(key="open_sample").click().run()
    assert not at.exception
    assert title(at) == "too_new_for_runtime.onnx"
    assert any("refuses the model's version stamps" in e.value for e in at.error)
    assert any("could not create a session" in e.value for e in at.error)
    # Both models stay open in this session.
    assert set(at.selectbox(key="model_pick").options) == {
        "mlp_gelu_layernorm.onnx",
        "too_new_for_runtime.onnx",
    }


def test_upload_with_external_data(tmp_path):
    path = with_external(linear(), tmp_path, "W")
    at = app().run()
    at.file_uploader(key="upload").set_value(
        [
            ("model.onnx", path.read_bytes(), "application/octet-stream"),
            ("w.bin", (tmp_path / "w.bin").read_bytes(), "application/octet-stream"),
        ]
    ).run()
    assert not at.exception
    assert title(at) == "model.onnx"
    assert any("all found in the uploaded files" in s.value for s in at.success)


def test_bad_upload_shows_a_message_and_the_app_keeps_working():
    at = app().run()
    at.file_uploader(key="upload").set_value(
        [("broken.onnx", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")]
    ).run()
    assert not at.exception
    assert any("PNG image" in e.value for e in at.error)
    pick = at.selectbox(key="model_pick")
    pick.select_index(pick.options.index("mlp_gelu_layernorm.onnx")).run()
    assert not at.exception and title(at) == "mlp_gelu_layernorm.onnx"


def test_two_models_with_the_same_name_open_side_by_side():
    """Issue 24: models are keyed by content. Every Hugging Face export is called model.onnx;
    a second one (a re-export) must open beside the first, named apart, and each stays itself."""
    first = linear(n_in=4, n_out=4).SerializeToString()
    second = linear(n_in=8, n_out=2).SerializeToString()
    at = app().run()
    for data in (first, second, first):  # the first again: the same bytes open once
        at.file_uploader(key="upload").set_value(
            [("model.onnx", data, "application/octet-stream")]
        ).run()
        assert not at.exception
    options = at.selectbox(key="model_pick").options
    same = [o for o in options if o.startswith("model.onnx")]
    assert len(options) == 3 and len(same) == 2 and len(set(same)) == 2, options
    assert all(" · " in o for o in same)  # the name with the start of its content hash
    for option in same:  # each label opens its own bytes: the inputs differ
        pick = at.selectbox(key="model_pick")
        pick.select_index(pick.options.index(option)).run()
        assert not at.exception and title(at) == option


PAGES = [
    "pages/2_Graph.py",
    "pages/3_Weights.py",
    "pages/4_Subgraphs.py",
    "pages/5_External_data.py",
    "pages/6_Run_lab.py",
    "pages/7_Compare.py",
]


def test_every_page_renders_for_every_sample():
    import pathlib

    at = app().run()
    for sample in sorted(p.name for p in (ROOT / "sample_models").glob("*.onnx")):
        at.selectbox(key="sample_pick").set_value(sample).run()
        at.button(key="open_sample").click().run()
        for page in PAGES:
            at.switch_page(page).run()
            assert not at.exception, (sample, page, at.exception)
        at.switch_page("pages/1_Overview.py").run()
    assert pathlib.Path(ROOT / "static" / "netron" / "index.html").exists()


def test_the_real_models_installed_with_the_app_open_from_the_picker():
    """The packaged real exports (pinned wheels, requirements.txt) are in the sample picker and
    render on every page; their counts fit their metric boxes (MiniLM's 22,617,344 parameters
    were cut to "22,617,…")."""
    from inspector.model.packaged import packaged_models

    at = app().run()
    for found in packaged_models():
        assert found.path, found.reason
        at.selectbox(key="sample_pick").set_value(found.model.name).run()
        at.button(key="open_sample").click().run()
        assert not at.exception, at.exception
        assert title(at) == Path(found.model.member).name
        for page in PAGES:
            at.switch_page(page).run()
            assert not at.exception, (found.model.id, page, at.exception)
        at.switch_page("pages/1_Overview.py").run()
        (params,) = [m for m in at.metric if m.label == "Parameters"]
        assert len(params.value) <= 8 and params.value[-1] in "kMG0123456789", params.value
    assert "22.6 M" in [m.value for m in at.metric if m.label == "Parameters"]  # MiniLM


def test_run_lab_then_compare():
    at = app().run()
    at.switch_page("pages/6_Run_lab.py").run()
    assert at.multiselect(key="rl_eps").value  # a default EP list is chosen
    at.multiselect(key="rl_eps").set_value(["CPU"]).run()
    at.multiselect(key="rl_levels").set_value(["basic", "all"]).run()
    at.number_input(key="rl_runs").set_value(3).run()
    at.button(key="rl_go").click().run()
    assert not at.exception
    wait_for_jobs(at)
    table = at.dataframe[-1].value
    labels = [row for row in table["configuration"]]
    assert labels == ["reference · CPU · disable_all", "CPU · basic", "CPU · all"]
    # Each median with its spread, why timing stopped, and the verdict against the reference.
    assert all(str(x).startswith("±") for x in table["± (95 % interval)"])
    assert all("3 runs" in str(x) for x in table["timing"])
    assert table["vs reference"][0] == "" and all("×" in str(x) for x in table["vs reference"][1:])
    at.switch_page("pages/7_Compare.py").run()
    assert not at.exception and title(at).startswith("Compare")
    assert any("max_abs" in df.value.columns for df in at.dataframe)
    assert any("Per-node changes beyond noise" in m.value for m in at.markdown)


def test_a_dim_changes_the_shapes_the_run_uses_unless_one_was_typed():
    """A symbolic dim set on the Run lab reaches its inputs' shape fields and the run: the
    fields once kept their first shape ("1,16" after sequence = 48), which then counted as
    a typed override and the run went at 16. Shapes the user typed still win."""
    from inspector.run.execute.jobs import MATRIX, queue

    def run_shapes() -> dict[str, tuple[int, ...]]:
        at.button(key="rl_go").click().run()
        assert not at.exception
        wait_for_jobs(at)
        job = queue().jobs(at.session_state["owner"], kind=MATRIX)[-1]
        assert job.state == "done", job.error
        return {k: v.shape for k, v in job.inputs.items()}

    at = app().run()
    at.selectbox(key="sample_pick").set_value("dynamic_axes_transformer_block.onnx").run()
    at.button(key="open_sample").click().run()
    at.switch_page("pages/6_Run_lab.py").run()
    at.multiselect(key="rl_eps").set_value(["CPU"]).run()
    at.multiselect(key="rl_levels").set_value(["all"]).run()
    fields = lambda: [t for t in at.text_input if t.label == "shape"]  # noqa: E731
    assert [t.value for t in fields()] == ["1,16", "1,16"]
    at.number_input(key=widget(at, "rl_dim_sequence")).set_value(48).run()
    assert [t.value for t in fields()] == ["1,48", "1,48"]
    assert run_shapes() == {"input_ids": (1, 48), "attention_mask": (1, 48)}
    for t in fields():
        t.set_value("1,8")
    at.run()
    assert run_shapes() == {"input_ids": (1, 8), "attention_mask": (1, 8)}
    # The typed shapes were typed over "1,48": new dims give the inputs new shapes (the saved
    # form once brought "1,8" back under the new key).
    at.number_input(key=widget(at, "rl_dim_sequence")).set_value(32).run()
    assert [t.value for t in fields()] == ["1,32", "1,32"]
    assert run_shapes() == {"input_ids": (1, 32), "attention_mask": (1, 32)}


def test_the_run_lab_form_starts_afresh_for_another_model_opened_on_it():
    """Streamlit keeps a keyed widget's value whatever default comes next (the browser sends
    it back too): opening the sample on the Run lab after MiniLM kept MiniLM's id range
    0..30521 for the sample's 100-row embedding table — every configuration failed on its
    Gather — and its dims and input files. Those widgets are the model's own now
    (Source.widget)."""
    from inspector.model.packaged import packaged_models
    from inspector.run.execute.jobs import MATRIX, queue

    minilm = next(f for f in packaged_models() if "minilm" in f.model.id.lower())
    assert minilm.path, minilm.reason
    at = app().run()
    at.selectbox(key="sample_pick").set_value(minilm.model.name).run()
    at.button(key="open_sample").click().run()
    at.switch_page("pages/6_Run_lab.py").run()
    highs = lambda: [n.value for n in at.number_input if n.label == "high"]  # noqa: E731
    assert 30521.0 in highs()
    at.number_input(key=widget(at, "rl_dim_sequence")).set_value(24).run()
    at.file_uploader(key=widget(at, "rl_files")).set_value(
        [("input_ids.npy", _npy(np.ones((1, 24), np.int64)), "application/octet-stream")]
    ).run()
    assert highs() == []  # the file replaces the generated inputs
    at.selectbox(key="sample_pick").set_value("dynamic_axes_transformer_block.onnx").run()
    at.button(key="open_sample").click().run()
    assert title(at) == "Run lab · dynamic_axes_transformer_block.onnx"
    # The sample's own sizes and ranges, no files.
    assert highs() == [99.0, 1.0]
    assert at.number_input(key=widget(at, "rl_dim_sequence")).value == 16
    at.multiselect(key="rl_eps").set_value(["CPU"]).run()
    at.multiselect(key="rl_levels").set_value(["all"]).run()
    at.button(key="rl_go").click().run()
    wait_for_jobs(at)
    job = queue().jobs(at.session_state["owner"], kind=MATRIX)[-1]
    assert job.state == "done" and all(r.ok for r in job.results), [r.error for r in job.results]
    assert {k: v.shape for k, v in job.inputs.items()} == {
        "input_ids": (1, 16),
        "attention_mask": (1, 16),
    }
    assert int(job.inputs["input_ids"].max()) <= 99


def _npy(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_compare_analyses_belong_to_the_runs_they_analysed():
    """The first-divergence answer says the tolerances it searched with (and that the page's
    are others once they change), and a new matrix under the same labels — other dims,
    ranges or EP options — no longer shows, or bundles, the old runs' answer."""
    at = app().run()
    at.switch_page("pages/6_Run_lab.py").run()
    at.multiselect(key="rl_eps").set_value(["CPU"]).run()
    at.button(key="rl_go").click().run()
    wait_for_jobs(at)
    at.switch_page("pages/7_Compare.py").run()
    at.button(key="cmp_fd").click().run()
    wait_for_jobs(at)
    captions = lambda: [c.value.replace("\\", "") for c in at.caption]  # noqa: E731
    assert "searched at atol 1.0e-05, rtol 1.0e-03" in captions(), captions()
    at.number_input(key="cmp_atol").set_value(0.01).run()
    assert any("not the tolerances above" in c for c in captions())
    at.switch_page("pages/6_Run_lab.py").run()
    at.button(key="rl_go").click().run()
    wait_for_jobs(at)
    at.switch_page("pages/7_Compare.py").run()
    assert not any(c.startswith("searched at") for c in captions())
    assert not at.exception


def test_run_lab_refuses_bad_session_config_line():
    at = app().run()
    at.switch_page("pages/6_Run_lab.py").run()
    at.text_area(key="rl_extra").set_value("no equals sign here").run()
    at.button(key="rl_go").click().run()
    assert not at.exception and any("must be key=value" in e.value for e in at.error)


def test_model_strings_are_not_rendered_as_markdown():
    from tests.factories import linear

    m = linear()
    m.producer_name = "![beacon](http://evil.example/x.png) **bold**"
    at = app().run()
    at.file_uploader(key="upload").set_value(
        [("[link](javascript:alert(1)).onnx", m.SerializeToString(), "application/octet-stream")]
    ).run()
    assert not at.exception
    caption = at.caption[0].value
    assert "\\!\\[beacon\\]" in caption and "\\*\\*bold\\*\\*" in caption
    assert at.title[0].value.startswith("\\[link\\]")


def test_folder_upload_resolves_companions_relative_to_each_model(tmp_path):
    from tests.factories import linear, with_external

    path = with_external(linear(), tmp_path, "W", location="weights/w.bin", write=False)
    data = path.read_bytes()
    w = linear().graph.initializer[0].raw_data
    at = app().run()
    at.file_uploader(key="upload_dir").set_value(
        [
            ("export/model.onnx", data, "application/octet-stream"),
            ("export/weights/w.bin", w, "application/octet-stream"),
            ("export/notes.txt", b"hello", "text/plain"),
        ]
    ).run()
    assert not at.exception
    assert title(at) == "model.onnx"
    assert any("all found in the uploaded files" in s.value for s in at.success)
    assert any("notes.txt" in t.value for t in at.text)


def test_folder_upload_with_a_traversal_name_is_refused_with_a_message():
    from tests.factories import linear

    at = app().run()
    at.file_uploader(key="upload_dir").set_value(
        [
            ("export/model.onnx", linear().SerializeToString(), "application/octet-stream"),
            ("export/../secret.bin", b"x", "application/octet-stream"),
        ]
    ).run()
    assert not at.exception
    assert any("'..' path component" in e.value.replace("\\", "") for e in at.error)


def test_close_a_model():
    at = app().run()
    at.selectbox(key="sample_pick").set_value("cnn_conv_bn_relu.onnx").run()
    at.button(key="open_sample").click().run()
    assert title(at) == "cnn_conv_bn_relu.onnx"
    at.button(key="close_model").click().run()
    assert not at.exception
    assert at.selectbox(key="model_pick").options == ["mlp_gelu_layernorm.onnx"]
    assert title(at) == "mlp_gelu_layernorm.onnx"


def test_same_bytes_under_another_name_show_that_name_not_the_first_users():
    """The parse cache is shared by every session; the file name is part of its key."""
    data = linear(seed=7).SerializeToString()
    alice = app().run()
    alice.file_uploader(key="upload").set_value(
        [("alice_private_model.onnx", data, "application/octet-stream")]
    ).run()
    assert title(alice) == "alice_private_model.onnx"
    bob = app().run()
    bob.file_uploader(key="upload").set_value(
        [("bob_model.onnx", data, "application/octet-stream")]
    ).run()
    assert not bob.exception
    assert title(bob) == "bob_model.onnx"
    for page in ("pages/2_Graph.py", "pages/3_Weights.py", "pages/6_Run_lab.py"):
        bob.switch_page(page).run()
        assert "alice" not in title(bob), page


def test_run_lab_refuses_an_ep_option_off_the_allow_list():
    at = app().run()
    at.switch_page("pages/6_Run_lab.py").run()
    at.text_area(key="rl_ep_opts").set_value("openvino:cache_dir=/tmp/x").run()
    at.button(key="rl_go").click().run()
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]  # Markdown-escaped on screen
    assert any("option 'cache_dir' is not on the run lab's allow-list" in e for e in errors)


def test_a_session_cannot_hold_more_than_its_upload_quota(monkeypatch):
    """Issue 16: a per-session quota on stored uploads."""
    from dataclasses import replace

    from inspector import limits

    small = replace(limits.DEFAULT_LIMITS, max_session_upload_bytes=3000)
    monkeypatch.setattr("pages.common.server.LIMITS", small)
    at = app().run()
    data = linear(n_in=8, n_out=8).SerializeToString()  # ~500 bytes each
    for i in range(8):
        at.file_uploader(key="upload").set_value(
            [(f"m{i}.onnx", data + bytes(0), "application/octet-stream")]
        ).run()
    assert not at.exception
    opened = at.selectbox(key="model_pick").options
    assert len(opened) < 9  # the sample plus what fits
    assert any("quota" in w.value for w in at.warning)


def test_a_bundle_made_on_another_version_of_the_open_model_says_so():
    """A bundle without its model, dropped while a *different* file of the same name is open
    (a re-export): refused with both hashes named, nothing opened, the app keeps working."""
    import hashlib

    import numpy as np

    from inspector import load_model
    from inspector.bundle import write_bundle
    from inspector.run.execute.runner import run_matrix
    from inspector.run.setup.config import Matrix, RunConfig
    from tests.factories import linear

    old = linear().SerializeToString()
    m = load_model(old, {}, name="model.onnx")
    cfg = RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0)
    feeds = {"x": np.ones((1, 4), np.float32)}
    results = run_matrix(m, Matrix((cfg,)), feeds)
    bundle = write_bundle(m, results, feeds, model_bytes=old)
    new = linear(seed=1).SerializeToString()
    at = app().run()
    at.file_uploader(key="upload").set_value(
        [("model.onnx", new, "application/octet-stream")]
    ).run()
    at.file_uploader(key="upload").set_value([("session.zip", bundle, "application/zip")]).run()
    assert not at.exception
    text = " ".join(e.value for e in at.error).replace("\\", "")  # Markdown-escaped
    assert "its runs were made on another model.onnx" in text
    assert hashlib.sha256(old).hexdigest()[:12] in text
    assert hashlib.sha256(new).hexdigest()[:12] in text
    assert title(at) == "model.onnx"


def test_the_overview_load_check_waits_in_the_run_queue_then_shows_the_verdict():
    """Issue 22: the load check is a job in the run queue. With every slot taken the Overview
    draws at once, says the check is waiting, and shows ONNX Runtime's verdict once it ran."""
    import uuid

    import numpy as np

    from inspector import load_model
    from inspector.run.execute.jobs import MatrixRun, queue
    from inspector.run.execute.loadcheck import LOAD_CHECK
    from inspector.run.setup.config import Matrix, RunConfig
    from tests.factories import endless_loop

    at = app().run()  # the default sample's check, while slots are free
    q = queue()
    loop = load_model(endless_loop().SerializeToString(), name="loop.onnx")
    endless = Matrix((RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0, label="endless"),))
    feeds = {"x": np.ones(1, np.float32)}
    blockers = [
        q.submit("someone-else", "k", MatrixRun(loop, endless, feeds)) for _ in range(q.slots)
    ]
    name = f"busy-{uuid.uuid4().hex[:8]}.onnx"  # a model no earlier test has checked
    try:
        at.file_uploader(key="upload").set_value(
            [(name, linear(seed=11).SerializeToString(), "application/octet-stream")]
        ).run()
        assert not at.exception and title(at) == name
        assert any("waiting for a free slot" in i.value for i in at.info)
        assert not any("created a session" in s.value for s in at.success)
        assert any("load check has not finished" in c.value for c in at.caption)
        (check,) = [j for j in q.jobs(at.session_state["owner"], kind=LOAD_CHECK) if j.active]
        assert check.state == "queued"
    finally:
        for b in blockers:
            q.cancel(b.id)
    wait_for_jobs(at)
    assert not at.exception
    assert any("created a session" in s.value for s in at.success)
    assert not any("load check has not finished" in c.value for c in at.caption)


def test_run_lab_widgets_follow_the_deployments_limits():
    """Issue 22: INSPECTOR_LIMIT_RUN_TIMEOUT_S=60 was ignored (the widget allowed 3,600 s). A
    fresh interpreter, so the page reads LIMITS from this environment as a server does."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json; from streamlit.testing.v1 import AppTest; "
        "at = AppTest.from_file('app.py', default_timeout=60).run(); "
        "at.switch_page('pages/6_Run_lab.py').run(); "
        "w = {k: at.number_input(key=k) for k in ('rl_timeout', 'rl_prof', 'rl_thr', "
        "'rl_budget')}; "
        "print(json.dumps({'exception': bool(at.exception), "
        "**{k: [v.max, v.value] for k, v in w.items()}}))"
    )
    env = {
        **os.environ,
        "INSPECTOR_LIMIT_RUN_TIMEOUT_S": "60",
        "INSPECTOR_LIMIT_MAX_PROFILED_RUNS": "4",
        "INSPECTOR_LIMIT_MAX_THREADS": "2",
        "INSPECTOR_LIMIT_MAX_TIME_BUDGET_S": "5",
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["exception"]
    assert got["rl_timeout"] == [60, 60]  # max = the limit, default = min(300, limit)
    assert got["rl_prof"] == [4, 4]  # default 5 → 4
    assert got["rl_thr"] == [2, 1]
    assert got["rl_budget"] == [5, 5]  # default 10 s → 5


def test_run_lab_runs_a_model_with_a_string_input():
    """The page reused one name for the EP choices and a string input's values: a model with
    a string input crashed on 'Run the matrix'."""
    from tests.factories import string_pipeline

    at = app().run()
    at.file_uploader(key="upload").set_value(
        [("strings.onnx", string_pipeline().SerializeToString(), "application/octet-stream")]
    ).run()
    at.switch_page("pages/6_Run_lab.py").run()
    assert not at.exception
    at.text_input(key=widget(at, "rl_val_sex")).set_value("male,female,other").run()
    at.multiselect(key="rl_eps").set_value(["CPU"]).run()
    at.multiselect(key="rl_levels").set_value(["all"]).run()
    at.number_input(key="rl_runs").set_value(2).run()
    at.button(key="rl_go").click().run()
    assert not at.exception
    wait_for_jobs(at)
    assert not at.exception
    assert list(at.dataframe[-1].value["status"]) == ["ok", "ok"]


@pytest.mark.browser
def test_in_a_browser_the_overview_shows_the_verdict_once_a_slot_frees(tmp_path):
    """Issue 22, in Chromium (AppTest does not tick fragments): on a one-slot server busy with
    an endless Loop, a newly dropped model's Overview says its load check waits, then shows
    ONNX Runtime's verdict by itself once the run's worker is killed at the timeout."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, streamlit_server
    from tests.factories import endless_loop
    from tests.test_browser import drop_model_files

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    loop, fresh = tmp_path / "loop.onnx", tmp_path / "waits.onnx"
    loop.write_bytes(endless_loop().SerializeToString())
    fresh.write_bytes(linear(seed=12).SerializeToString())
    env = {"INSPECTOR_LIMIT_MAX_CONCURRENT_RUNS": "1", "INSPECTOR_LIMIT_RUN_TIMEOUT_S": "8"}
    with streamlit_server(env=env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("created a session for it").wait_for(timeout=60_000)
        drop_model_files(page, [str(loop)])
        page.get_by_role("heading", name="loop.onnx").wait_for(timeout=60_000)
        page.get_by_role("link", name="Run lab").click()
        page.get_by_role("button", name="Run the matrix").click()
        page.get_by_text("— running").first.wait_for(timeout=60_000)  # the slot is taken
        drop_model_files(page, [str(fresh)])
        page.get_by_role("heading", name="waits.onnx").wait_for(timeout=60_000)
        page.get_by_role("link", name="Overview").click()
        page.get_by_role("heading", name="waits.onnx", exact=True).wait_for(timeout=60_000)
        page.get_by_text("waiting for a free slot").wait_for(timeout=30_000)
        assert page.get_by_text("created a session for it").count() == 0
        page.get_by_text("created a session for it").wait_for(timeout=120_000)  # no reload
        page.get_by_text("waiting for a free slot").wait_for(state="detached", timeout=10_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()
