"""Issue 15: nothing a user types or uploads makes ONNX Runtime write a file of their choosing.

The reproduction this guards against: a node named ``"a\\nimport os; …;#"`` plus the session
config entry ``session.collect_node_memory_stats_to_file=…/site-packages/zz.pth`` made ORT write a
CSV whose second line Python executes at every start. One class per defence layer: the
allow-list (library, matrix file, CLI, the worker's own re-check), the worker's confinement,
and what a whole run leaves on disk.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from inspector import load_model
from inspector.cli import main
from inspector.isolation.sandbox import landlock_abi
from inspector.run.execute.runner import run_matrix
from inspector.run.setup import options
from inspector.run.setup.config import ConfigError, EpSpec, RunConfig, expand_matrix, load_matrix
from tests.conftest import ROOT
from tests.factories import model, vi

SITE = Path(sysconfig.get_paths()["purelib"])
FAST = dict(warmup_runs=0, timed_runs=1, profiled_runs=1)

#: Keys that name a file or folder in ORT 1.24–1.32 (session config) and EP options that do.
PATH_KEYS = [
    "session.collect_node_memory_stats_to_file",
    "session.node_partition_config_file",
    "session.optimized_model_filepath",
    "session.optimized_model_external_initializers_file_name",
    "session.debug_layout_transformation",
    "session.moe_expert_counter_state_file",
    "session.moe.offload.derived_cache_dir",
    "ep.context_file_path",
    "ep.context_enable",
    "session.save_external_prepacked_constant_initializers",
    "session.load_model_format",
    "session.disable_cpu_ep_fallback",  # not a path: the inspector sets it (strict)
    "something.unknown",
]
PATH_EP_OPTIONS = [
    ("OpenVINOExecutionProvider", "cache_dir"),
    ("OpenVINOExecutionProvider", "load_config"),
    ("OpenVINOExecutionProvider", "context"),
    ("TensorrtExecutionProvider", "trt_engine_cache_path"),
    ("TensorrtExecutionProvider", "trt_timing_cache_path"),
    ("TensorrtExecutionProvider", "trt_dump_ep_context_model"),
    ("ggml", "dump"),
    ("DmlExecutionProvider", "device_id"),  # an EP without an allow-list takes no options
]
EVIL_NODE = "a\nimport os; open('/tmp/pwned-inspector','w').write('x');#"


def evil_model() -> onnx.ModelProto:
    """A node whose name, written to a CSV line, is a line of Python."""
    return model(
        [helper.make_node("Relu", ["x"], ["y"], name=EVIL_NODE)], [vi("x", shape=[2])], [vi("y")]
    )


def every_allowed_entry() -> dict[str, str]:
    out = {}
    for o in options.SESSION_KEYS.values():
        out[o.key] = {
            "flag": "1",
            "bool": "true",
            "int": str(o.low),
            "choice": o.choices[0] if o.choices else "",
            "pattern": "0",
        }[o.kind]
    return out


class TestAllowList:
    @pytest.mark.parametrize("key", PATH_KEYS)
    def test_library_refuses(self, key):
        with pytest.raises(ConfigError) as e:
            RunConfig(session_config=((key, str(SITE / "zz.pth")),))
        assert repr(key) in str(e.value)

    @pytest.mark.parametrize("ep,key", PATH_EP_OPTIONS)
    def test_ep_option_refused(self, ep, key):
        with pytest.raises(ConfigError) as e:
            RunConfig(eps=(EpSpec(ep, ((key, "/tmp/x"),)), EpSpec("CPUExecutionProvider")))
        assert key in str(e.value) and ep in str(e.value)

    def test_matrix_file_refuses(self, tmp_path):
        f = tmp_path / "m.json"
        f.write_text(
            json.dumps(
                {
                    "eps": [["cpu"]],
                    "levels": ["all"],
                    "variants": [{"session_config": {PATH_KEYS[0]: "/tmp/x.pth"}}],
                }
            )
        )
        with pytest.raises(ConfigError, match="collect_node_memory_stats_to_file"):
            load_matrix(f)

    def test_cli_refuses_and_writes_nothing(self, capsys, tmp_path):
        src = tmp_path / "evil.onnx"
        onnx.save(evil_model(), src)
        target = tmp_path / "zz.pth"
        code = main(["run", str(src), "--config", f"{PATH_KEYS[0]}={target}"])
        err = capsys.readouterr().err
        assert code == 1 and "is not accepted: it writes a file" in err, err
        assert not target.exists()

    def test_every_allowed_key_is_accepted_and_values_are_checked(self):
        cfg = RunConfig(session_config=tuple(every_allowed_entry().items()))
        assert dict(cfg.session_config) == every_allowed_entry()
        with pytest.raises(ConfigError, match=r"must be 0 or 1"):
            RunConfig(session_config=(("session.disable_prepacking", "/etc/passwd"),))
        with pytest.raises(ConfigError, match=r"integer 0…4"):
            RunConfig(session_config=(("session.qdq_matmulnbits_accuracy_level", "5"),))
        with pytest.raises(ConfigError, match="Optimizer pass name"):
            RunConfig(disabled_optimizers=("Gelu;../x",))

    def test_worker_checks_again(self):
        """A hand-made job.json gets no further than the parent's validation would."""
        import onnxruntime as ort

        from inspector.run.execute.worker import _session_options

        cfg = {
            "level_value": 0,
            "intra_op_threads": 1,
            "inter_op_threads": 1,
            "execution_mode": "sequential",
            "disabled_optimizers": [],
            "strict": False,
            "session_config": [[PATH_KEYS[0], "/tmp/zz.pth"]],
            "eps": [{"name": "CPUExecutionProvider", "options": []}],
        }
        with pytest.raises(options.OptionError, match="not accepted"):
            _session_options(ort, cfg, {}, set(), [], Path("/nonexistent"))

    def test_docs_list_every_accepted_key(self):
        doc = (ROOT / "docs" / "run-options.md").read_text()
        assert doc == options.markdown(), (
            "stale: python -m inspector.run.setup.options > docs/run-options.md"
        )


