"""Explain why bytes do not parse as an ONNX model, from the protobuf wire format.

Protobuf's own parser only says "wire format was corrupt". This walker follows the ONNX message
descriptors field by field and reports the first structural problem: where a field runs past the
end of the file (a truncated copy), a nesting depth over protobuf's limit, or bytes that are not
ONNX protobuf at all. It is only run on files that failed to parse, and is bounded by
``Limits.max_wire_scan_fields``.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor

PROTOBUF_MAX_DEPTH = 100
_LEN, _VARINT, _I64, _I32 = 2, 0, 1, 5
_WIRE_FOR_TYPE = {
    FieldDescriptor.TYPE_DOUBLE: _I64,
    FieldDescriptor.TYPE_FIXED64: _I64,
    FieldDescriptor.TYPE_SFIXED64: _I64,
    FieldDescriptor.TYPE_FLOAT: _I32,
    FieldDescriptor.TYPE_FIXED32: _I32,
    FieldDescriptor.TYPE_SFIXED32: _I32,
    FieldDescriptor.TYPE_STRING: _LEN,
    FieldDescriptor.TYPE_BYTES: _LEN,
    FieldDescriptor.TYPE_MESSAGE: _LEN,
}


@dataclass(frozen=True)
class WireScan:
    """Outcome of walking a buffer as a given protobuf message type."""

    verdict: str  # "ok", "truncated", "too_deep", "corrupt", "gave_up"
    offset: int = 0  # byte offset of the problem
    field_path: str = ""  # e.g. "onnx.ModelProto.graph > onnx.GraphProto.initializer"
    declared_end: int = 0  # for "truncated": the byte offset the field needs to reach
    known_fields: int = 0  # fields matching the schema seen before the problem
    detail: str = ""


class _Stop(Exception):
    def __init__(self, verdict: str, offset: int, detail: str, declared_end: int = 0) -> None:
        super().__init__(detail)
        self.verdict, self.offset, self.detail, self.declared_end = (
            verdict,
            offset,
            detail,
            declared_end,
        )


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    start = pos
    while True:
        if pos >= end:
            raise _Stop("truncated", start, "varint runs past the end", end + 1)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Stop("corrupt", start, "varint longer than 10 bytes")


def scan(
    data: bytes | memoryview, descriptor: Descriptor, max_fields: int, _depth: int = 0
) -> WireScan:
    """Walk ``data`` as ``descriptor`` and report the first structural problem, if any."""
    buf = memoryview(data)
    file_end = len(buf)
    # Stack of (end offset, descriptor, label) for the messages we are inside.
    stack: list[tuple[int, Descriptor, str]] = [(file_end, descriptor, descriptor.full_name)]
    pos = 0
    fields = known = 0
    try:
        while stack:
            end, desc, _ = stack[-1]
            if pos == end:
                stack.pop()
                continue
            if pos > end:
                raise _Stop("corrupt", pos, "a field overran its enclosing message")
            fields += 1
            if fields > max_fields:
                return WireScan("gave_up", pos, _path(stack), known_fields=known)
            tag_at = pos
            tag, pos = _varint(buf, pos, end)
            number, wire = tag >> 3, tag & 7
            if number == 0 or wire not in (_VARINT, _I64, _LEN, _I32):
                raise _Stop(
                    "corrupt", tag_at, f"invalid field tag {tag} (field {number}, wire type {wire})"
                )
            fd = desc.fields_by_number.get(number)
            if fd is None:
                raise _Stop(
                    "corrupt", tag_at, f"field number {number} is not part of {desc.full_name}"
                )
            expected = _WIRE_FOR_TYPE.get(fd.type, _VARINT)
            packed_ok = wire == _LEN and fd.is_repeated
            if wire != expected and not packed_ok:
                raise _Stop(
                    "corrupt",
                    tag_at,
                    f"{desc.full_name}.{fd.name} has wire type {wire}, expected {expected}",
                )
            known += 1
            if wire == _VARINT:
                _, pos = _varint(buf, pos, end)
            elif wire in (_I64, _I32):
                size = 8 if wire == _I64 else 4
                if pos + size > end:
                    raise _Stop(
                        "truncated" if end == file_end else "corrupt",
                        tag_at,
                        f"{desc.full_name}.{fd.name} runs past the end",
                        pos + size,
                    )
                pos += size
            else:
                length, pos = _varint(buf, pos, end)
                label = f"{desc.full_name}.{fd.name}"
                if pos + length > end:
                    if end != file_end:
                        raise _Stop("corrupt", tag_at, f"{label} overruns its enclosing message")
                    if fd.type == FieldDescriptor.TYPE_MESSAGE:
                        # The field is cut off: still check what is there is ONNX, then report.
                        stack.append((file_end, fd.message_type, label))
                        _check_partial(
                            buf, pos, file_end, stack, max_fields - fields, _depth + len(stack)
                        )
                    raise _Stop("truncated", tag_at, f"{label} runs past the end", pos + length)
                if fd.type == FieldDescriptor.TYPE_MESSAGE and not packed_ok:
                    if len(stack) >= PROTOBUF_MAX_DEPTH:
                        raise _Stop(
                            "too_deep", tag_at, f"nesting deeper than {PROTOBUF_MAX_DEPTH} messages"
                        )
                    stack.append((pos + length, fd.message_type, label))
                else:
                    pos += length
        return WireScan("ok", file_end, known_fields=known)
    except _Stop as stop:
        return WireScan(
            stop.verdict, stop.offset, _path(stack), stop.declared_end, known, stop.detail
        )


def _check_partial(
    buf: memoryview, pos: int, end: int, stack: list, budget: int, depth: int
) -> None:
    """Walk the contents of a message cut off by the end of the file; only 'corrupt' escapes.
    Nested cut-off messages recurse, bounded by protobuf's own depth limit."""
    if depth >= PROTOBUF_MAX_DEPTH:
        raise _Stop("too_deep", pos, f"nesting deeper than {PROTOBUF_MAX_DEPTH} messages")
    desc = stack[-1][1]
    inner = scan(buf[pos:end], desc, max(budget, 1), depth)
    if inner.verdict == "corrupt":
        raise _Stop("corrupt", pos + inner.offset, inner.detail)
    if (
        inner.verdict == "too_deep"
        or len(stack) + inner.field_path.count(">") >= PROTOBUF_MAX_DEPTH
    ):
        raise _Stop("too_deep", pos + inner.offset, inner.detail or "nesting too deep")


def _path(stack: list[tuple[int, Descriptor, str]]) -> str:
    return " > ".join(label for _, _, label in stack)
