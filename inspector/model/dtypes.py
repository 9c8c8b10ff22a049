"""ONNX element types: names, storage sizes, and which IR version introduced them."""

from __future__ import annotations

import onnx

TP = onnx.TensorProto

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