@pytest.mark.skipif(landlock_abi() == 0, reason="this kernel has no Landlock")
class TestConfinement:
    """Even if a path-taking key slipped through, the worker cannot write outside its folder."""

    CHILD = r"""
import json, os, socket, sys
sys.path.insert(0, sys.argv[1])
from inspector.isolation.sandbox import confine
private, site, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
state = confine(write=[private])
import onnxruntime as ort
out = {"abi": state.landlock_abi, "caps": state.capabilities_dropped}
for target in (os.path.join(private, "stats.csv"), os.path.join(site, "zz_inspector.pth")):
    so = ort.SessionOptions()
    so.add_session_config_entry("session.collect_node_memory_stats_to_file", target)
    try:
        s = ort.InferenceSession(sys.argv[5], so, providers=["CPUExecutionProvider"])
        s.run(None, {"x": __import__("numpy").ones(2, "float32")})
        del s
    except Exception as exc:
        out.setdefault("ort_errors", []).append(str(exc)[:200])
try:
    open(os.path.join(site, "zz_inspector_direct.pth"), "w").write("x")
    out["direct"] = "written"
except PermissionError:
    out["direct"] = "denied"
try:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    out["tcp"] = "connected"
except PermissionError:
    out["tcp"] = "denied"
print(json.dumps(out))
"""

    def test_confined_process_cannot_write_site_packages(self, tmp_path):
        private = Path(tempfile.mkdtemp(prefix="inspector-test-"))
        src = private / "evil.onnx"  # the worker reads only its own folder
        onnx.save(evil_model(), src)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    self.CHILD,
                    str(ROOT),
                    str(private),
                    str(SITE),
                    str(port),
                    str(src),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            # The control: ORT really writes that file where it may.
            stats = (private / "stats.csv").read_text()
            assert "import os" in stats
            assert not (SITE / "zz_inspector.pth").exists()
            assert not (SITE / "zz_inspector_direct.pth").exists()
            assert out["direct"] == "denied"
            if out["abi"] >= 4:
                assert out["tcp"] == "denied"
            assert out["caps"]
        finally:
            listener.close()
            for f in ("zz_inspector.pth", "zz_inspector_direct.pth"):
                (SITE / f).unlink(missing_ok=True)
            subprocess.run(["rm", "-rf", str(private)], check=False)

    def test_pre_started_worker_is_confined_with_a_minimal_environment(self, monkeypatch):
        from inspector.run.execute.runner import Worker, prepare

        monkeypatch.setenv("PYTHONPATH", "/tmp/writable-by-anyone")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
        prepared = prepare(load_model(ROOT / "sample_models" / "mlp_gelu_layernorm.onnx"))
        w = Worker(prepared)
        try:
            status = ""
            for _ in range(200):  # the worker confines itself right after it starts
                status = Path(f"/proc/{w.proc.pid}/status").read_text()
                if "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status:
                    break
                subprocess.run(["sleep", "0.05"], check=False)
            assert "NoNewPrivs:\t1" in status
            assert "CapEff:\t0000000000000000" in status
            assert "CapBnd:\t0000000000000000" in status
            env = Path(f"/proc/{w.proc.pid}/environ").read_bytes().split(b"\0")
            names = {e.split(b"=", 1)[0].decode() for e in env if e}
            assert "PYTHONPATH" not in names and "AWS_SECRET_ACCESS_KEY" not in names
            assert {"PYTHONNOUSERSITE", "HOME", "TMPDIR"} <= names
            cmd = Path(f"/proc/{w.proc.pid}/cmdline").read_bytes().split(b"\0")
            assert cmd[1] == b"-I"
        finally:
            w.discard()
            prepared.cleanup()


