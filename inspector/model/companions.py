"""Companion files (external-data weights) and the one gate every file name passes.

Threat: an ONNX model names its external-data files itself (``external_data`` entry
``location``). onnx and ONNX Runtime resolve that name against a directory — for models loaded
from bytes, the server's *current working directory* — so a crafted model can make the app read
any file the server can (measured: ``.streamlit/secrets.toml`` came back as a model output).

Defences, in order:

1. :func:`normalize_location` refuses absolute, UNC and drive paths, ``..`` components,
   NUL bytes, empty names and over-long names, and normalises separators. It is applied to
   uploaded file names and to every ``location`` in a model alike.
2. A location is only ever looked up in a :class:`Companions` set: the files the user uploaded
   (:class:`MemoryCompanions`) or regular files under one folder the user named
   (:class:`DirectoryCompanions`, which refuses symlinks at every path component). Nothing else
   on disk is opened; a location that names no companion is reported as missing.
3. Reads are bounded by the companion's size; the caller checks ``offset + length`` against it
   (see :mod:`inspector.model.external`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from inspector.errors import CompanionFileError, LimitExceededError
from inspector.limits import DEFAULT_LIMITS, Limits

_DRIVE = re.compile(r"^[A-Za-z]:")


def location_problem(name: str, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Why ``name`` is not acceptable as a relative companion path, or ``None`` if it is."""
    if not name:
        return "empty file name"
    if len(name) > limits.max_companion_name_chars:
        return f"name is {len(name):,} characters (limit {limits.max_companion_name_chars:,})"
    if "\x00" in name:
        return "name contains a NUL byte"
    if name.startswith(("\\\\", "//")):
        return "UNC/network path (must be relative to the model)"
    if name.startswith(("/", "\\")):
        return "absolute path (must be relative to the model)"
    if _DRIVE.match(name):
        return "drive path (must be relative to the model)"
    parts = re.split(r"[\\/]+", name)
    if any(p == ".." for p in parts):
        return "'..' path component (must stay inside the model's folder)"
    if all(p in ("", ".") for p in parts):
        return "names no file"
    return None


def normalize_location(name: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """``name`` as a clean relative POSIX path (``a\\./b`` → ``a/b``), or raise.

    Raises:
        CompanionFileError: the name is absolute, escapes with ``..``, or is otherwise unsafe.
    """
    problem = location_problem(name, limits)
    if problem:
        raise CompanionFileError(f"Refused file name {name[:200]!r}: {problem}.")
    return "/".join(p for p in re.split(r"[\\/]+", name) if p not in ("", "."))


class Companions(Protocol):
    """The set of files a model may reference, by normalised relative name."""

    def names(self) -> list[str]:
        """All companion names known up front (for 'unreferenced file' reports)."""

    def size(self, name: str) -> int | None:
        """Size in bytes of companion ``name`` (normalised), or ``None`` if there is none."""

    def read(self, name: str, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` of companion ``name``; the range must lie inside it."""


class MemoryCompanions:
    """Companions held in memory, e.g. files uploaded through the browser."""

    def __init__(
        self,
        files: Mapping[str, bytes] | Iterable[tuple[str, bytes]] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        items = files.items() if isinstance(files, Mapping) else files
        self._files: dict[str, bytes] = {}
        for raw_name, data in items:
            if len(self._files) >= limits.max_companion_files:
                raise LimitExceededError(
                    f"More than {limits.max_companion_files:,} companion files "
                    "(limit max_companion_files)."
                )
            self._files[normalize_location(raw_name, limits)] = bytes(data)

    def names(self) -> list[str]:
        return sorted(self._files)

    def size(self, name: str) -> int | None:
        data = self._files.get(name)
        return None if data is None else len(data)

    def read(self, name: str, offset: int, length: int) -> bytes:
        data = self._files[name]
        _check_range(name, offset, length, len(data))
        return data[offset : offset + length]


class DirectoryCompanions:
    """Regular files under one folder (the CLI's ``--data-dir`` or the model's folder).

    Symlinks are refused at every component, so a name resolves inside ``root`` only.
    Hard links cannot be told apart from regular files; this class is for the local user's
    own folders, while uploads always use :class:`MemoryCompanions`.
    """

    def __init__(self, root: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = Path(root)
        self._limits = limits
        if not self.root.is_dir():
            raise CompanionFileError(f"Data folder {str(self.root)!r} is not a folder.")

    def _path(self, name: str) -> Path | None:
        if location_problem(name, self._limits):
            return None
        path = self.root
        for part in name.split("/"):
            path = path / part
            try:
                st = path.lstat()
            except OSError:
                return None
            if stat.S_ISLNK(st.st_mode):
                return None
        return path if stat.S_ISREG(st.st_mode) else None

    def names(self) -> list[str]:
        # A folder is not an upload set: its other files are not "extra uploads", so none
        # are listed as unreferenced. Referenced names are looked up with size()/read().
        return []

    def size(self, name: str) -> int | None:
        path = self._path(name)
        return None if path is None else path.lstat().st_size

    def read(self, name: str, offset: int, length: int) -> bytes:
        path = self._path(name)
        if path is None:
            raise CompanionFileError(
                f"Companion file {name!r} is not a regular file in the folder."
            )
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            _check_range(name, offset, length, os.fstat(fd).st_size)
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)


def _check_range(name: str, offset: int, length: int, size: int) -> None:
    if offset < 0 or length < 0 or offset + length > size:
        raise CompanionFileError(
            f"Range offset={offset:,} length={length:,} lies outside {name!r} ({size:,} bytes)."
        )
