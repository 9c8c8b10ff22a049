"""Check the built sample models in onnxruntime.

Run from the repository root after building::

    python -m sample_models.verify [DIR]

Loads each sample from its path with the CPU EP and runs it once on random inputs,
printing output shapes; checks that ORT refuses ``too_new_for_runtime.onnx``; and runs
``ep_fallback_det.onnx`` under every plugin EP with a device here (ggml on any CPU, OpenVINO
on Intel), printing which EP each node was assigned to and the output deltas against a
CPU-only run. Exits non-zero if any check fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from sample_models.build import SAMPLE_DIR, SAMPLES, UNCHECKED

SYMBOLIC_DIMS = {"batch": 2, "sequence": 5}
_NP_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


def random_inputs(sess: ort.InferenceSession, rng: np.random.Generator) -> dict[str, np.ndarray]:
    feeds: dict[str, np.ndarray] = {}
    for arg in sess.get_inputs():
        shape = [d if isinstance(d, int) else SYMBOLIC_DIMS[d] for d in arg.shape]
        dtype = _NP_TYPES[arg.type]
        if arg.name == "input_ids":
            feeds[arg.name] = rng.integers(0, 100, shape, dtype=dtype)
        elif arg.name == "attention_mask":
            mask: np.ndarray = np.ones(shape, dtype=dtype)
            mask[:, -2:] = 0  # padded tail
            feeds[arg.name] = mask
        else:
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def _control_flow_reference(x: np.ndarray) -> list[np.ndarray]:
    if_out = x * np.array([2.0, 1.5, 1.0, 0.5], np.float32) if x.sum() > 0 else np.exp(-x)
    v, scan = x, []
    for i in range(3):
        v = v * 0.5 if i % 2 == 0 else v + 1.0
        scan.append(np.tanh(v))
    return [if_out, v, np.stack(scan)]


def run_cpu(path: Path, rng: np.random.Generator) -> bool:
    so = ort.SessionOptions()
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feeds = random_inputs(sess, rng)
    outs = sess.run(None, feeds)
    names = [o.name for o in sess.get_outputs()]
    print("  inputs : " + ", ".join(f"{k}{list(v.shape)}:{v.dtype}" for k, v in feeds.items()))
    print(
        "  outputs: "
        + ", ".join(f"{n}{list(o.shape)}:{o.dtype}" for n, o in zip(names, outs, strict=True))
    )
    ok = all(np.isfinite(o).all() for o in outs)
    if path.name == "control_flow_if_loop.onnx":
        # Exercise both If branches against a numpy reference.
        for values in ([1.0, -0.5, 2.0, 0.25], [-1.0, -0.5, 2.0, -3.0]):
            x = np.array(values, np.float32)
            got = sess.run(None, {"x": x})
            err = max(
                float(np.abs(g - r).max())
                for g, r in zip(got, _control_flow_reference(x), strict=True)
            )
            print(f"  sum(x)={x.sum():+.2f}: max abs diff vs numpy reference = {err:.2e}")
            ok &= err < 1e-5
    # Which fusions ORT applies at ORT_ENABLE_ALL (op types of the optimized graph).
    opt = ort.SessionOptions()
    opt.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opt.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    sess_all = ort.InferenceSession(str(path), opt, providers=["CPUExecutionProvider"])
    model = onnx.load(str(path), load_external_data=False)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    print(f"  ir_version={model.ir_version} opsets={opsets} graph={model.graph.name!r}")
    ok &= model.ir_version == 10 and opsets == {"ai.onnx": 21}
    ok &= len({n.name for n in model.graph.node}) == len(model.graph.node)
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        size = (path.parent / info["location"]).stat().st_size
        offset, length = int(info["offset"]), int(info["length"])
        expected = int(np.prod(tensor.dims)) * 4
        good = offset % 4096 == 0 and offset + length <= size and length == expected
        print(f"  external {tensor.name}: {info} (file {size} bytes) {'ok' if good else 'BAD'}")
        ok &= good
    print(f"  original ops: {[n.op_type for n in model.graph.node]}")
    assigned = [
        (n.op_type, n.name)
        for sg in sess_all.get_provider_graph_assignment_info()
        for n in sg.get_nodes()
    ]
    print(
        f"  assigned at ORT_ENABLE_ALL (recorded after level-1 fusions): {[t for t, _ in assigned]}"
    )
    return ok


def check_too_new(path: Path) -> bool:
    model = onnx.load(str(path))
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    print(f"  stamped ir_version={model.ir_version} opsets={opsets}")
    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - we want to show whatever ORT raises
        print(f"  ORT refused it as expected: {type(exc).__name__}: {exc}")
        return True
    print("  UNEXPECTED: ORT accepted it")
    return False


def check_second_eps(path: Path, rng: np.random.Generator) -> bool:
    """Under every plugin EP that lists a device here, Det stays on CPU and the rest does not."""
    from inspector.run.setup.eps import plugin_libraries
    from inspector.run.setup.options import with_defaults

    x = rng.standard_normal([2, 4, 4]).astype(np.float32)
    cpu = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = cpu.run(None, {"x": x})
    ok, ran = True, 0
    for ep_name, library in plugin_libraries():
        try:
            ort.register_execution_provider_library(ep_name, library)
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            print(f"  {ep_name}: library does not load ({exc}): skipped")
            continue
        devices = [d for d in ort.get_ep_devices() if d.ep_name == ep_name]
        if not devices:
            print(f"  {ep_name}: no device on this machine: skipped")
            continue
        so = ort.SessionOptions()
        so.add_provider_for_devices(devices, dict(with_defaults(ep_name, ())))
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
        sess = ort.InferenceSession(str(path), so)
        got = sess.run(None, {"x": x})
        assignment: dict[str, str] = {}
        for sg in sess.get_provider_graph_assignment_info():
            for n in sg.get_nodes():
                assignment[n.name] = sg.ep_name
                print(f"    {sg.ep_name:<28} {n.op_type:<8} {n.name}")
        for out, r, g in zip(cpu.get_outputs(), ref, got, strict=True):
            diff = float(np.abs(r - g).max())
            print(f"  {out.name}: max abs diff {ep_name} vs CPU-only = {diff:.3e}")
        this = assignment.get("det") == "CPUExecutionProvider" and all(
            ep == ep_name for name, ep in assignment.items() if name != "det"
        )
        print(f"  Det on CPU, rest on {ep_name}: {'yes' if this else 'NO'}")
        ok &= this
        ran += 1
    if not ran:
        print("  no plugin EP with a device here (pip install onnxruntime-ggml): FAIL")
    return ok and ran > 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sample_dir = Path(args[0]) if args else SAMPLE_DIR
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    rng = np.random.default_rng(0)
    failures = []
    for name in SAMPLES:
        path = sample_dir / name
        print(f"{name} ({path.stat().st_size} bytes)")
        try:
            if name in UNCHECKED:
                ok = check_too_new(path)
            else:
                onnx.checker.check_model(str(path), full_check=True)
                ok = run_cpu(path, rng)
                if name == "ep_fallback_det.onnx":
                    ok &= check_second_eps(path, rng)
        except Exception as exc:  # noqa: BLE001 - report and carry on
            print(f"  FAILED: {type(exc).__name__}: {exc}")
            ok = False
        if not ok:
            failures.append(name)
    print("all samples OK" if not failures else f"FAILED: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
