"""The EP fallback demo: the Det sample under the best usable second EP against CPU.

``sample_models/ep_fallback_det.onnx`` is MatMul → Tanh → {Det, Softmax}. Second EPs take
MatMul, Tanh and Softmax; none has a Det kernel, so Det falls back to the CPU EP — and the strict
copies (no CPU fallback) are refused by ONNX Runtime — the outcome the demo expects
(:func:`inspector.run.readout.outcome.outcome`). The app's one-click demo and the CLI
(``onnx-inspector run sample_models/ep_fallback_det.onnx --ep ggml,cpu --level disable_all
--level all``) run the same matrix, the strict copies aside.
"""

from __future__ import annotations

from dataclasses import replace

from inspector.run.setup.config import (
    Matrix,
    RunConfig,
    expand_matrix,
    parse_ep,
    text_pairs,
    with_strict_variants,
)
from inspector.run.setup.eps import EpInfo, second_eps
from inspector.run.setup.options import OPENVINO

DEMO_SAMPLE = "ep_fallback_det.onnx"


def demo_ep() -> EpInfo | None:
    """The second EP the demo uses here (OpenVINO where it has a device, else ggml, …)."""
    usable = second_eps()
    return usable[0] if usable else None


#: EP options the demo sets so that outputs compare like with like: OpenVINO's CPU plugin
#: computes in bf16 by default on CPUs with AMX or AVX-512 BF16 (YOLOv8n: max |Δ| 1.42 against
#: CPU; at f32 1.2e-4 — measured through OpenVINO's own onnxruntime build on an AMD EPYC), and a
#: demo about which node fell back should not land on a precision difference.
DEMO_OPTIONS: dict[str, dict[str, str]] = {OPENVINO: {"precision": "FP32"}}


def demo_matrix(ep: str, base: RunConfig | None = None) -> Matrix:
    """Reference, CPU at all, ``ep``+CPU at disable_all and all, and their strict copies (the
    default matrix's CPU at each level: see :meth:`inspector.run.setup.plan.RunPlan.matrix`)."""
    base = base or RunConfig(warmup_runs=2, timed_runs=10, profiled_runs=3)
    levels = ["disable_all", "all"]
    spec = parse_ep(ep)
    spec = replace(spec, options=text_pairs(DEMO_OPTIONS.get(spec.name, {})))
    return with_strict_variants(expand_matrix(["cpu", [spec, "cpu"]], levels, [{}], base))


def fallback_label(matrix: Matrix) -> str:
    """The configuration the demo lands on: the second EP with all optimizations, not strict."""
    return next(
        c.label
        for c in reversed(matrix.configs)
        if not c.strict and c.opt_level == "all" and c.eps[0].name != "CPUExecutionProvider"
    )
