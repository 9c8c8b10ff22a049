"""ONNX element types: names, storage sizes, and which IR version introduced them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.model.proto import TensorProto as TP

if TYPE_CHECKING:
    import numpy as np
    import onnx

#: Bits per element as stored in ``raw_data`` (sub-byte types are packed).
BITS: dict[int, int] = {
    TP.FLOAT: 32,
    TP.UINT8: 8,
    TP.INT8: 8,
    TP.UINT16: 16,
    TP.INT16: 16,
    TP.INT32: 32,
    TP.INT64: 64,
    TP.BOOL: 8,
    TP.FLOAT16: 16,
    TP.DOUBLE: 64,
    TP.UINT32: 32,
    TP.UINT64: 64,
    TP.COMPLEX64: 64,
    TP.COMPLEX128: 128,
    TP.BFLOAT16: 16,
    TP.FLOAT8E4M3FN: 8,
    TP.FLOAT8E4M3FNUZ: 8,
    TP.FLOAT8E5M2: 8,
    TP.FLOAT8E5M2FNUZ: 8,
    TP.UINT4: 4,
    TP.INT4: 4,
}
for _name, _bits in (
    ("FLOAT4E2M1", 4),
    ("FLOAT8E8M0", 8),
    ("UINT2", 2),
    ("INT2", 2),
    ("FLOAT6E2M3", 6),
    ("FLOAT6E3M2", 6),
):
    if _name in TP.DataType.keys():
        BITS[TP.DataType.Value(_name)] = _bits

#: The IR version that introduced each element type (from the history in onnx.proto).
MIN_IR: dict[str, int] = {
    "BFLOAT16": 4,
    "FLOAT8E4M3FN": 9,
    "FLOAT8E4M3FNUZ": 9,
    "FLOAT8E5M2": 9,
    "FLOAT8E5M2FNUZ": 9,
    "UINT4": 10,
    "INT4": 10,
    "FLOAT4E2M1": 11,
    "FLOAT8E8M0": 12,
    "UINT2": 13,
    "INT2": 13,
    "FLOAT6E2M3": 14,
    "FLOAT6E3M2": 14,
}


def dtype_name(data_type: int) -> str:
    """``FLOAT`` for 1; ``UNKNOWN(99)`` for values this onnx does not define."""
    try:
        return TP.DataType.Name(data_type)
    except ValueError:
        return f"UNKNOWN({data_type})"


def storage_bytes(data_type: int, elements: int) -> int | None:
    """Bytes ``elements`` values take in ``raw_data``; ``None`` for strings/unknown types."""
    bits = BITS.get(data_type)
    if bits is None:
        return None
    return (elements * bits + 7) // 8


def tensor_elements(t: onnx.TensorProto) -> int:
    """Number of values by ``dims``; 0 for an invalid shape (a negative dim)."""
    if any(d < 0 for d in t.dims):
        return 0
    n = 1
    for d in t.dims:
        n *= d
    return n


def declared_bytes(t: onnx.TensorProto) -> int:
    """Bytes the tensor's values take according to its type and dims (no payload read)."""
    size = storage_bytes(t.data_type, max(tensor_elements(t), 0))
    if size is not None:
        return size
    return sum(len(s) for s in t.string_data)  # strings: only known from the payload


#: Element types numpy lacks, by ONNX name → the ml_dtypes name numpy arrays of them carry.
#: Their arrays travel (worker files, ``.npz``, bundles) as their codes — uint8, or uint16 for
#: bfloat16; the sub-byte types one code per byte — and :func:`typed` restores the type.
ML_DTYPES: dict[str, str] = {
    "BFLOAT16": "bfloat16",
    "FLOAT8E4M3FN": "float8_e4m3fn",
    "FLOAT8E4M3FNUZ": "float8_e4m3fnuz",
    "FLOAT8E5M2": "float8_e5m2",
    "FLOAT8E5M2FNUZ": "float8_e5m2fnuz",
    "FLOAT8E8M0": "float8_e8m0fnu",
    "FLOAT4E2M1": "float4_e2m1fn",
    "INT4": "int4",
    "UINT4": "uint4",
    "INT2": "int2",
    "UINT2": "uint2",
}


