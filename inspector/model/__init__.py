"""Inspection core: untrusted bytes → frozen records. No onnxruntime, no Streamlit.

Names are imported on first use (PEP 562), as in ``inspector/__init__``: ``overview`` needs only
:mod:`inspector.model.overview`, which never imports onnx (see :mod:`inspector.model.proto`);
eager re-exports of every record builder would import onnx, ml_dtypes and numpy (~1 s) first.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ resolves at run time, spelled out for type checkers
    from inspector.model.compat import CompatVerdict, build_compat
    from inspector.model.cost import CostRecord, build_cost
    from inspector.model.diagnose import Diagnosis, Finding, diagnose
    from inspector.model.external import ExternalDataReport, build_external_data
    from inspector.model.graph import GraphRecord, build_graph
    from inspector.model.initializers import (
        InitializerTable,
        TensorStats,
        build_initializers,
        tensor_array,
        tensor_stats,
    )
    from inspector.model.load import LoadedModel, load_model
    from inspector.model.overview import Overview, build_overview
    from inspector.model.subgraphs import SubgraphTree, build_subgraphs

_LAZY = {
    "CompatVerdict": "compat",
    "build_compat": "compat",
    "CostRecord": "cost",
    "build_cost": "cost",
    "Diagnosis": "diagnose",
    "Finding": "diagnose",
    "diagnose": "diagnose",
    "ExternalDataReport": "external",
    "build_external_data": "external",
    "GraphRecord": "graph",
    "build_graph": "graph",
    "InitializerTable": "initializers",
    "TensorStats": "initializers",
    "build_initializers": "initializers",
    "tensor_array": "initializers",
    "tensor_stats": "initializers",
    "LoadedModel": "load",
    "load_model": "load",
    "Overview": "overview",
    "build_overview": "overview",
    "SubgraphTree": "subgraphs",
    "build_subgraphs": "subgraphs",
}

__all__ = [
    "CompatVerdict",
    "CostRecord",
    "Diagnosis",
    "ExternalDataReport",
    "Finding",
    "GraphRecord",
    "InitializerTable",
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
    """A public name (imported from its module), or a submodule (``inspector.model.overview``
    as an attribute, before anything imported it)."""
    module = _LAZY.get(name)
    if module is None:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """``diagnose`` names both a submodule and the function it exports; the package attribute is
    the function, as eager imports left it. Importing the submodule (``from
    inspector.model.diagnose import Diagnosis``) binds the attribute to the module; that binding
    is dropped here, or ``from inspector.model import diagnose`` would hand back a module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "diagnose" and isinstance(value, types.ModuleType):
            return  # sys.modules keeps the module
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
