"""Issue 13 (bundle, library part): session → bundle → re-open → identical records; the same
safety rules as uploads."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from inspector import load_model
from inspector.bundle import BundleError, read_bundle, write_bundle
from inspector.errors import InspectorError
from inspector.run.execute.runner import run_matrix
from inspector.run.setup.config import RunConfig, expand_matrix
from inspector.run.setup.demo import demo_ep
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    model = load_model(SAMPLES / "ep_fallback_det.onnx")
    second = demo_ep()
    eps = ([f"{second.name},cpu"] if second else []) + ["cpu"]
    matrix = expand_matrix(eps, ["all"], base=RunConfig(timed_runs=3, profiled_runs=1))
    inputs = {"x": np.random.default_rng(0).standard_normal((2, 4, 4)).astype(np.float32)}
    return model, tuple(run_matrix(model, matrix, inputs)), inputs


def test_a_bundle_reopens_to_identical_records(session):
    model, results, inputs = session
    b = read_bundle(write_bundle(model, results, inputs, include_model=True))
    assert b.results == results  # every field of every record (private arrays compared below)
    for r, back in zip(results, b.results, strict=True):
        assert back.to_dict() == r.to_dict()
        assert back.profile_trace() == r.profile_trace()
        for name, arr in r.output_arrays().items():
            assert np.array_equal(back.output_arrays()[name], arr)
    assert np.array_equal(b.inputs["x"], inputs["x"])
    assert b.model_name == "ep_fallback_det.onnx" and set(b.model_files) == {"ep_fallback_det.onnx"}
    assert load_model(b.model_files["ep_fallback_det.onnx"], {}).proto == model.proto
    assert b.environment["onnxruntime"] and b.environment["cpu"]


def test_analyses_travel_with_the_runs(session):
    """First divergence and an ablation made on the runs re-open equal, field by field."""
    from inspector.bundle import Analysis, about
    from inspector.run.analyses.analysis import ablation, first_divergence

    model, results, inputs = session
    ref, cand = results[0], results[-1]
    fd = first_divergence(model, ref, cand, inputs, atol=1e-6, rtol=0)
    rows = ablation(
        model, replace(cand.config, timed_runs=3), inputs, ["ConstantFolding", "NotAPass"]
    )
    made = (
        Analysis("divergence", about("divergence", ref.label, cand.label), fd),
        Analysis("ablation", about("ablation", ref.label, cand.label), rows),
    )
    b = read_bundle(write_bundle(model, results, inputs, analyses=made))
    assert b.analyses == made and not b.skipped
    assert b.analyses[0].value.to_dict() == fd.to_dict()
    assert [r.disabled for r in b.analyses[1].value] == [
        "",
        "ConstantFolding",
        "NotAPass",
        "(baseline again)",
    ]
    if fd.found:  # a second EP here: the error record (an OutputDelta) came back too
        assert b.analyses[0].value.error == fd.error and fd.error.max_abs > 0

    # A kind a newer writer added is skipped with a note; the runs still open.
    newer = _manifest(
        write_bundle(model, results, inputs, analyses=made[:1]),
        lambda m: m["analyses"].append({"kind": "quantum", "about": "x", "value": {}}),
    )
    b = read_bundle(newer)
    assert [a.kind for a in b.analyses] == ["divergence"]
    assert b.skipped == ("an analysis of kind 'quantum' (not known to this version)",)
    # A damaged analysis of a known kind is refused by name.
    bad = _manifest(
        write_bundle(model, results, inputs, analyses=made[:1]),
        lambda m: m["analyses"][0]["value"].update(found="yes"),
    )
    with pytest.raises(BundleError, match="divergence analysis in the bundle cannot be read"):
        read_bundle(bad)


def _rewrite(data: bytes, member: str, change) -> bytes:  # type: ignore[no-untyped-def]
    """``data`` with one member replaced by ``change(its bytes)``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            payload = src.read(info.filename)
            z.writestr(info.filename, change(payload) if info.filename == member else payload)
    return out.getvalue()


