"""Where workers used to find their confinement; it now lives in :mod:`inspector.sandbox`, since
onnx's analysis children (``inspector/model/native.py``) are confined the same way and
``model/`` must not depend on ``run/``. Re-exported so that callers and tests keep working."""

from __future__ import annotations

from inspector.sandbox import (
    DEVICE_RW,
    ENV_KEYS,
    ENV_PREFIXES,
    GPU_DEVICE_PREFIXES,
    SYSTEM_READ,
    SYSTEM_READ_FILES,
    Confinement,
    confine,
    landlock_abi,
    minimal_env,
    read_paths_for_python,
    unconfined_root_allowed,
)

__all__ = [
    "DEVICE_RW",
    "ENV_KEYS",
    "ENV_PREFIXES",
    "GPU_DEVICE_PREFIXES",
    "SYSTEM_READ",
    "SYSTEM_READ_FILES",
    "Confinement",
    "confine",
    "landlock_abi",
    "minimal_env",
    "read_paths_for_python",
    "unconfined_root_allowed",
]