class TestRootPolicy:
    def test_root_without_landlock_is_refused_unless_opted_in(self, monkeypatch):
        from inspector.isolation import sandbox
        from inspector.run.execute import runner

        monkeypatch.setattr(runner.os, "geteuid", lambda: 0)
        monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
        monkeypatch.delenv("INSPECTOR_ALLOW_UNCONFINED_ROOT", raising=False)
        with pytest.raises(runner.RunError, match="INSPECTOR_ALLOW_UNCONFINED_ROOT=1"):
            runner.check_can_start_workers()
        monkeypatch.setenv("INSPECTOR_ALLOW_UNCONFINED_ROOT", "1")
        runner.check_can_start_workers()


def _snapshot(roots: list[Path]) -> set[str]:
    seen = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
            seen.update(os.path.join(dirpath, f) for f in filenames)
    return seen


def test_a_run_with_every_allowed_key_leaves_no_file_behind(tmp_path):
    """The crafted node name plus every accepted entry: after the run, no file anywhere we
    can see appeared (the private folder is gone, the repo, site-packages, /tmp unchanged)."""
    src = tmp_path / "evil.onnx"
    onnx.save(evil_model(), src)
    m = load_model(src)
    roots = [ROOT, SITE, Path.home()]
    tmp = Path(tempfile.gettempdir())
    before = _snapshot(roots)
    before_tmp = {p.name for p in tmp.iterdir()}
    variants = [{"session_config": {k: v}} for k, v in every_allowed_entry().items()]
    variants = [{**v, "label": f"v{i}"} for i, v in enumerate(variants)]
    mat = expand_matrix(["cpu"], ["all"], variants, RunConfig(**FAST))
    results = run_matrix(m, mat, {"x": np.ones(2, np.float32)})
    # Some entries are legitimately refused by ORT for this model; none may write a file.
    assert len(results) == len(variants) + 1
    assert sum(r.ok for r in results) >= len(variants) - 2, [r.error for r in results]
    new = {
        p
        for p in _snapshot(roots) - before
        if not p.startswith(str(tmp_path))
        and "/pytest-of-" not in p
        and "/tests/artifacts/" not in p
    }
    assert new == set()
    # /tmp is shared with everything else on the machine: our private folders must be gone.
    ours = {n for n in {p.name for p in tmp.iterdir()} - before_tmp if n.startswith("inspector")}
    assert ours == set()
    assert not Path("/tmp/pwned-inspector").exists()


