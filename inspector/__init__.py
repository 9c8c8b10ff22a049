"""ONNX Inspector: inspect ONNX models and compare them across ONNX Runtime configurations.

Typical use (also what the app and the CLI call)::

    from inspector import load_model, build_overview, diagnose
    model = load_model("model.onnx")          # companions: the model's folder
    print(build_overview(model).counts)
    for finding in diagnose(model).findings:
        print(finding.severity, finding.message)

Names are imported on first use (PEP 562), so ``python -m inspector.run.worker`` and the CLI do
not pay for onnx and the records they never touch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "InspectorError": "inspector.errors",
    "DEFAULT_LIMITS": "inspector.limits",
    "Limits": "inspector.limits",
}
__all__ = sorted(_LAZY)  # plus everything in inspector.model.__all__, resolved on first use


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if name.startswith("__"):
            raise AttributeError(name)
        model = importlib.import_module("inspector.model")
        if name not in model.__all__:
            raise AttributeError(f"module 'inspector' has no attribute {name!r}")
        module = "inspector.model"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
