"""One table against the tools users would reach for instead, measured side by side in one run.

Peers are installed only in this benchmark's own virtual environment (``--venv``, created on
first use with ``--system-site-packages`` so both sides use the same onnx and onnxruntime):
polygraphy (pinned below). Nothing is installed into the project's environment.

Rows (each a median of ``--repeat`` runs, ours and the peer interleaved, every command a fresh
process timed from start to exit; peak RSS is the child's ``ru_maxrss``):

* **inspect**: ``onnx-inspector overview`` and ``graph`` vs ``polygraphy inspect model
  --show layers``;
* **run**: ``onnx-inspector run --ep cpu --level all`` vs ``polygraphy run --onnxrt``, same
  iterations; whole command and the per-iteration latency each reports;
* **divergence**: ``onnx-inspector compare --first-divergence`` (two configurations, tensors
  marked in chunks) vs polygraphy's mark-all workflow (``--onnx-outputs mark all``, a reference
  run saved then a second run compared against it);
* **first graph drawn**: the app's Graph page (from the click, Streamlit + embedded Netron,
  scoped above the node budget) vs the ``netron`` package's own server on the whole graph, in
  the same Debian chromium (capped at ``--cap`` s);
* **harness**: ``bench_run.py --json`` (run lab latency vs a bare ``sess.run`` loop; the matrix
  vs bare sessions), kept in the table;
* **app**: the app-level figures issue 27 sets targets for — the Run lab's default matrix on the
  3,614-node TTS export (``bench_run.py --lab``, against ONNX Runtime alone doing the same
  sessions and runs; target ≤ 30 s) and picking B on the Model diff page for a ~400-node MiniLM
  pair in chromium (``bench_diff.py``, against onnx.load + shape inference of both; target
  ≤ 3 s).

Models: transformer-shaped exports of 1,501 and 10,006 nodes (``tests.factories``), the
ResNet-50 / DenseNet-121 topologies the onnx wheel ships, and real exports from the test
catalogue's cache (``--real``, default the 92 MB Kokoro TTS and the YOLOv8n detector; one not
cached is left out with a note: ``python -m tests.realmodels`` fetches them). Import costs
(``python -c pass``, ``import onnx``, ``import inspector.cli``) are printed to show where a
CLI's time goes.

``--tasks`` re-runs some rows only (``inspect``, ``run``, ``divergence``, ``browser``,
``harness``); with ``--write`` the rows it measured replace theirs in the file's table and the
others are kept, under a line that says which run they came from.

``python bench/bench_peers.py [--repeat 3] [--venv DIR] [--write docs/BENCHMARKS.md]
[--skip-browser] [--tasks inspect,run] [--real ID ...]``. Reports, never fails; a missed target
says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.factories import scoped_transformer  # noqa: E402

POLYGRAPHY = "polygraphy==0.53.6"
TASKS = ("inspect", "run", "divergence", "browser", "harness", "app")
LAB_GOAL_S = 30.0  # issue 27: the default Run lab matrix on a ≥ 3k-node real model
PICK_B_GOAL_S = 3.0  # issue 27: Model diff pick-B on a ~400-node pair
REAL = ("kokoro82m_int8_tts", "nudenet_yolov8n_320", "minilm_l6_int8w")
INSPECT_GOAL = 0.6  # issue 27: overview ≤ 0.6× polygraphy inspect on a ≥ 50 MB real model
RUN_GOAL = 1.3  # issue 27: run ≤ 1.3× polygraphy run on a real detector and transformer
LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
PY = sys.executable


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    out: str = ""
    rc: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.wall) if self.wall else float("nan")

    @property
    def peak(self) -> float:
        return max(self.rss_mb) if self.rss_mb else float("nan")


def timed(cmd: list[str], into: Timing, cwd: Path = ROOT) -> None:
    """Run ``cmd`` once; add its wall time and peak RSS (the child's own ``ru_maxrss``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # reaped here: its own rusage, not a sum
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    into.wall.append(time.perf_counter() - start)
    into.rss_mb.append(usage.ru_maxrss / 1024)
    into.out, into.rc = out, proc.returncode


def ensure_venv(path: Path) -> Path:
    """The peers' environment (created once); returns its bin folder."""
    bin_dir = path / "bin"
    if not (bin_dir / "polygraphy").exists():
        subprocess.run([PY, "-m", "venv", "--system-site-packages", str(path)], check=True)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", POLYGRAPHY, "colored"], check=True)
    return bin_dir


def models(folder: Path, real: list[str]) -> tuple[list[tuple[str, Path]], list[str]]:
    """(label, path) of each model, and a note for each ``real`` id not in the cache."""
    from tests.realmodels import FETCH, catalogue

    out, notes = [], []
    for layers in (100, 667):
        p = folder / f"transformer_{layers * 15 + 1}.onnx"
        p.write_bytes(scoped_transformer(layers).SerializeToString())
        out.append((f"transformer export, {layers * 15 + 1:,} nodes", p))
    for name in ("light_resnet50", "light_densenet121"):
        m = onnx.load(LIGHT / f"{name}.onnx")
        out.append((f"{name} ({len(m.graph.node):,} nodes, onnx wheel)", LIGHT / f"{name}.onnx"))
    cached = {m.id: m for m in catalogue()}
    for rid in real:
        entry = cached.get(rid)
        if entry is None or not entry.path.exists():
            notes.append(f"{rid}: not cached, left out (run `{FETCH}`)")
            continue
        # Counted in a child: a child's ru_maxrss starts from its parent's high-water mark
        # (Linux keeps maxrss across execve), so a 92 MB model parsed here would inflate every
        # peak RSS below.
        count = "import onnx, sys; print(len(onnx.load(sys.argv[1]).graph.node))"
        nodes = int(subprocess.check_output([PY, "-c", count, str(entry.path)], text=True))
        size = entry.path.stat().st_size / 1e6
        out.append((f"{rid} ({nodes:,} nodes, {size:.0f} MB, real)", entry.path))
    return out, notes


def pair(ours: list[str], peer: list[str], repeat: int) -> tuple[Timing, Timing]:
    a, b = Timing(), Timing()
    for _ in range(repeat):
        timed(ours, a)
        timed(peer, b)
    return a, b


def latency_ours(text: str) -> float | None:
    m = re.search(r"CPU · all\s+ok\s+([0-9.]+)", text)
    return float(m.group(1)) if m else None


def latency_polygraphy(text: str) -> float | None:
    """Median of the per-iteration times ``-vv`` prints, the first 3 left out (ours warms up
    3 times before its 20 timed runs)."""
    times = [float(x) for x in re.findall(r"Inference Time: ([0-9.]+) ms", text)][3:]
    return statistics.median(times) if times else None


def browser_rows(
    models_: list[tuple[str, Path]], cap: float
) -> dict[str, tuple[float | None, float | None]]:
    """name → (ours: app Graph page from the click, netron package server)."""

    from playwright.sync_api import sync_playwright

    from bench.bench_graph import first_drawn, free_port
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, open_page, streamlit_server
    from tests.test_browser import drop_model_files

    out: dict[str, tuple[float | None, float | None]] = {}
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in models_:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            ours: float | None = None
            try:
                page.goto(url)
                page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=60_000)
                drop_model_files(page, [str(path)])
                page.get_by_role("heading", name="Diagnostics").wait_for(timeout=300_000)
                page.wait_for_timeout(2000)  # the Overview's last records
                start = time.perf_counter()
                open_page(page, "Graph", f"Graph · {path.name}", timeout=120_000)
                frame = page.frame_locator("iframe").first
                frame.locator("body.default #canvas .node").first.wait_for(timeout=cap * 1000)
                ours = time.perf_counter() - start
            except Exception as exc:  # noqa: BLE001 - a capped or failed row says so
                print(f"  {name}: app not drawn ({type(exc).__name__})", file=sys.stderr)
            page.close()

            port = free_port()
            server = subprocess.Popen(
                [
                    PY,
                    "-c",
                    "import netron,sys; netron.start(sys.argv[1], ('127.0.0.1', int(sys.argv[2])),"
                    " browse=False); netron.wait()",
                    str(path),
                    str(port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(1.5)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                # A returning user has accepted Netron's cookie notice (it blocks the drawing).
                page.context.add_cookies(
                    [
                        {
                            "name": "consent",
                            "value": str(int(time.time() * 1000)),
                            "url": f"http://127.0.0.1:{port}",
                        }
                    ]
                )
                theirs, _ = first_drawn(page, f"http://127.0.0.1:{port}/", cap)
                page.close()
            finally:
                server.terminate()
                server.wait()
            out[name] = (ours, theirs)
            print(f"  browser {name}: ours {ours}, netron {theirs}", file=sys.stderr, flush=True)
        browser.close()
    return out


def fmt(x: float | None, unit: str = "s") -> str:
    if x is None or x != x:
        return "—"
    return f"{x:.2f} {unit}" if unit else f"{x:.2f}"


def ratio(a: float | None, b: float | None, goal: float | None = None) -> str:
    if not a or not b or a != a or b != b:
        return "—"
    r = a / b
    text = f"{r:.2f}×"
    if goal is not None:
        text += " (goal ≤ {:.1f}×: {})".format(goal, "met" if r <= goal else "MISSED")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--venv", default=str(Path(tempfile.gettempdir()) / "onnx-inspector-peers"))
    ap.add_argument("--cap", type=float, default=60.0)
    ap.add_argument("--write", metavar="FILE", help="also write the tables as Markdown")
    ap.add_argument("--skip-browser", action="store_true", help="same as leaving out 'browser'")
    ap.add_argument(
        "--tasks",
        default=",".join(TASKS),
        help=f"rows to measure, comma-separated from {','.join(TASKS)} (default: all)",
    )
    ap.add_argument(
        "--real",
        nargs="*",
        default=list(REAL),
        metavar="ID",
        help="cached real models (tests/real_models.json ids) to add (default: %(default)s)",
    )
    args = ap.parse_args()
    tasks = {t.strip() for t in args.tasks.split(",") if t.strip()}
    if unknown := tasks - set(TASKS):
        ap.error(f"unknown tasks {sorted(unknown)}; choose from {', '.join(TASKS)}")
    if args.skip_browser:
        tasks.discard("browser")
    peers = ensure_venv(Path(args.venv))
    poly = str(peers / "polygraphy")
    cli = [PY, "-m", "inspector"]
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    imports = {}
    for label, code in (
        ("python -c pass", "pass"),
        ("import onnx", "import onnx"),
        ("import inspector.cli", "import inspector.cli"),
    ):
        t = Timing()
        for _ in range(args.repeat):
            timed([PY, "-c", code], t)
        imports[label] = t.median
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo", encoding="utf-8")
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    say("# Benchmarks against peers\n")
    say(
        f"Run {datetime.date.today()} on {cpu}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, onnx {onnx.__version__}, {POLYGRAPHY}; medians of "
        f"{args.repeat} runs, ours and the peer interleaved; every command a fresh process"
        + ("" if tasks == set(TASKS) else f"; rows: {', '.join(t for t in TASKS if t in tasks)}")
        + ". Generated by `python bench/bench_peers.py --write docs/BENCHMARKS.md`.\n"
    )
    say(
        "Where a CLI's time goes (process start to exit): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in imports.items())
        + ".\n"
    )

    with tempfile.TemporaryDirectory() as tmp:
        ms, notes = models(Path(tmp), args.real)
        for note in notes:
            say(f"{note}.\n")
        say(TABLE_HEAD)
        say(TABLE_RULE)
        for name, path in ms:
            if "inspect" in tasks:
                for row in inspect_rows(name, path, cli, poly, args.repeat):
                    say(row)
            if "run" in tasks:
                for row in run_rows(name, path, cli, poly, args.repeat):
                    say(row)
            if "divergence" in tasks:
                say(divergence_row(name, path, cli, poly, args.repeat, Path(tmp) / "ref.json"))
        if "browser" in tasks:
            drawn = browser_rows([ms[0], ms[1], ms[3]], args.cap)
            for name, (ours, theirs) in drawn.items():
                t = f"> {args.cap:.0f} s (capped)" if theirs is None else fmt(theirs)
                say(
                    f"| {name} | first graph drawn: app Graph page (from the click) vs the "
                    f"netron package | {fmt(ours)} | {t} | "
                    + (ratio(ours, theirs) if theirs else f"< {ratio(ours, args.cap)}")
                    + " | |"
                )
    if "harness" in tasks:
        for row in harness_rows(args.repeat):
            say(row)
    if "app" in tasks:
        for row in app_rows(args.repeat):
            say(row)
    if args.write:
        # Sections other benches wrote below KEEP_MARK (bench_timing.py's) are kept.
        out = Path(args.write)
        old = out.read_text(encoding="utf-8") if out.exists() else ""
        kept = old[old.index(KEEP_MARK) :] if KEEP_MARK in old else ""
        ours = old[: old.index(KEEP_MARK)] if KEEP_MARK in old else old
        if tasks != set(TASKS) and ours:
            lines = merge(ours.splitlines(), lines)
        out.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""), encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)


TABLE_HEAD = "| model | task | ours | peer | ours / peer | peak RSS ours / peer |"
TABLE_RULE = "|---|---|---:|---:|---:|---:|"


def inspect_rows(name: str, path: Path, cli: list[str], poly: str, repeat: int) -> list[str]:
    m, rows = str(path), []
    for task, ours_cmd in (
        ("overview", [*cli, "overview", m]),
        ("graph (every node, shapes)", [*cli, "graph", m, "--limit", "50"]),
    ):
        a, b = pair(ours_cmd, [poly, "inspect", "model", m, "--show", "layers"], repeat)
        rows.append(
            f"| {name} | {task} vs `polygraphy inspect model --show layers` | "
            f"{fmt(a.median)} | {fmt(b.median)} | {ratio(a.median, b.median, INSPECT_GOAL)} | "
            f"{a.peak:.0f} / {b.peak:.0f} MB |"
        )
    return rows


def input_shapes(path: Path) -> dict[str, list[int]]:
    """The input shapes our run resolves for ``path`` (in a child: see models()), given to both
    sides: polygraphy fills a model's dynamic dims with 1 otherwise, which a detector's Concat
    of strided feature maps refuses."""
    code = (
        "import json, sys\n"
        "from inspector import load_model\n"
        "from inspector.run.setup.request import RunForm, RunRequest\n"
        "run = RunRequest.from_form(RunForm(eps=('CPU',)), {'CPU': 'cpu'})"
        ".resolve(load_model(sys.argv[1]))\n"
        "print(json.dumps({k: list(getattr(v, 'shape', ())) for k, v in run.inputs.items()}))\n"
    )
    out = subprocess.check_output([PY, "-c", code, str(path)], text=True, cwd=ROOT)
    return {k: [int(d) for d in v] for k, v in json.loads(out).items()}


def run_rows(name: str, path: Path, cli: list[str], poly: str, repeat: int) -> list[str]:
    m = str(path)
    shapes = input_shapes(path)
    ours = [*cli, "run", m, "--ep", "cpu", "--level", "all", "--warmup", "3", "--runs", "20"]
    # Exactly 20 timed runs, as polygraphy's 20 after 3: adaptive timing would stop earlier.
    ours += ["--target-ci", "0", "--time-budget", "0"]
    ours += ["--profiled-runs", "0", "--threads", "0", "--no-reference"]
    theirs = [poly, "run", m, "--onnxrt", "--iterations", "23", "-vv"]
    if shapes:
        for k, v in shapes.items():
            ours += ["--shape", f"{k}={','.join(map(str, v))}"]
        theirs += ["--input-shapes", *(f"{k}:[{','.join(map(str, v))}]" for k, v in shapes.items())]
    a, b = pair(ours, theirs, repeat)
    if a.rc or b.rc:  # a failed command's time is no figure (polygraphy on dynamic dims did)
        side, t = ("ours", a) if a.rc else ("polygraphy", b)
        last = (t.out.strip().splitlines() or [""])[-1][:120].replace("|", "/")
        return [f"| {name} | run vs `polygraphy run --onnxrt` | — | — | {side} failed: {last} | |"]
    la, lb = latency_ours(a.out), latency_polygraphy(b.out)
    return [
        f"| {name} | run, 20 timed (+3 warm-up), ORT's default threads, vs "
        "`polygraphy run --onnxrt` ×23 | "
        f"{fmt(a.median)} | {fmt(b.median)} | {ratio(a.median, b.median, RUN_GOAL)} | "
        f"{a.peak:.0f} / {b.peak:.0f} MB |",
        f"| {name} | latency per run (medians: ours timed runs, polygraphy iterations "
        f"4–23) | {fmt(la, 'ms')} | {fmt(lb, 'ms')} | {ratio(la, lb)} | |",
    ]


def divergence_row(name: str, path: Path, cli: list[str], poly: str, repeat: int, ref: Path) -> str:
    m = str(path)
    ours = [*cli, "compare", m, "--ref", "cpu@disable_all", "--cand", "cpu@all"]
    ours += ["--first-divergence", "--warmup", "0", "--runs", "1", "--profiled-runs", "0"]
    mark_all = [poly, "run", m, "--onnxrt", "--onnx-outputs", "mark", "all"]
    a, b, b2 = Timing(), Timing(), Timing()
    for _ in range(repeat):
        timed(ours, a)
        timed([*mark_all, "--save-outputs", str(ref)], b)
        timed([*mark_all, "--load-outputs", str(ref)], b2)
    both = statistics.median([x + y for x, y in zip(b.wall, b2.wall, strict=True)])
    return (
        f"| {name} | first divergence vs polygraphy mark-all (save + compare) | "
        f"{fmt(a.median)} | {fmt(both)} | {ratio(a.median, both)} | "
        f"{a.peak:.0f} / {max(b.peak, b2.peak):.0f} MB |"
    )


def harness_rows(repeat: int) -> list[str]:
    harness = subprocess.run(
        [PY, str(ROOT / "bench" / "bench_run.py"), "--repeat", str(repeat), "--json"],
        capture_output=True,
        text=True,
    )
    try:
        doc = json.loads(harness.stdout[harness.stdout.index("{") :])
        lat, mx = doc["latency_ms"], doc["matrix_5_configs_s"]
        cov = doc["profiled_coverage"]["median"]
    except (ValueError, KeyError) as exc:
        return [f"\nbench_run.py gave no usable JSON (exit {harness.returncode}, {exc})."]
    return [
        f"| {doc['model']} | run-lab latency vs a bare `sess.run` loop, same session "
        f"options (`bench_run.py`) | {fmt(statistics.median(lat['ours']), 'ms')} | "
        f"{fmt(statistics.median(lat['bare']), 'ms')} | {lat['median_ratio']:.2f}× "
        f"(target ≤ 1.05×: {'met' if lat['median_ratio'] <= 1.05 else 'MISSED'}) | |",
        f"| {doc['model']} | 5-configuration matrix (workers, profiles, optimized graphs) "
        f"vs the same sessions bare | {fmt(statistics.median(mx['ours']))} | "
        f"{fmt(statistics.median(mx['bare']))} | {mx['median_ratio']:.2f}× "
        f"(target ≤ 1.3×: {'met' if mx['median_ratio'] <= 1.3 else 'MISSED'}) | |",
        f"\nProfiled coverage (sum of per-node medians / run median): {cov:.3f}.",
    ]


#: The app-level rows: (bench script and its arguments, pattern of ours, pattern of the
#: baseline, model, task, target in seconds).
APP_ROWS = (
    (
        ("bench/bench_run.py", "--lab", "kokoro82m_int8_tts"),
        r"matrix median ([0-9.]+) s",
        r"; bare ([0-9.]+) s",
        "kokoro82m_int8_tts (3,614 nodes, real)",
        "Run lab default matrix (CPU at disable_all and all, the form's defaults) vs ONNX "
        "Runtime alone, same sessions and runs",
        LAB_GOAL_S,
    ),
    (
        ("bench/bench_diff.py",),
        r"pick B \(click → summary, page idle\): ([0-9.]+) s",
        r"shape inference of both: ([0-9.]+) s",
        "minilm_l6_int8w pair (385 nodes, real)",
        "Model diff: pick B in chromium (click → summary, page idle) vs onnx.load + shape "
        "inference of both",
        PICK_B_GOAL_S,
    ),
)


def app_rows(repeat: int) -> list[str]:
    """The Run lab defaults on the TTS export and Model diff pick-B, from their own benches."""
    rows = []
    for args, ours_re, base_re, name, task, goal in APP_ROWS:
        cmd = [PY, *args, "--repeat", str(repeat)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        out = done.stdout + done.stderr
        ours, base = re.search(ours_re, out), re.search(base_re, out)
        if ours and base:
            rows.append(_goal_row(name, task, float(ours.group(1)), float(base.group(1)), goal))
        else:
            rows.append(f"\n{args[0]} gave no figure: {out.strip()[-200:]}")
    return rows


def _goal_row(name: str, task: str, ours: float, bare: float, goal_s: float) -> str:
    """A table row with an absolute target in seconds beside the ratio to its baseline."""
    met = "met" if ours <= goal_s else "MISSED"
    return (
        f"| {name} | {task} | {fmt(ours)} | {fmt(bare)} | {ratio(ours, bare)} "
        f"(target ≤ {goal_s:g} s: {met}) | |"
    )


def _row_key(line: str) -> tuple[str, str] | None:
    """(model, task) of a table row; None for any other line."""
    if not line.startswith("| ") or line in (TABLE_HEAD, TABLE_RULE):
        return None
    cells = line.split(" | ")
    return (cells[0][2:], cells[1]) if len(cells) > 2 else None


def merge(old: list[str], new: list[str]) -> list[str]:
    """``new`` (some tasks re-run) merged into the ``old`` write-up: new rows replace the old
    rows of the same model and task, the other old rows stay where they were, rows new to the
    table follow them; a line names the run the kept rows come from; the old lines after the
    table stay unless the new run wrote its own."""

    def table(lines: list[str]) -> tuple[int, int]:
        start = lines.index(TABLE_HEAD)
        end = start + 2
        while end < len(lines) and lines[end].startswith("| "):
            end += 1
        return start, end

    (o0, o1), (n0, n1) = table(old), table(new)
    new_rows = {k: ln for ln in new[n0 + 2 : n1] if (k := _row_key(ln))}
    rows = [new_rows.pop(k, ln) if (k := _row_key(ln)) else ln for ln in old[o0 + 2 : o1]]
    previous = next((ln for ln in old[:o0] if ln.startswith("Run ")), "")
    provenance = [ln for ln in old[:o0] if ln.startswith(KEPT)]
    if previous:
        provenance.append(f"{KEPT} {previous.removeprefix('Run ')}")
    # A partial run's line goes once a later run measured its tasks again (its models too, as
    # the defaults do): otherwise these lines pile up with every partial write.
    redone = _tasks(next((ln for ln in new[:n0] if ln.startswith("Run ")), ""))
    provenance = [
        f"{ln}\n"
        for i, ln in enumerate(provenance)
        if ln not in provenance[:i] and not (_tasks(ln) and _tasks(ln) <= redone)
    ]
    after = new[n1:] if any(ln.strip() for ln in new[n1:]) else old[o1:]
    return [*new[:n0], *provenance, *old[o0 : o0 + 2], *rows, *new_rows.values(), *after]


def _tasks(line: str) -> set[str]:
    """The tasks a run's line says it measured ("…; rows: inspect, run."), empty for a full
    run's."""
    found = re.search(r"; rows: ([a-z, ]+)\.", line)
    return {t.strip() for t in found.group(1).split(",")} if found else set()


#: Starts the line that says where rows a partial run did not measure come from.
KEPT = "Rows not measured by the run above are from the earlier run of"


#: In docs/BENCHMARKS.md, everything from this line on is other benches' and is kept.
KEEP_MARK = "<!-- other benches below: bench_peers.py --write keeps this part -->"


if __name__ == "__main__":
    main()