#: Element types numpy has, by ONNX name → numpy's name (as onnx maps them).
NUMPY_NAMES: dict[str, str] = {
    "FLOAT": "float32",
    "UINT8": "uint8",
    "INT8": "int8",
    "UINT16": "uint16",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "FLOAT16": "float16",
    "DOUBLE": "float64",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "COMPLEX64": "complex64",
    "COMPLEX128": "complex128",
}


def numpy_type(name: str) -> type:
    """The numpy scalar type of an ONNX element type name, as onnx's
    ``helper.tensor_dtype_to_np_dtype`` gives it, without importing onnx (ml_dtypes only for
    the types numpy lacks). Raises KeyError for strings and names without one."""
    import numpy as np

    if name in NUMPY_NAMES:
        return np.dtype(NUMPY_NAMES[name]).type
    found = ml_dtype(ML_DTYPES[name])
    assert found is not None
    return found.type


#: Which typed field holds each numeric type's values when there is no ``raw_data`` (onnx.proto):
#: FLOAT16 keeps its bits in int32_data.
_TYPED_FIELD: dict[str, str] = {
    "FLOAT": "float_data",
    "DOUBLE": "double_data",
    "INT64": "int64_data",
    "UINT32": "uint64_data",
    "UINT64": "uint64_data",
    **{n: "int32_data" for n in ("INT32", "INT16", "INT8", "UINT16", "UINT8", "BOOL", "FLOAT16")},
}


def plain_array(t: onnx.TensorProto) -> np.ndarray | None:
    """An inline tensor of a type numpy has (not complex) as an array, decoded as onnx's
    ``numpy_helper.to_array`` does but without importing onnx; None for other types and for
    external data (the caller falls back to onnx or skips it)."""
    import numpy as np

    name = TP.DataType.Name(t.data_type) if t.data_type in TP.DataType.values() else ""
    field = _TYPED_FIELD.get(name)
    if field is None or t.data_location == TP.EXTERNAL:
        return None
    dtype = np.dtype(NUMPY_NAMES[name])
    shape = tuple(t.dims)
    if t.HasField("raw_data"):
        return np.frombuffer(t.raw_data, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    values = getattr(t, field)
    if name == "FLOAT16":  # the bits, one value per int32
        return np.asarray(values, np.uint16).view(np.float16).reshape(shape)
    return np.asarray(values, dtype=dtype).reshape(shape)


def ml_dtype(name: str) -> np.dtype | None:
    """The numpy dtype of an ml_dtypes name (``bfloat16``, ``int4`` …), None for other names."""
    if name not in ML_DTYPES.values():
        return None
    import ml_dtypes
    import numpy as np

    return np.dtype(getattr(ml_dtypes, name))


def is_ml_dtype(dtype: np.dtype) -> bool:
    return type(dtype).__module__.startswith("ml_dtypes") or dtype.name in ML_DTYPES.values()


def codes(arr: np.ndarray) -> np.ndarray:
    """An ml_dtypes array as its codes (uint8/uint16), the form ``.npy`` keeps; others as is."""
    if not is_ml_dtype(arr.dtype):
        return arr
    import numpy as np

    return arr.view(np.uint8 if arr.dtype.itemsize == 1 else np.uint16)


def typed(arr: np.ndarray, dtype_name: str) -> np.ndarray:
    """``arr`` back in its ml_dtypes type ``dtype_name`` when it holds that type's codes (as
    :func:`codes` made them, or as ``.npy`` reads them back: void of the same size)."""
    want = ml_dtype(dtype_name)
    if want is None or arr.dtype == want:
        return arr
    if arr.dtype.kind in "uV" and arr.dtype.itemsize == want.itemsize:
        return arr.view(want)
    return arr
