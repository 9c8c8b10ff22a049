"""Weights: every initializer and Constant-node value, with statistics computed on demand.

Listing reads no payloads (sizes come from dtype × dims). :func:`tensor_stats` decodes one
tensor — inline, or external through the validated companion files — and never raises for a
bad tensor: the problem is returned as the record's ``error``.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace

import numpy as np
import onnx
from onnx import numpy_helper

from inspector.errors import NotFoundError
from inspector.model.dtypes import declared_bytes, dtype_name, tensor_elements
from inspector.model.external import check_tensor
from inspector.model.load import LoadedModel
from inspector.model.walk import walk
from inspector.records import Record

_SCALAR_ATTRS = (
    "value_float",
    "value_floats",
    "value_int",
    "value_ints",
    "value_string",
    "value_strings",
)
_CONSTANT_VALUE_ATTRS = (
    "value",
    "value_float",
    "value_floats",
    "value_int",
    "value_ints",
    "value_string",
    "value_strings",
    "sparse_value",
)


@dataclass(frozen=True, kw_only=True)
class InitializerRow(Record):
    key: str  # unique: "<graph id>/<name>" or "<node id>/<attribute>" for Constant values
    name: str
    source: str  # "initializer", "sparse_initializer", "Constant"
    graph: str
    dtype: str
    shape: tuple[int, ...]
    elements: int
    bytes: int
    storage: str  # "inline" or "external"
    location: str  # external file name ("" when inline)
    error: str = ""  # why the entry is malformed ("" when it is not)


@dataclass(frozen=True, kw_only=True)
class TensorStats(Record):
    key: str
    dtype: str
    shape: tuple[int, ...]
    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    zero_fraction: float | None
    nan_count: int
    inf_count: int
    histogram_counts: tuple[int, ...]
    histogram_edges: tuple[float, ...]
    preview: tuple[str, ...]  # first values as text (strings decoded safely)
    invalid_utf8: int  # strings that were not valid UTF-8 (shown with escapes)
    error: str  # why the tensor could not be decoded ("" when it could)


@dataclass(frozen=True)
class InitializerTable(Record):
    rows: tuple[InitializerRow, ...]
    total_bytes: int
    total_elements: int


def _tensors(
    model: LoadedModel,
) -> list[tuple[InitializerRow, onnx.TensorProto | None, onnx.AttributeProto | None]]:
    out: list[tuple[InitializerRow, onnx.TensorProto | None, onnx.AttributeProto | None]] = []
    for scope in walk(model.proto, model.limits).scopes:
        if scope.graph is not None:
            for t in scope.graph.initializer:
                out.append(
                    (_row(f"{scope.id}/{t.name}", t.name, "initializer", scope.id, t), t, None)
                )
            for sp in scope.graph.sparse_initializer:
                t = sp.values
                row = _row(f"{scope.id}/{t.name}", t.name, "sparse_initializer", scope.id, t)
                row = replace(
                    row,
                    shape=tuple(sp.dims),
                    elements=math.prod(sp.dims) if all(d >= 0 for d in sp.dims) else 0,
                )
                out.append((row, t, None))
        for i, node in enumerate(scope.nodes):
            if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
                continue
            for attr in node.attribute:
                if attr.name not in _CONSTANT_VALUE_ATTRS:
                    continue
                name = node.output[0] if node.output else node.name
                key = f"{scope.node_id(i)}/{attr.name}"
                if attr.HasField("t"):
                    out.append((_row(key, name, "Constant", scope.id, attr.t), attr.t, None))
                elif attr.HasField("sparse_tensor"):
                    t = attr.sparse_tensor.values
                    out.append((_row(key, name, "Constant", scope.id, t), t, None))
                elif attr.name in _SCALAR_ATTRS:
                    out.append((_attr_row(key, name, scope.id, attr), None, attr))
                else:  # 'value'/'sparse_value' that holds no tensor: a malformed Constant
                    row = InitializerRow(
                        key=key,
                        name=name,
                        source="Constant",
                        graph=scope.id,
                        dtype="UNDEFINED",
                        shape=(),
                        elements=0,
                        bytes=0,
                        storage="inline",
                        location="",
                        error=f"attribute {attr.name!r} holds no tensor",
                    )
                    out.append((row, None, None))
    return out


def _row(key: str, name: str, source: str, graph: str, t: onnx.TensorProto) -> InitializerRow:
    external = t.data_location == onnx.TensorProto.EXTERNAL
    location = (
        next((e.value for e in t.external_data if e.key == "location"), "") if external else ""
    )
    return InitializerRow(
        key=key,
        name=name,
        source=source,
        graph=graph,
        dtype=dtype_name(t.data_type),
        shape=tuple(t.dims),
        elements=max(tensor_elements(t), 0),
        bytes=declared_bytes(t),
        storage="external" if external else "inline",
        location=location,
    )


def _attr_row(key: str, name: str, graph: str, attr: onnx.AttributeProto) -> InitializerRow:
    values = _attr_array(attr)
    return InitializerRow(
        key=key,
        name=name,
        source="Constant",
        graph=graph,
        dtype=_attr_dtype(attr),
        shape=tuple(values.shape),
        elements=int(values.size),
        bytes=int(values.nbytes),
        storage="inline",
        location="",
    )


def _attr_dtype(attr: onnx.AttributeProto) -> str:
    return {
        "value_float": "FLOAT",
        "value_floats": "FLOAT",
        "value_int": "INT64",
        "value_ints": "INT64",
        "value_string": "STRING",
        "value_strings": "STRING",
    }[attr.name]


def _attr_array(attr: onnx.AttributeProto) -> np.ndarray:
    if attr.name == "value_float":
        return np.array(attr.f, np.float32)
    if attr.name == "value_floats":
        return np.array(attr.floats, np.float32)
    if attr.name == "value_int":
        return np.array(attr.i, np.int64)
    if attr.name == "value_ints":
        return np.array(attr.ints, np.int64)
    if attr.name == "value_string":
        return np.array([attr.s], object)
    return np.array(list(attr.strings), object)


def build_initializers(model: LoadedModel) -> InitializerTable:
    rows = tuple(row for row, _, _ in _tensors(model))
    return InitializerTable(rows, sum(r.bytes for r in rows), sum(r.elements for r in rows))


def tensor_array(model: LoadedModel, key: str) -> np.ndarray:
    """Decode one weight (by row key or name) to numpy, reading external data safely.

    Raises:
        NotFoundError: no weight has that key or name.
        ValueError: the payload cannot be decoded (callers turn this into a row error).
    """
    row, t, attr = _find(model, key)
    if attr is not None:
        return _attr_array(attr)
    if t is None:
        raise ValueError(row.error or "no tensor")
    if any(d < 0 for d in t.dims):
        raise ValueError(f"negative dims {list(t.dims)}: not a valid shape")
    # What decoding costs, not what the file stores: a 64 MiB INT4 tensor is 128 M values, and
    # statistics work on them as float64 (1 GiB) — sub-byte types multiplied memory 30–63×.
    work = max(row.bytes, row.elements * 8)
    if work > model.limits.max_stats_tensor_bytes:
        raise ValueError(
            f"decoding it takes {work:,} bytes ({row.elements:,} values as float64), over the "
            f"max_stats_tensor_bytes limit ({model.limits.max_stats_tensor_bytes:,})"
        )
    if t.data_location == onnx.TensorProto.EXTERNAL:
        check = check_tensor(model, row.key, row.graph, t)
        if not check.usable:
            raise ValueError("; ".join(check.messages))
        length = check.length if check.length is not None else check.expected_bytes
        data = model.companions.read(check.file, check.offset or 0, length)
        inline = onnx.TensorProto()
        inline.name, inline.data_type = t.name, t.data_type
        inline.dims.extend(t.dims)
        inline.raw_data = data
        t = inline
    _check_payload(t)
    if t.data_type == onnx.TensorProto.STRING:  # keep bytes: to_array fails on bad UTF-8
        return np.array(list(t.string_data), dtype=object).reshape(tuple(t.dims))
    return numpy_helper.to_array(t)


def _check_payload(t: onnx.TensorProto) -> None:
    """Refuse a payload whose size disagrees with dtype × dims (to_array may misread it)."""
    if t.data_type == onnx.TensorProto.STRING:
        if len(t.string_data) != tensor_elements(t):
            raise ValueError(
                f"{len(t.string_data)} strings stored, shape needs {tensor_elements(t)}"
            )
        return
    expected = declared_bytes(t)
    if t.HasField("raw_data"):
        if len(t.raw_data) != expected:
            raise ValueError(
                f"raw_data holds {len(t.raw_data):,} bytes but {dtype_name(t.data_type)} "
                f"{list(t.dims)} needs {expected:,}"
            )
        return
    n = tensor_elements(t)
    stored = max(
        len(t.float_data),
        len(t.int32_data),
        len(t.int64_data),
        len(t.double_data),
        len(t.uint64_data),
    )
    if n and stored == 0:
        raise ValueError("the tensor has no data (no raw_data and no typed values)")


#: Each model's weights, listed once: a lookup walked the whole model, so comparing every weight
#: of two models (the Model diff) cost n walks — 1.4 s on a 160-weight MiniLM pair. The proto
#: is read-only, so the list stays true; it goes with the model.
_LISTED: weakref.WeakKeyDictionary[
    LoadedModel,
    list[tuple[InitializerRow, onnx.TensorProto | None, onnx.AttributeProto | None]],
] = weakref.WeakKeyDictionary()


def _find(
    model: LoadedModel, key: str
) -> tuple[InitializerRow, onnx.TensorProto | None, onnx.AttributeProto | None]:
    entries = _LISTED.get(model)
    if entries is None:
        entries = _LISTED[model] = _tensors(model)
    for entry in entries:
        if entry[0].key == key:
            return entry
    for entry in entries:
        if entry[0].name == key:
            return entry
    raise NotFoundError(f"No initializer or Constant value named {key!r}.")


def tensor_stats(model: LoadedModel, key: str, bins: int | None = None) -> TensorStats:
    """Statistics and a histogram for one weight. Decoding problems are returned in ``error``."""
    row, _, _ = _find(model, key)
    bins = bins or model.limits.histogram_bins
    empty = TensorStats(
        key=row.key,
        dtype=row.dtype,
        shape=row.shape,
        count=row.elements,
        min=None,
        max=None,
        mean=None,
        std=None,
        zero_fraction=None,
        nan_count=0,
        inf_count=0,
        histogram_counts=(),
        histogram_edges=(),
        preview=(),
        invalid_utf8=0,
        error="",
    )
    try:
        values = tensor_array(model, row.key)
    except (ValueError, TypeError, OverflowError) as exc:
        return replace(empty, error=str(exc) or type(exc).__name__)
    except Exception as exc:  # onnx decoders raise assorted types for corrupt payloads
        return replace(empty, error=f"cannot decode: {exc}")
    if values.dtype == object or values.dtype.kind in "SU":
        preview, invalid = [], 0
        for item in values.reshape(-1)[:20]:
            if isinstance(item, bytes):
                try:
                    item = item.decode("utf-8")
                except UnicodeDecodeError:
                    invalid += 1
                    item = item.decode("utf-8", "backslashreplace")
            preview.append(str(item)[:200])
        all_invalid = sum(1 for x in values.reshape(-1) if isinstance(x, bytes) and not _utf8(x))
        return replace(
            empty, count=int(values.size), preview=tuple(preview), invalid_utf8=all_invalid
        )
    flat = values.reshape(-1)
    if values.dtype.kind == "c":
        flat = np.abs(flat)
    as_float = flat.astype(np.float64)  # ml_dtypes (bfloat16, float8, int4...) cast too
    finite = as_float[np.isfinite(as_float)]
    nan = int(np.isnan(as_float).sum())
    inf = int(np.isinf(as_float).sum())
    counts: tuple[int, ...] = ()
    edges: tuple[float, ...] = ()
    mean = std = None
    if finite.size:
        # Scale before summing: values near ±1.8e308 would overflow mean/std and histogram.
        scale = float(np.abs(finite).max()) or 1.0
        scaled = finite / scale
        mean, std = float(scaled.mean() * scale), float(scaled.std() * scale)
        try:
            hist, edge = np.histogram(scaled, bins=max(1, bins))
            counts = tuple(int(c) for c in hist)
            edges = tuple(float(e * scale) for e in edge)
        except ValueError:  # degenerate ranges numpy cannot bin
            counts, edges = (), ()
    return TensorStats(
        key=row.key,
        dtype=row.dtype,
        shape=row.shape,
        count=int(flat.size),
        min=float(finite.min()) if finite.size else None,
        max=float(finite.max()) if finite.size else None,
        mean=mean,
        std=std,
        zero_fraction=float((as_float == 0).mean()) if flat.size else None,
        nan_count=nan,
        inf_count=inf,
        histogram_counts=counts,
        histogram_edges=edges,
        preview=tuple(_fmt(v) for v in flat[:20]),
        invalid_utf8=0,
        error="",
    )


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _fmt(v: object) -> str:
    try:
        return f"{float(v):.6g}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)
