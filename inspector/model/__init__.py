"""Inspection core: untrusted bytes → frozen records. No onnxruntime, no Streamlit."""

from inspector.model.compat import CompatVerdict, build_compat
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

__all__ = [
    "CompatVerdict",
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
