"""Zip files from users (session bundles, ``.npz`` inputs and outputs), opened with bounds.

The threat: a small upload that makes the server allocate without bound. ``zipfile.ZipFile``
reads the whole central directory when it opens an archive — a million entries cost hundreds
of MB of ``ZipInfo`` objects before any member is looked at — so the entry count is read from
the end-of-central-directory record first (and from the zip64 record it points to) and an
archive with too many entries is refused unopened. Members' uncompressed sizes come from that
directory and are checked by the callers before anything is decompressed; a member whose real
size differs from its declared one fails in ``zipfile`` itself (CRC and size checks) or is cut
at the bound by :func:`read_member`.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from inspector.errors import InspectorError

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_EOCD_SIZE, _LOCATOR_SIZE, _MAX_COMMENT = 22, 20, 0xFFFF


def entry_count(data: bytes) -> int | None:
    """Entries the archive's central directory declares (None: no end record found, not a
    zip). Reads only the archive's last ~64 KiB; allocates nothing per entry."""
    tail_start = max(0, len(data) - _EOCD_SIZE - _MAX_COMMENT)
    at = data.rfind(_EOCD, tail_start)
    if at < 0 or len(data) - at < _EOCD_SIZE:
        return None
    entries = struct.unpack_from("<H", data, at + 10)[0]
    locator = at - _LOCATOR_SIZE
    if locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR:
        offset = struct.unpack_from("<Q", data, locator + 8)[0]
        if offset + 40 <= len(data) and data[offset : offset + 4] == _ZIP64_EOCD:
            entries = max(entries, struct.unpack_from("<Q", data, offset + 32)[0])
        elif entries == 0xFFFF:
            return 1 << 63  # a zip64 archive whose record cannot be found: assume the worst
    return int(entries)


def open_zip(
    data: bytes,
    name: str,
    max_entries: int,
    error: type[InspectorError] = InspectorError,
    what: str = "zip",
) -> zipfile.ZipFile:
    """``data`` as a ZipFile once its declared entry count is within ``max_entries``; ``error``
    (with a message naming ``name`` and ``what`` it should be) when it is not a zip or holds
    more entries."""
    count = entry_count(data)
    if count is None:
        raise error(f"{name} is not a valid {what} file")
    if count > max_entries:
        raise error(f"{name} holds {count:,} entries (at most {max_entries:,} are read)")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise error(f"{name} is not a valid {what} file ({exc})") from None


def read_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    max_bytes: int,
    error: type[InspectorError] = InspectorError,
) -> bytes:
    """One member's bytes, never more than ``max_bytes`` decompressed (a member that lies about
    its size is cut there and refused, not read to its end)."""
    try:
        with archive.open(info) as fh:
            raw = fh.read(max_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
        raise error(f"{name}: member {info.filename!r} is damaged ({exc})") from None
    if len(raw) > max_bytes:
        raise error(f"{name}: member {info.filename!r} unpacks to more than {max_bytes:,} bytes")
    return raw


__all__ = ["entry_count", "open_zip", "read_member"]
