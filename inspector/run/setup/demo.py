"""The EP fallback demo: the Det sample under the best usable second EP against CPU.

``sample_models/ep_fallback_det.onnx`` is MatMul → Tanh → {Det, Softmax}. Second EPs take
MatMul, Tanh and Softmax; none has a Det kernel, so Det falls back to the CPU EP — and the strict
copies (no CPU fallback) are refused by ONNX Runtime — the outcome the demo expects
(:func:`inspector.run.readout.outcome.outcome`). The app's one-click demo and the CLI
(``onnx-inspector run sample_models/ep_fallback_det.onnx --ep ggml,cpu --level disable_all
--level all``) run the same matrix, the strict copies aside.
"""

from __future__ import annotations

from inspector.run.setup.config import Matrix, RunConfig, expand_matrix, with_strict_variants
from inspector.run.setup.eps import EpInfo, second_eps

DEMO_SAMPLE = "ep_fallback_det.onnx"


def demo_ep() -> EpInfo | None:
    """The second EP the demo uses here (OpenVINO where it has a device, else ggml, …)."""
    usable = second_eps()
    return usable[0] if usable else None


def demo_matrix(ep: str, base: RunConfig | None = None) -> Matrix:
    """Reference, CPU at all, ``ep``+CPU at disable_all and all, and their strict copies (the
    default matrix's CPU at each level: see :meth:`inspector.run.setup.plan.RunPlan.matrix`)."""
    base = base or RunConfig(warmup_runs=2, timed_runs=10, profiled_runs=3)
    levels = ["disable_all", "all"]
    return with_strict_variants(expand_matrix(["cpu", f"{ep},cpu"], levels, [{}], base))


def fallback_label(matrix: Matrix) -> str:
    """The configuration the demo lands on: the second EP with all optimizations, not strict."""
    return next(
        c.label
        for c in reversed(matrix.configs)
        if not c.strict and c.opt_level == "all" and c.eps[0].name != "CPUExecutionProvider"
    )