def _manifest(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    def edit(payload: bytes) -> bytes:
        manifest = json.loads(payload)
        change(manifest)
        return json.dumps(manifest).encode()

    return _rewrite(data, "manifest.json", edit)


def test_hostile_bundles_are_refused_with_a_reason(session):
    model, results, inputs = session
    good = write_bundle(model, results, inputs)
    with pytest.raises(BundleError, match="not a zip"):
        read_bundle(b"hello")
    with pytest.raises(BundleError, match="newer ONNX Inspector"):
        read_bundle(_manifest(good, lambda m: m.update(version=99)))
    with pytest.raises(BundleError, match="wrong format"):
        read_bundle(_manifest(good, lambda m: m.update(format="other")))

    def path_key(m):  # type: ignore[no-untyped-def]
        m["results"][0]["config"]["session_config"] = [["optimized_model_filepath", "/tmp/x"]]

    with pytest.raises(BundleError, match="optimized_model"):  # the allow-list runs again
        read_bundle(_manifest(good, path_key))
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("manifest.json", "{}")
        z.writestr("../../etc/cron.d/x", "boom")
    with pytest.raises(BundleError, match="unexpected members"):
        read_bundle(evil.getvalue())
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zz:
        zz.writestr("x.npy", pickled.getvalue())
    bad_inputs = _rewrite(good, "inputs.npz", lambda _payload: inner.getvalue())
    with pytest.raises(InspectorError, match="pickled"):
        read_bundle(bad_inputs)


def test_the_cli_bundles_opens_and_reruns_side_by_side(tmp_path, capsys):
    from inspector.cli import main

    out = tmp_path / "session.zip"
    model = str(SAMPLES / "ep_fallback_det.onnx")
    argv = ["bundle", model, "-o", str(out), "--runs", "2", "--profiled-runs", "1"]
    assert main([*argv, "--include-model"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["open", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "ep_fallback_det.onnx" and doc["results"][0]["status"] == "ok"
    assert main(["open", str(out), "--rerun", model]) == 0
    text = capsys.readouterr().out
    assert "Re-run here:" in text and "here/bundled" in text
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04broken")
    assert main(["open", str(tmp_path / "bad.zip")]) == 1
    assert "not an ONNX Inspector bundle" in capsys.readouterr().err


@pytest.mark.browser
def test_a_bundle_dropped_in_the_app_reopens_and_reruns_beside(session, tmp_path):
    from tests.browser import app_with_files, download, open_page
    from tests.test_browser import shot

    model, results, inputs = session
    path = tmp_path / "teammate-session.zip"
    path.write_bytes(write_bundle(model, results, inputs, include_model=True))
    with app_with_files([str(path)], "ep_fallback_det.onnx") as (_url, _browser, page):
        page.get_by_text(f"Opened a bundle: {len(results)} runs of ep_fallback_det.onnx").wait_for()
        open_page(page, "Compare", "Compare · ep_fallback_det.onnx")
        page.get_by_text("Latency per configuration").wait_for(timeout=60_000)  # no re-run
        open_page(page, "Run lab", "Run lab · ep_fallback_det.onnx")
        page.get_by_text("Runs bundled").wait_for(timeout=60_000)
        page.get_by_role("button", name="Re-run here").click()
        page.get_by_text(f"Re-run here done: {len(results)} ok, 0 failed").first.wait_for(
            timeout=120_000
        )
        open_page(page, "Compare", "Compare · ep_fallback_det.onnx")
        page.get_by_text("here · CPU · all").first.wait_for(timeout=60_000)  # beside the bundled
        shot(page, "bundle-rerun-compare")
        page.get_by_role("tab", name="Downloads").click()
        # One click (issue 24: a click that also re-ran the page could lose the file's answer
        # and leave the button disabled for good).
        again = read_bundle(download(page, "Session bundle"))
        assert len(again.results) == 2 * len(results)
        assert [r.label for r in again.results[: len(results)]] == [r.label for r in results]
        assert page.locator('[data-testid="stException"]').count() == 0


def test_the_cli_compare_bundles_its_analyses(tmp_path, capsys):
    """`compare --first-divergence --ablation --bundle/--report`: 'open' shows the same
    analyses without re-running, and the report has a section for each."""
    from inspector.cli import main

    out, report = tmp_path / "cmp.zip", tmp_path / "cmp.html"
    model = str(SAMPLES / "mlp_gelu_layernorm.onnx")
    argv = ["compare", model, "--ref", "cpu@disable_all", "--cand", "cpu@all", "--runs", "2"]
    argv += ["--first-divergence", "--ablation", "--ablation-pass", "GeluFusionL1"]
    assert main([*argv, "--bundle", str(out), "--report", str(report)]) == 0
    made = capsys.readouterr().out
    b = read_bundle(out.read_bytes())
    assert [a.kind for a in b.analyses] == ["divergence", "ablation"]
    assert b.analyses[0].about == "ref · CPU · disable_all → cand · CPU · all"
    assert [r.disabled for r in b.analyses[1].value][1] == "GeluFusionL1"
    assert main(["open", str(out)]) == 0
    shown = capsys.readouterr().out
    for block in ("First divergence (", "Ablation ("):
        assert block in made and block in shown
    # the divergence lines are identical: the bundle holds the record, nothing re-ran
    pick = [ln for ln in made.splitlines() if ln.startswith("  main:") or "none found" in ln]
    assert pick and all(ln in shown for ln in pick)
    html_text = report.read_text(encoding="utf-8")
    assert "First divergence: ref · CPU · disable_all → cand · CPU · all" in html_text
    assert "Optimizer ablation of cand · CPU · all" in html_text and "GeluFusionL1" in html_text


def test_a_bundles_analyses_stay_beside_its_runs_when_they_are_re_run_here(session):
    """AppTest: Compare shows only analyses of the runs shown — queued after the latest
    matrix — but a re-run of a bundle shows the bundle's runs beside its own, so the bundle's
    first divergence stays (on Compare and in the bundle downloaded)."""
    from streamlit.testing.v1 import AppTest

    from inspector.bundle import Analysis, about
    from inspector.run.analyses.analysis import first_divergence
    from tests.conftest import ROOT
    from tests.test_app import wait_for_jobs

    model, results, inputs = session
    ref, cand = results[0], results[-1]
    fd = first_divergence(model, ref, cand, inputs, atol=1e-6, rtol=0)
    made = (Analysis("divergence", about("divergence", ref.label, cand.label), fd),)
    data = write_bundle(model, results, inputs, include_model=True, analyses=made)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.file_uploader(key="upload").set_value([("runs.zip", data, "application/zip")]).run()
    at.switch_page("pages/7_Compare.py").run()
    pick = lambda: (  # noqa: E731
        at.selectbox(key="cmp_ref").set_value(ref.label).run(),
        at.selectbox(key="cmp_cand").set_value(cand.label).run(),
    )
    pick()
    searched = "searched at atol 1.0e-06, rtol 0.0e+00"
    captions = lambda: [c.value.replace("\\", "") for c in at.caption]  # noqa: E731
    assert any(c.startswith(searched) for c in captions()), captions()
    at.switch_page("pages/6_Run_lab.py").run()
    at.button(key="rerun_bundle").click().run()
    wait_for_jobs(at)
    at.switch_page("pages/7_Compare.py").run()
    assert any(label.startswith("here · ") for label in at.selectbox(key="cmp_cand").options)
    pick()
    assert not at.exception
    assert any(c.startswith(searched) for c in captions()), captions()


@pytest.mark.browser
def test_analyses_run_as_jobs_survive_navigation_and_travel_in_bundles(session, tmp_path):
    """First divergence runs in the job queue: leaving the page mid-run loses nothing; an
    ablation can be cancelled; the bundle downloaded then carries the divergence, and a
    colleague's fresh session shows it on Compare without re-running."""
    from tests.browser import app_with_files, download, open_page, open_tab
    from tests.test_browser import drop_model_files, shot

    model, results, inputs = session
    path = tmp_path / "runs-only.zip"
    path.write_bytes(write_bundle(model, results, inputs, include_model=True))
    verdict = re.compile(r"First divergence: main:\d|No intermediate tensor .*diverges")
    with app_with_files([str(path)], "ep_fallback_det.onnx") as (url, browser, page):
        open_page(page, "Compare", "Compare · ep_fallback_det.onnx")
        page.get_by_text("Latency per configuration").wait_for(timeout=60_000)  # drawn
        open_tab(page, "Outputs", page.get_by_role("button", name="Find the first diverging node"))
        page.get_by_role("button", name="Find the first diverging node").click()
        page.get_by_text("Re-running both configurations").first.wait_for(timeout=30_000)
        open_page(page, "Overview", "ep_fallback_det.onnx")  # leave mid-run
        open_page(page, "Compare", "Compare · ep_fallback_det.onnx")
        open_tab(page, "Outputs", page.get_by_text(verdict).first, timeout=120_000)
        found = page.get_by_text(verdict).first.inner_text()
        page.get_by_role("button", name="Ablate optimizer passes of the candidate").click()
        page.get_by_role("button", name="Cancel").first.click(timeout=30_000)
        page.get_by_text("Cancelled (its worker was stopped).").first.wait_for(timeout=60_000)
        page.get_by_text("Cancelled (its worker was stopped).").first.scroll_into_view_if_needed()
        shot(page, "compare-analysis-jobs")
        page.get_by_role("tab", name="Downloads").click()
        data = download(page, "Session bundle")
        again = read_bundle(data)
        assert [a.kind for a in again.analyses] == ["divergence"]  # the cancelled one is not
        assert page.locator('[data-testid="stException"]').count() == 0

        colleague = browser.new_page(viewport={"width": 1400, "height": 1000})
        shared = tmp_path / "with-analyses.zip"
        shared.write_bytes(data)
        colleague.goto(url)
        colleague.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        drop_model_files(colleague, [str(shared)])
        colleague.get_by_text("and 1 analyses of ep_fallback_det.onnx").wait_for(timeout=30_000)
        open_page(colleague, "Compare", "Compare · ep_fallback_det.onnx")
        open_tab(colleague, "Outputs", colleague.get_by_text("From the bundle:").first)
        assert colleague.get_by_text(verdict).first.inner_text() == found
        colleague.get_by_text("From the bundle:").first.scroll_into_view_if_needed()
        shot(colleague, "compare-bundled-divergence")
        assert colleague.locator('[data-testid="stException"]').count() == 0


# ---------------------------------------------------------------- hostile bundles (issue 22)


def _zeros_npz(members: dict[str, int]) -> bytes:
    """An .npz whose members are float32 zero arrays of the given byte sizes, deflated while
    streamed (never held): a few MB on disk for GiBs unpacked."""
    buf = io.BytesIO()
    chunk = bytes(16 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, size in members.items():
            with z.open(f"{name}.npy", "w", force_zip64=True) as fh:
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    header, {"descr": "<f4", "fortran_order": False, "shape": (size // 4,)}
                )
                fh.write(header.getvalue())
                for start in range(0, size, len(chunk)):
                    fh.write(chunk[: min(len(chunk), size - start)])
    return buf.getvalue()


def _members(data: bytes, extra: dict[str, bytes]) -> bytes:
    """``data`` with members added or replaced."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename not in extra:
                z.writestr(info.filename, src.read(info.filename))
        for name, payload in extra.items():
            z.writestr(name, payload)
    return out.getvalue()


def _many_members(count: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("manifest.json", "{}")
        for i in range(count):
            z.writestr(f"profiles/{i % 9999}.json" if i < 9999 else f"model/m{i}", b"")
    return out.getvalue()


def _deep_manifest(data: bytes) -> bytes:
    return _rewrite(data, "manifest.json", lambda _p: b"[" * 200_000 + b"]" * 200_000)


def _wide_manifest(data: bytes) -> bytes:  # ~40 MB of empty lists: ~900 MB once parsed
    return _rewrite(data, "manifest.json", lambda _p: b"[" + b"[]," * 13_000_000 + b"[]]")


def _nested_manifest(data: bytes) -> bytes:  # parses, but nests far deeper than a manifest
    def edit(payload: bytes) -> bytes:
        m = json.loads(payload)
        m["environment"] = json.loads("[" * 500 + "]" * 500)
        return json.dumps(m).encode()

    return _rewrite(data, "manifest.json", edit)


def _wrong_model(data: bytes) -> bytes:
    return _rewrite(data, "model/ep_fallback_det.onnx", lambda p: p + b"\x00")


def _output_bomb(data: bytes) -> bytes:
    """The measured attack: every result's outputs 256 MiB of zeros and a 1 GiB inputs.npz,
    2–3 MB packed (took the server from 197 MiB to 2.5 GiB per drop)."""
    bomb = _zeros_npz({"y": 256 << 20})
    outputs = {f"outputs/{i}.npz": bomb for i in range(2)}
    return _members(data, {**outputs, "inputs.npz": _zeros_npz({"x": 1 << 30})})


#: Hostile bundle families → the reason the refusal must give.
BUNDLE_CASES = {
    "npz_bomb": (_output_bomb, "unpack to"),
    "manifest_too_big": (_wide_manifest, "unpacks to .* bytes \\(limit 33,554,432"),
    "manifest_too_deep": (_deep_manifest, "nests too deeply"),
    "manifest_nested": (_nested_manifest, "nests deeper than 64"),
    "too_many_members": (lambda _d: _many_members(5_000), "holds 5,001 entries"),
    "model_hash_mismatch": (_wrong_model, "not the model its runs were made on"),
}


@pytest.fixture(scope="module")
def hostile(session):  # type: ignore[no-untyped-def]
    model, results, inputs = session
    good = write_bundle(model, results, inputs, include_model=True)
    return {name: make(good) for name, (make, _why) in BUNDLE_CASES.items()}


class TestHostileBundles:
    """Each level of a bundle is bounded before it is decoded (issue 22: a 2.2 MB bundle took
    the server to 2.5 GiB, a 200 MB manifest to 5 GB)."""

    @pytest.mark.parametrize("case", sorted(BUNDLE_CASES))
    def test_refused_by_the_library_with_the_reason_and_little_memory(self, hostile, case):
        import tracemalloc

        data = hostile[case]
        tracemalloc.start()
        try:
            with pytest.raises(InspectorError, match=BUNDLE_CASES[case][1]):
                read_bundle(data)
            _now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # packed bytes and one parsed manifest at most, never the unpacked arrays
        assert peak < 64 * 2**20 + 3 * len(data), f"{case}: peak {peak:,} bytes"

    @pytest.mark.parametrize("case", sorted(BUNDLE_CASES))
    def test_refused_by_the_cli_with_exit_1_and_no_traceback(self, hostile, case, tmp_path):
        import subprocess
        import sys

        path = tmp_path / f"{case}.zip"
        path.write_bytes(hostile[case])
        proc = subprocess.run(
            [sys.executable, "-m", "inspector.cli", "open", str(path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        assert re.search(BUNDLE_CASES[case][1], proc.stderr), proc.stderr

    def test_a_session_quota_bounds_a_bundle_below_its_own_limit(self, session):
        model, results, inputs = session
        good = write_bundle(model, results, inputs, include_model=True)
        assert read_bundle(good).decoded_bytes > 1000
        with pytest.raises(BundleError, match="what this session may still hold"):
            read_bundle(good, quota_bytes=1000)

    def test_an_entry_count_is_read_before_the_directory(self):
        from inspector.archives import entry_count

        assert entry_count(_many_members(70_000)) == 70_001  # zip64 end record
        assert entry_count(b"PK\x03\x04 nothing") is None


class _Beacon:
    """A local HTTP server that counts requests: any hit means the page loaded a bundle's
    string as an image or followed it as a link."""

    def __enter__(self) -> _Beacon:
        import http.server
        import threading

        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.mark.browser
def test_strings_from_a_bundle_are_shown_as_text_on_every_page(session, tmp_path):
    """Issue 22: labels, EP names, notes and environment strings of a shared bundle reached
    Markdown (an image loaded from another host, a live "Sign in again" link). Every page that
    shows a bundle's runs shows them as text: no request leaves, no link is drawn."""
    from tests.browser import app_with_files, open_page, open_tab
    from tests.test_browser import shot

    model, results, inputs = session
    with _Beacon() as beacon:
        host = f"http://127.0.0.1:{beacon.port}"

        def evil(i: int) -> str:
            return (
                f"![b{i}]({host}/img{i}.png) [Sign in again]({host}/login{i}) <img src={host}/h{i}>"
            )

        def inject(m):  # type: ignore[no-untyped-def]
            for i, r in enumerate(m["results"]):
                r["label"] = r["config"]["label"] = evil(i)
                r["notes"] = [evil(10 + i)]
                r["fallback"]["requested_inactive"] = [evil(20 + i)]
            m["environment"]["cpu"] = evil(30)
            m["created"] = evil(31)

        path = tmp_path / "shared.zip"
        good = write_bundle(model, results, inputs, include_model=True)
        path.write_bytes(_manifest(good, inject))
        with app_with_files([str(path)], "ep_fallback_det.onnx") as (_url, _browser, page):
            page.get_by_text("Opened a bundle:").first.wait_for(timeout=60_000)
            open_page(page, "Run lab", "Run lab · ep_fallback_det.onnx")
            page.get_by_text("Runs bundled").wait_for(timeout=60_000)
            open_page(page, "Compare", "Compare · ep_fallback_det.onnx")
            page.get_by_text("Latency per configuration").wait_for(timeout=60_000)
            page.get_by_text("[Sign in again]").first.wait_for(timeout=30_000)  # as text
            for tab, expect in (
                ("EP assignment", "Requested but not active"),
                ("Downloads", "Session bundle"),
            ):
                open_tab(page, tab, page.get_by_text(expect).first)
                shot(page, f"bundle-injection-{tab.replace(' ', '-').lower()}")
            assert page.locator(f'a[href^="{host}"]').count() == 0
            assert page.locator(f'img[src^="{host}"]').count() == 0
            assert page.locator('[data-testid="stException"]').count() == 0
        assert beacon.hits == []


def _peak_rss(pid: int) -> int:
    """The process's high-water resident memory (VmHWM), in bytes."""
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.browser
def test_a_bundle_bomb_dropped_in_the_app_is_refused_and_the_server_stays_small(session, tmp_path):
    """The measured attack (2–3 MB packed, 1.5 GiB of arrays) took the server's memory up by
    2.3 GiB per drop. Now it is refused from the zip directories: the page says why, the peak
    barely moves, and the next drop works."""
    from tests.browser import app_with_files
    from tests.test_browser import drop_model_files, shot

    model, results, inputs = session
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_output_bomb(write_bundle(model, results, inputs, include_model=True)))
    good = tmp_path / "good.zip"
    good.write_bytes(write_bundle(model, results, inputs, include_model=True))
    with app_with_files([str(good)], "ep_fallback_det.onnx") as (url, _browser, page):
        page.get_by_text("Opened a bundle:").first.wait_for(timeout=60_000)
        before = _peak_rss(url.pid)  # type: ignore[attr-defined]
        drop_model_files(page, [str(bomb)])
        page.get_by_text(
            "bomb.zip was not opened: the bundle's files and arrays unpack to"
        ).wait_for(timeout=60_000)
        shot(page, "bundle-bomb-refused")
        grew = _peak_rss(url.pid) - before  # type: ignore[attr-defined]
        assert grew < 256 * 2**20, f"server peak grew by {grew:,} bytes"
        drop_model_files(page, [str(good)])  # still working
        page.get_by_text("Opened a bundle:").first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
