"""What OpenVINO does with the real models where its plugin EP lists no device (AMD hosts).

The app runs OpenVINO through its plugin EP (``onnxruntime-ep-openvino``), whose factory offers
only Intel devices: on an AMD EPYC it lists none, though OpenVINO's own runtime computes there.
OpenVINO's own onnxruntime build (``onnxruntime-openvino``: the same EP compiled in, selected
with ``providers=``, no vendor check) runs on any x86-64 CPU — but it replaces the
``onnxruntime`` package, so it lives only in this script's own virtual environment (``--venv``,
created on first use, without the project's site-packages). Measured there, for every cached
real model of the test catalogue: the nodes OpenVINO takes and the ops left on CPU, the largest
output difference against the CPU EP at OpenVINO's default precision and with
``INFERENCE_PRECISION_HINT`` f32 and bf16 in ``load_config``, or OpenVINO's failure in its own
words (:func:`inspector.run.readout.eplog.openvino_words`).

It is a probe, not a benchmark: it reports, never fails, and the figures are facts for choosing
demo models and writing tests that run where the plugin does list a device (Intel). The build's
EP differs from the plugin's release (1.24.1 bundles an older OpenVINO; the 1.8.1 plugin's op
table also names IsNaN, IsInf and STFT), so a model this build fails on may load with the
plugin, and the reverse.

``python bench/probe_openvino.py [--venv DIR] [--real ID ...]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = "onnxruntime-openvino==1.24.1"
HINTS = (None, "f32", "bf16")


def ensure_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             BUILD, "onnx", "numpy"],
            check=True,
        )  # fmt: skip
    return python


def inside(ids: list[str]) -> None:
    """In the venv: one JSON line per model (nothing of the project's runtime is imported)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    sys.path.insert(0, str(ROOT))
    from tests import realmodels

    for model in realmodels.available():
        if ids and model.id not in ids:
            continue
        row: dict = {"id": model.id, "runs": {}}
        try:
            feeds = realmodels.inputs(model, onnx.load(model.path, load_external_data=False))
            quiet = ort.SessionOptions()
            quiet.log_severity_level = 4
            cpu = ort.InferenceSession(str(model.path), quiet, providers=["CPUExecutionProvider"])
            ref = cpu.run(None, feeds)
            for hint in HINTS:
                options = {"device_type": "CPU"}
                if hint:  # this build takes load_config as JSON text; the plugin, as a file
                    options["load_config"] = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": hint}})
                so = ort.SessionOptions()
                so.log_severity_level = 4
                so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
                providers = [("OpenVINOExecutionProvider", options), "CPUExecutionProvider"]
                session = ort.InferenceSession(str(model.path), so, providers=providers)
                per_ep: dict[str, int] = {}
                on_cpu: set[str] = set()
                for part in session.get_provider_graph_assignment_info():
                    nodes = part.get_nodes()
                    per_ep[part.ep_name] = per_ep.get(part.ep_name, 0) + len(nodes)
                    if part.ep_name == "CPUExecutionProvider":
                        on_cpu |= {n.op_type for n in nodes}
                got = session.run(None, feeds)
                worst = max(
                    (float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
                     for a, b in zip(got, ref, strict=True) if a.dtype.kind == "f" and a.size),
                    default=0.0,
                )  # fmt: skip
                row["runs"][hint or "default"] = {
                    "per_ep": per_ep, "on_cpu": sorted(on_cpu), "max_abs": worst,
                }  # fmt: skip
        except Exception as exc:  # the model's row says why; the next model still runs
            row["error"] = str(exc)
        print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", default=str(Path(tempfile.gettempdir()) / "onnx-inspector-ov"))
    ap.add_argument("--real", nargs="*", default=[], metavar="ID", help="only these models")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        inside(args.real)
        return
    from inspector.run.readout.eplog import openvino_words

    python = ensure_venv(Path(args.venv))
    done = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--inside", "--real", *args.real],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    print(f"OpenVINO EP of {BUILD} (no vendor check), CPU device, against the CPU EP")
    print(f"{'model':30} {'OpenVINO/total':>14}  {'max |Δ| default / f32 / bf16':30}  on CPU")
    for line in done.stdout.splitlines():
        row = json.loads(line)
        if "error" in row:
            print(f"{row['id']:30} {'fails':>14}  {openvino_words(row['error'])[:400]}")
            continue
        runs = row["runs"]
        first = runs["default"]
        total = sum(first["per_ep"].values())
        taken = first["per_ep"].get("OpenVINOExecutionProvider", 0)
        deltas = " / ".join(f"{runs[h or 'default']['max_abs']:.2g}" for h in HINTS)
        print(f"{row['id']:30} {f'{taken}/{total}':>14}  {deltas:30}  {', '.join(first['on_cpu'])}")
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