class TestModelStringsAreData:
    def test_timing_csv_keeps_names_in_their_cells_and_defuses_formulas(self):
        import csv
        import io

        from inspector.run.analyses.compare import node_timing_csv
        from inspector.safe_text import to_csv

        nodes = [
            helper.make_node("Relu", ["x"], ["h"], name=EVIL_NODE),
            helper.make_node("Neg", ["h"], ["y"], name='=HYPERLINK("http://evil.example","x")'),
        ]
        src = model(nodes, [vi("x", shape=[2])], [vi("y")])
        m = load_model(src.SerializeToString(), name="csv.onnx")
        results = run_matrix(
            m,
            expand_matrix(
                ["cpu"], ["disable_all"], include_reference=False, base=RunConfig(**FAST)
            ),
            {"x": np.ones(2, np.float32)},
        )
        text = node_timing_csv(results)
        rows = list(csv.reader(io.StringIO(text)))
        assert all(len(r) == len(rows[0]) for r in rows)
        # ORT never saw the hostile names (its profiler writes them unescaped): runtime names
        # are the inspector's, and lead back to the node ids.
        assert {(r[0], r[1]) for r in rows[1:]} == {
            ("main:0", "Relu__main:0"),
            ("main:1", "Neg__main:1"),
        }
        # Wherever a model string does reach a CSV, it stays in its cell and is no formula.
        text = to_csv(["name"], [[EVIL_NODE], ['=HYPERLINK("http://evil.example","x")']])
        cells = [r[0] for r in csv.reader(io.StringIO(text))]
        assert cells == ["name", EVIL_NODE, '\'=HYPERLINK("http://evil.example","x")']
        assert to_csv(["v"], [["-1.5"]]).splitlines()[1] == "-1.5"

    def test_cli_escapes_terminal_control_sequences(self, capsys, tmp_path):
        m = evil_model()
        m.producer_name = "\x1b]52;c;ZWNobyBoaQ==\x07\x1bc\u202eexe.onnx"
        src = tmp_path / "esc.onnx"
        onnx.save(m, src)
        assert main(["overview", str(src)]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert "\\u001b]52;c;ZWNobyBoaQ==\\u0007" in out
        assert main(["overview", str(src), "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["producer_name"] == m.producer_name  # JSON carries the exact string


class TestPublishedNetronFiles:
    """Issue 16: uploaded companions were published with their own names and extensions, so an
    ``.html``/``.svg`` companion became a page on the app's origin."""

    def test_only_model_onnx_and_referenced_data_files_under_fixed_names(self, tmp_path):
        from inspector.netron_assets import netron_files, publish, unpublish
        from tests.factories import linear, with_external

        proto = linear()
        path = with_external(proto, tmp_path / "src", "W", "weights.bin")
        files = {
            "weights.bin": (tmp_path / "src" / "weights.bin").read_bytes(),
            "evil.html": b"<script>alert(document.cookie)</script>",
            "x.svg": b"<svg onload=alert(1)>",
        }
        proto = onnx.load(path, load_external_data=False)
        m = load_model(proto.SerializeToString(), files, name="m.onnx")
        data, published = netron_files(m, proto.SerializeToString(), 1 << 30)
        assert set(published) == {"data_0.bin"}
        assert published["data_0.bin"] == files["weights.bin"]
        rewritten = onnx.ModelProto()
        rewritten.ParseFromString(data)
        locations = {
            e.value
            for t in rewritten.graph.initializer
            for e in t.external_data
            if e.key == "location"
        }
        assert locations == {"data_0.bin"}
        static = tmp_path / "static"
        key = publish(static, data, published)
        folder = static / "models" / key
        assert sorted(p.name for p in folder.iterdir()) == ["data_0.bin", "model.onnx"]
        with pytest.raises(ValueError):
            publish(static, data, {"evil.html": b"x"})
        unpublish(static, key)
        assert not folder.exists()

    def test_install_stamp_does_not_reveal_the_install_path(self, tmp_path):
        from inspector.netron_assets import install, netron_source

        target = install(tmp_path)
        assert str(netron_source()) not in (target / ".source").read_text()


class TestModelStringsInChartsAndNetron:
    def test_chart_labels_and_titles_show_html_as_text(self):
        from inspector.charts import value_histogram

        fig = value_histogram([1, 2], [0.0, 1.0, 2.0], "Values of <a href='http://evil'>w</a>")
        assert "<a" not in fig.layout.title.text and "&lt;a href" in fig.layout.title.text

    def test_netron_may_fetch_only_from_the_apps_origin(self):
        from inspector.netron_assets import netron_source, patch_index

        page = patch_index((netron_source() / "index.html").read_text(encoding="utf-8"))
        assert "connect-src 'self' blob: data:" in page

    def test_netron_page_policy_allows_nothing_off_origin(self):
        """Issue 22: an ``<img>`` in a function's doc_string loaded from another host."""
        from inspector.netron_assets import netron_source, patch_index

        page = patch_index((netron_source() / "index.html").read_text(encoding="utf-8"))
        (policy,) = [
            line for line in page.splitlines() if 'http-equiv="Content-Security-Policy"' in line
        ]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "img-src 'self' data: blob:",
            "object-src 'none'",
            "frame-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ):
            assert directive in policy, directive
        assert "inspector-safe-html.js" in page and "inspector-consent.js" in page

    def test_the_documentation_panel_sink_is_patched_or_install_refuses(self, tmp_path):
        from inspector.netron_assets import install, patch_view

        view = (install(tmp_path) / "view.js").read_text(encoding="utf-8")
        assert "window.inspectorSafeHTML(element, content)" in view
        assert "element.innerHTML = content;" not in view
        assert (tmp_path / "netron" / "inspector-safe-html.js").exists()
        with pytest.raises(RuntimeError, match="documentation panel"):
            patch_view("export const View = 1;")

    @pytest.mark.browser
    def test_a_function_doc_string_cannot_navigate_netron_or_load_from_elsewhere(self, tmp_path):
        """Issue 22: a model-local function's doc_string holding ``<meta http-equiv=refresh>``
        navigated the embedded Netron to another origin when its documentation was opened, and
        an ``<img>`` there loaded from another host. Here both point at a server this test
        runs (another origin): it must get no request, and the frame stays on the app."""
        import http.server
        import threading

        from playwright.sync_api import sync_playwright

        from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, streamlit_server
        from tests.factories import linear
        from tests.test_browser import drop_model_files

        if not chromium_available():
            pytest.skip("Debian chromium is not installed")
        hits: list[str] = []

        class Beacon(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"<h1>another site</h1>")

            def log_message(self, *args: object) -> None:
                pass

        beacon = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Beacon)
        elsewhere = f"http://127.0.0.1:{beacon.server_address[1]}"
        threading.Thread(target=beacon.serve_forever, daemon=True).start()
        m = linear()
        doc = (
            f'Docs <img src="{elsewhere}/img">\n\n'
            f'<meta http-equiv="refresh" content="0;url={elsewhere}/refresh">\n'
        )
        fn = helper.make_function(
            "custom",
            "Evil",
            ["a"],
            ["b"],
            [helper.make_node("Relu", ["a"], ["b"])],
            [helper.make_opsetid("", 17)],
            doc_string=doc,
        )
        m.functions.append(fn)
        m.opset_import.append(helper.make_opsetid("custom", 1))
        m.graph.node.append(helper.make_node("Evil", ["y"], ["z"], domain="custom", name="call"))
        m.graph.output[0].name = "z"
        path = tmp_path / "evil_fn.onnx"
        onnx.save(m, path)
        try:
            with streamlit_server() as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
                drop_model_files(page, [str(path)])
                page.get_by_role("heading", name="evil_fn.onnx").wait_for(timeout=60_000)
                page.get_by_role("link", name="Graph", exact=True).click()
                frame = page.frame_locator("iframe").first
                node = frame.locator("#canvas").get_by_text("Evil").first
                node.wait_for(timeout=30_000)
                node.click()
                frame.locator(".sidebar-item-value-expander[title='Show Definition']").click()
                page.wait_for_timeout(2500)  # a refresh of 0 s would have happened by now
                urls = [f.url for f in page.frames]
                assert all(u.startswith(url) for u in urls), urls  # still on the app
                assert hits == [], hits
                docs = frame.locator(".sidebar-documentation")
                docs.get_by_text("Docs").wait_for(timeout=10_000)  # shown, as text
                assert docs.locator("img, meta").count() == 0
                # The page policy holds on its own too: markup put in the viewer directly.
                # (Netron replaces the viewer's window.eval, so reach it from the app's page.)
                page.evaluate(
                    """src => document.querySelector('iframe[src*="netron/index.html"]')
                        .contentDocument.body
                        .insertAdjacentHTML('beforeend', `<img src=${src}>`)""",
                    f"{elsewhere}/img-direct",
                )
                page.wait_for_timeout(1000)
                urls = [f.url for f in page.frames]
                browser.close()
        finally:
            beacon.shutdown()
        assert hits == [], hits
        assert all(u.startswith(url) for u in urls), urls


def test_published_models_stay_under_the_static_budget(tmp_path, monkeypatch):
    """Streamlit stops serving the whole static folder past 1 GB: publishing removes the
    oldest published models first so the folder stays within its budget."""
    import os
    import time

    from inspector import netron_assets

    monkeypatch.setattr(netron_assets, "STATIC_BUDGET_BYTES", 2500)
    keys = []
    for i in range(4):
        keys.append(netron_assets.publish(tmp_path, bytes([i]) * 1000, {}))
        folder = tmp_path / "models" / keys[-1]
        stamp = time.time() - 100 + i  # publication order, by mtime, all recent
        os.utime(folder, (stamp, stamp))
    kept = sorted(p.name for p in (tmp_path / "models").iterdir())
    assert kept == sorted(keys[-2:])  # 2 × 1000 B fit 2500 B; the two oldest went
