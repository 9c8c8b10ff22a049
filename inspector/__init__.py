"""ONNX Inspector: inspect ONNX models and compare them across ONNX Runtime configurations.

Typical use (also what the app and the CLI call)::

    from inspector import load_model, build_overview, diagnose
    model = load_model("model.onnx")          # companions: the model's folder
    print(build_overview(model).counts)
    for finding in diagnose(model).findings:
        print(finding.severity, finding.message)

Names are imported on first use (PEP 562): a run worker imports ``inspector.run.execute.worker`` in
60 ms, and eager re-exports would add onnx's 0.58 s to every worker start. Type checkers see the
same names as plain imports (the ``TYPE_CHECKING`` block), so ``py.typed`` holds.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ resolves at run time, spelled out for type checkers
    from inspector.errors import InspectorError
    from inspector.limits import DEFAULT_LIMITS, Limits
    from inspector.model import *  # noqa: F403 - the names in inspector.model.__all__

__version__ = "0.1.0"

_LAZY = {
    "InspectorError": "inspector.errors",
    "DEFAULT_LIMITS": "inspector.limits",
    "Limits": "inspector.limits",
}
__all__ = [  # _LAZY's names and inspector.model.__all__, resolved on first use
    "CompatVerdict",
    "CostRecord",
    "DEFAULT_LIMITS",
    "Diagnosis",
    "ExternalDataReport",
    "Finding",
    "GraphRecord",
    "InitializerTable",
    "InspectorError",
    "Limits",
    "LoadedModel",
    "Overview",
    "SubgraphTree",
    "TensorStats",
    "build_compat",
    "build_cost",
    "build_external_data",
    "build_graph",
    "build_initializers",
    "build_overview",
    "build_subgraphs",
    "diagnose",
    "load_model",
    "tensor_array",
    "tensor_stats",
]


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
