"""The overview record: what the model file says about itself, counted without reading weights.

Building it imports neither onnx nor numpy (``onnx-inspector overview`` of a 92 MB model took
1.4 s, 1 s of it ``import onnx``): the model is parsed with onnx's message classes alone (see
:mod:`inspector.model.proto`) and the weight totals are summed here from dtypes and dims, the
same figures the Weights page's rows carry (a test holds the two equal on every real model).
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.model.dtypes import declared_bytes, dtype_name, tensor_elements
from inspector.model.load import LoadedModel
from inspector.model.proto import TensorProto
from inspector.model.walk import WalkResult, walk
from inspector.records import Record

if TYPE_CHECKING:
    import onnx


@dataclass(frozen=True)
class Dim:
    """One dimension: ``fixed`` (value), ``symbolic`` (named, e.g. ``batch``) or ``unknown``."""

    kind: str
    value: int | str | None

    def __str__(self) -> str:
        return "?" if self.kind == "unknown" else str(self.value)


@dataclass(frozen=True, kw_only=True)
class ValueInfo(Record):
    """A graph input or output."""

    name: str
    kind: str  # "tensor", "sequence", "map", "optional", "sparse_tensor", "unknown"
    dtype: str
    dims: tuple[Dim, ...] | None  # None: rank unknown
    doc_string: str = ""

    @property
    def shape_text(self) -> str:
        if self.dims is None:
            return "(rank unknown)"
        return "[" + ", ".join(str(d) for d in self.dims) + "]"


@dataclass(frozen=True, kw_only=True)
class OpsetImport(Record):
    domain: str  # "" is shown as "ai.onnx"
    version: int
    nodes_using: int
    used: bool


@dataclass(frozen=True, kw_only=True)
class Counts(Record):
    nodes_total: int  # all graphs, subgraphs and function bodies
    nodes_main_graph: int
    subgraphs: int
    functions: int
    initializers: int  # tensors in `initializer` of all graphs (not Constant nodes)
    parameters: int  # elements of the Weights page's rows (initializers + Constant values)
    bytes_inline: int
    bytes_external: int


@dataclass(frozen=True, kw_only=True)
class Overview(Record):
    name: str
    file_bytes: int
    ir_version: int
    producer_name: str
    producer_version: str
    domain: str
    model_version: int
    doc_string: str
    graph_name: str
    metadata_props: tuple[tuple[str, str], ...]
    opset_imports: tuple[OpsetImport, ...]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]
    initializers_listed_as_inputs: tuple[str, ...]
    counts: Counts


def domain_label(domain: str) -> str:
    return domain or "ai.onnx"


def value_info(vi: onnx.ValueInfoProto) -> ValueInfo:
    return type_info(vi.name, vi.type, vi.doc_string)


def type_info(name: str, tp: onnx.TypeProto, doc: str = "") -> ValueInfo:
    which = tp.WhichOneof("value")
    if which == "tensor_type" or which == "sparse_tensor_type":
        tt = getattr(tp, which)
        dims = None
        if tt.HasField("shape"):
            dims = tuple(_dim(d) for d in tt.shape.dim)
        kind = "tensor" if which == "tensor_type" else "sparse_tensor"
        return ValueInfo(
            name=name, kind=kind, dtype=dtype_name(tt.elem_type), dims=dims, doc_string=doc
        )
    if which == "sequence_type":
        inner = type_info(name, tp.sequence_type.elem_type)
        return ValueInfo(
            name=name, kind="sequence", dtype=f"seq({inner.dtype})", dims=inner.dims, doc_string=doc
        )
    if which == "optional_type":
        inner = type_info(name, tp.optional_type.elem_type)
        return ValueInfo(
            name=name,
            kind="optional",
            dtype=f"optional({inner.dtype})",
            dims=inner.dims,
            doc_string=doc,
        )
    if which == "map_type":
        value = type_info(name, tp.map_type.value_type)
        return ValueInfo(
            name=name,
            kind="map",
            dtype=f"map({dtype_name(tp.map_type.key_type)}, {value.dtype})",
            dims=None,
            doc_string=doc,
        )
    return ValueInfo(name=name, kind="unknown", dtype="unknown", dims=None, doc_string=doc)


def _dim(d: onnx.TensorShapeProto.Dimension) -> Dim:
    if d.HasField("dim_value"):
        return Dim("fixed", d.dim_value)
    if d.HasField("dim_param") and d.dim_param:
        return Dim("symbolic", d.dim_param)
    return Dim("unknown", None)


def build_overview(model: LoadedModel) -> Overview:
    """Describe ``model`` from its metadata, without decoding any tensor payload."""
    proto = model.proto
    walked = walk(proto, model.limits)
    usage: Counter[str] = Counter()
    nodes_total = 0
    for scope in walked.scopes:
        nodes_total += len(scope.nodes)
        for node in scope.nodes:
            usage[node.domain if node.domain != "ai.onnx" else ""] += 1
    # A node calling a model-local function counts as a use of the function's domain only.
    opsets = tuple(
        OpsetImport(
            domain=o.domain,
            version=o.version,
            nodes_using=usage.get(o.domain if o.domain != "ai.onnx" else "", 0),
            used=usage.get(o.domain if o.domain != "ai.onnx" else "", 0) > 0,
        )
        for o in proto.opset_import
    )

    # The same rows the Weights page lists (initializers, sparse initializers, Constant values),
    # so both pages agree; tensor attributes of other ops (ConstantOfShape's fill value) are
    # not weights.
    n_init = sum(len(s.graph.initializer) for s in walked.scopes if s.graph is not None)
    params, inline, external = weight_totals(walked)

    init_names = {t.name for t in proto.graph.initializer}
    inputs = tuple(value_info(v) for v in proto.graph.input if v.name not in init_names)
    listed = tuple(v.name for v in proto.graph.input if v.name in init_names)
    counts = Counts(
        nodes_total=nodes_total,
        nodes_main_graph=len(proto.graph.node),
        subgraphs=sum(1 for s in walked.scopes if s.kind == "subgraph"),
        functions=len(proto.functions),
        initializers=n_init,
        parameters=params,
        bytes_inline=inline,
        bytes_external=external,
    )
    return Overview(
        name=model.name,
        file_bytes=model.size_bytes,
        ir_version=proto.ir_version,
        producer_name=proto.producer_name,
        producer_version=proto.producer_version,
        domain=proto.domain,
        model_version=proto.model_version,
        doc_string=proto.doc_string,
        graph_name=proto.graph.name,
        metadata_props=tuple((p.key, p.value) for p in proto.metadata_props),
        opset_imports=opsets,
        inputs=inputs,
        outputs=tuple(value_info(v) for v in proto.graph.output),
        initializers_listed_as_inputs=listed,
        counts=counts,
    )


#: Constant attributes that hold a value; the scalar ones hold no TensorProto.
_CONSTANT_VALUE_ATTRS = frozenset(
    ("value", "value_float", "value_floats", "value_int", "value_ints", "value_string")
    + ("value_strings", "sparse_value")
)
#: Scalar Constant attributes → (field, bytes per element, repeated). The bytes are the itemsize
#: of the numpy array the Weights page decodes each to: float32, int64, and for strings an object
#: array (one pointer each).
_SCALAR_ATTRS = {
    "value_float": ("f", 4, False),
    "value_floats": ("floats", 4, True),
    "value_int": ("i", 8, False),
    "value_ints": ("ints", 8, True),
    "value_string": ("s", struct.calcsize("P"), False),
    "value_strings": ("strings", struct.calcsize("P"), True),
}


def weight_totals(walked: WalkResult) -> tuple[int, int, int]:
    """(parameters, inline bytes, external bytes) summed over the rows the Weights page lists
    (:func:`inspector.model.initializers.build_initializers`: initializers, sparse initializers,
    Constant values), from dtypes and dims alone — without importing numpy or onnx."""
    params = inline = external = 0

    def add(elements: int, size: int, t: onnx.TensorProto | None) -> None:
        nonlocal params, inline, external
        params += elements
        if t is not None and t.data_location == TensorProto.EXTERNAL:
            external += size
        else:
            inline += size

    for scope in walked.scopes:
        if scope.graph is not None:
            for t in scope.graph.initializer:
                add(max(tensor_elements(t), 0), declared_bytes(t), t)
            for sp in scope.graph.sparse_initializer:
                dims_ok = all(d >= 0 for d in sp.dims)
                add(math.prod(sp.dims) if dims_ok else 0, declared_bytes(sp.values), sp.values)
        for node in scope.nodes:
            if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
                continue
            for attr in node.attribute:
                if attr.name not in _CONSTANT_VALUE_ATTRS:
                    continue
                if attr.HasField("t"):
                    add(max(tensor_elements(attr.t), 0), declared_bytes(attr.t), attr.t)
                elif attr.HasField("sparse_tensor"):
                    t = attr.sparse_tensor.values
                    add(max(tensor_elements(t), 0), declared_bytes(t), t)
                elif attr.name in _SCALAR_ATTRS:
                    field, item_bytes, repeated = _SCALAR_ATTRS[attr.name]
                    n = len(getattr(attr, field)) if repeated else 1
                    add(n, n * item_bytes, None)
                # else a 'value'/'sparse_value' holding no tensor: a row of 0 elements, 0 bytes
    return params, inline, external
