"""Confine a worker process: it may read what Python and ONNX Runtime need, and write only its
private run folder. Defence in depth behind the option allow-list (``options.py``).

The worker parses an uploaded model and runs it in ONNX Runtime, native code fed by untrusted
bytes. If anything slipped through — an ORT bug, a config key we did not know writes files — the
process must not be able to plant a ``.pth`` in site-packages, overwrite the app, or reach the
network. Linux Landlock (5.13+, unprivileged, inherited by children and irreversible) gives
exactly that: a list of folders and what may be done beneath each. On top:

* ``PR_SET_NO_NEW_PRIVS``: no set-uid binary can regain privileges;
* when started as root, every capability is dropped (bounding, ambient, effective,
  permitted), so ``CAP_DAC_OVERRIDE`` & co. are gone — the uid stays 0 because the interpreter
  may live in a folder only root can read, but Landlock restricts root like anyone else;
* TCP bind/connect denied (Landlock ABI 4+), signals and abstract UNIX sockets scoped to the
  worker (ABI 6+).

Only the standard library is used here (ctypes), so the bootstrap can confine the process
before it imports anything else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass

# Syscall numbers: landlock's are the same on every architecture (added after the unification).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2

# Filesystem access rights, by the ABI version that introduced them.
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI1_ALL = (1 << 13) - 1  # EXECUTE … MAKE_SYM
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_SET_PDEATHSIG = 38, 24, 47, 1
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_LAST_FALLBACK = 40
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

#: System folders a Python process with numpy and ORT reads (libraries, locale, time zones).
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt", "/proc", "/sys")
SYSTEM_READ_FILES = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",  # getpwuid (Python's expanduser); it holds no secrets on shadowed systems
    "/etc/group",
    "/dev/urandom",
    "/dev/random",
)
DEVICE_RW = ("/dev/null", "/dev/zero")
GPU_DEVICE_PREFIXES = ("/dev/nvidia", "/dev/dri", "/dev/kfd", "/dev/accel")


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@dataclass(frozen=True)
class Confinement:
    """What :func:`confine` achieved (the worker reports it with its result)."""

    landlock_abi: int  # 0: not available
    filesystem: bool
    network: bool
    capabilities_dropped: bool
    uid: int

    @property
    def confined(self) -> bool:
        return self.filesystem


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    v = libc.syscall(
        ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION
    )
    return int(v) if v > 0 else 0


def _handled_fs(abi: int) -> int:
    fs = _ABI1_ALL
    if abi >= 2:
        fs |= _REFER
    if abi >= 3:
        fs |= _TRUNCATE
    if abi >= 5:
        fs |= _IOCTL_DEV
    return fs


def _add_path(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder this machine does not have
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY
        attr = _PathBeneath(access, fd)
        if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(attr), 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def _drop_capabilities(libc: ctypes.CDLL) -> bool:
    """Drop every capability (a root worker keeps uid 0 but loses its privileges)."""
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except (OSError, ValueError):
        last = _CAP_LAST_FALLBACK
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for cap in range(last + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL for caps this kernel lacks
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        return False
    return True


def read_paths_for_python() -> list[str]:
    """Where this interpreter and its packages live: sys.prefix and every sys.path entry."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)}
    paths.update(os.path.realpath(p) for p in list(paths))
    for p in sys.path:
        if p and os.path.isdir(p):
            paths.add(os.path.realpath(p))
    return sorted(paths)


def confine(
    write: Iterable[str],
    read: Iterable[str] = (),
    *,
    allow_network: bool = False,
) -> Confinement:
    """Restrict this process (and every thread and child it starts from now on).

    ``write``: folders the process may create, change and delete files in (its private run
    folder). ``read``: extra folders or files it may read and execute (Python's own paths and
    the system folders are added here). Must be called before the process starts threads that
    should be confined too: Landlock applies to the calling thread and its future children."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    # Die with the process that started us: a server killed mid-run (or a CLI ^C'd hard) left
    # a worker spinning an endless Loop for good. The parent thread's exit also sends it; our
    # workers never outlive the call that started them.
    parent = os.getppid()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    caps = _drop_capabilities(libc) if os.geteuid() == 0 else True
    abi = landlock_abi()
    if abi == 0:
        return Confinement(0, False, False, caps, os.geteuid())
    fs = _handled_fs(abi)
    attr = _RulesetAttr(fs, 0, 0)
    size = 8
    if abi >= 4 and not allow_network:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        ro = _EXECUTE | _READ_FILE | _READ_DIR
        for p in [*SYSTEM_READ, *SYSTEM_READ_FILES, *read_paths_for_python(), *read]:
            _add_path(libc, ruleset, p, ro)
        for p in DEVICE_RW:
            _add_path(libc, ruleset, p, _READ_FILE | _WRITE_FILE)
        for name in sorted(os.listdir("/dev")) if os.path.isdir("/dev") else []:
            path = f"/dev/{name}"
            if path.startswith(GPU_DEVICE_PREFIXES):
                _add_path(libc, ruleset, path, ro | _WRITE_FILE | (_IOCTL_DEV if abi >= 5 else 0))
        for p in write:
            _add_path(libc, ruleset, p, fs)
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(ruleset)
    return Confinement(abi, True, abi >= 4 and not allow_network, caps, os.geteuid())


#: What a child inherits from the server's environment: locale, time zone, library search paths
#: and the runtimes' own knobs. Nothing else — no PYTHONPATH or PYTHONSTARTUP pointing at
#: writable folders, no credentials.
ENV_KEYS = ("PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "INSPECTOR_ALLOW_UNCONFINED_ROOT")
ENV_PREFIXES = ("LC_", "CUDA_", "OMP_", "KMP_", "ORT_", "OV_", "GGML_", "INSPECTOR_WORKER_")


def minimal_env(home: str) -> dict[str, str]:
    """The environment of a worker or probe; HOME and TMPDIR point into its private folder."""
    env = {k: v for k, v in os.environ.items() if k in ENV_KEYS or k.startswith(ENV_PREFIXES)}
    env.update(
        HOME=home,
        TMPDIR=home,
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
        # numpy's BLAS would start threads before the confinement, which binds only threads
        # started after it; workers need no BLAS parallelism.
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def unconfined_root_allowed() -> bool:
    """The deployment's explicit opt-in to run workers as root without Landlock."""
    return os.environ.get("INSPECTOR_ALLOW_UNCONFINED_ROOT", "") == "1"
