"""Confine a child process that handles untrusted bytes: it may read what Python and its native
libraries need, write only where it is told, reach no network and start no process. Used by run
workers (``run/worker.py``: write their private run folder) and by onnx's analysis children
(``model/native.py``: write nowhere). Defence in depth behind the option allow-list
(``run/options.py``) and the limits.

Such a process parses an uploaded model and feeds it to native code (ONNX Runtime, onnx's C++
passes). If anything slipped through — a memory bug, a config key we did not know writes files —
the process must not be able to plant a ``.pth`` in site-packages, overwrite the app, reach the
network or leave anything running behind it. Layers, each independent of the others:

* ``PR_SET_NO_NEW_PRIVS``: no set-uid binary can regain privileges;
* when started as root, every capability is dropped (bounding, ambient, effective,
  permitted), so ``CAP_DAC_OVERRIDE`` & co. are gone — the uid stays 0 because the interpreter
  may live in a folder only root can read, but Landlock restricts root like anyone else;
* Linux Landlock (5.13+, unprivileged, inherited by children and irreversible): a list of
  folders and what may be done beneath each; TCP bind/connect denied (ABI 4+, kernel 6.7),
  signals and abstract UNIX sockets scoped to the process (ABI 6+, kernel 6.12);
* a seccomp-BPF filter (kernel 3.5+, so it also holds where Landlock is missing):

  - no socket of any address family (``socket``/``socketpair`` fail with EPERM): UDP and
    path-based UNIX sockets, which Landlock does not cover, included. Measured with strace on a
    worker (python + numpy + onnxruntime 1.30, CPU, ggml and OpenVINO plugin EPs, 4 intra-op
    threads, profiling) and on an analysis child: neither makes a single socket call;
  - no new process: ``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``, ``execve`` and
    ``execveat`` fail with EPERM; ``clone3`` answers ENOSYS, since a filter cannot read its
    flags (they are behind a pointer), so glibc (2.34+) falls back to ``clone`` for threads,
    and ORT's thread pool keeps working. We chose the filter over a child subreaper that kills
    descendants: a subreaper only acts when the worker ends, so a grandchild could run until
    then, and the only process a worker was measured to start is ORT's own fallback for an
    unreadable ``/etc/machine-id`` (``sh -c "echo `blkid; hostname`"``, a telemetry id), which
    ORT does without when it fails;
  - no ``io_uring`` (its requests bypass per-syscall filters), ``unshare`` (user namespaces
    are a common kernel attack surface), ``ptrace`` or ``process_vm_readv``/``writev``;
  - the architecture is checked first: a syscall of another ABI (``int 0x80`` on x86_64, x32
    numbers) kills the process, so the numbers the filter checks cannot be sidestepped.
    Only x86_64 and aarch64 have a syscall table here; elsewhere no filter is installed, and
    :class:`Confinement` says so.

Only the standard library is used here (ctypes), so a worker's bootstrap can confine the process
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

# seccomp-BPF (linux/seccomp.h, linux/filter.h, linux/audit.h).
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, _SECCOMP_SET_MODE_FILTER = 22, 2, 1
_SECCOMP_FILTER_FLAG_TSYNC, _SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1, 4
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_DATA_NR, _DATA_ARCH, _DATA_ARG0 = 0, 4, 16  # offsets in struct seccomp_data
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38


@dataclass(frozen=True)
class _SyscallTable:
    """One architecture's numbers for what the filter inspects."""

    audit_arch: int  # AUDIT_ARCH_* as seccomp reports it
    seccomp: int
    clone: int
    clone3: int
    denied: tuple[int, ...]  # always EPERM: processes, exec, io_uring, namespaces, ptrace
    sockets: tuple[int, ...]  # EPERM unless the caller allows the network
    foreign_from: int = 0  # numbers at or above it belong to another ABI (x32); 0: none


_SYSCALLS = {
    "x86_64": _SyscallTable(
        audit_arch=0xC000003E,
        seccomp=317,
        clone=56,
        clone3=435,
        # fork, vfork, execve, execveat, io_uring_setup/enter/register, unshare, ptrace,
        # process_vm_readv/writev
        denied=(57, 58, 59, 322, 425, 426, 427, 272, 101, 310, 311),
        sockets=(41, 53),  # socket, socketpair
        foreign_from=0x40000000,  # __X32_SYSCALL_BIT
    ),
    "aarch64": _SyscallTable(
        audit_arch=0xC00000B7,
        seccomp=277,
        clone=220,
        clone3=435,
        # (no fork/vfork here) execve, execveat, io_uring_*, unshare, ptrace, process_vm_*
        denied=(221, 281, 425, 426, 427, 97, 117, 270, 271),
        sockets=(198, 199),
    ),
}

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


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


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
    filesystem: bool  # writes only where allowed (Landlock)
    network: bool  # no TCP bind/connect (Landlock ABI 4+)
    capabilities_dropped: bool
    uid: int
    sockets: bool = False  # no socket of any family can be created (seccomp)
    processes: bool = False  # no fork, no exec; threads only (seccomp)

    @property
    def confined(self) -> bool:
        return self.filesystem

    def gaps(self) -> list[str]:
        """What this kernel or machine left open, in words (empty when nothing was)."""
        gaps = []
        if not self.filesystem:
            gaps.append("this kernel has no Landlock: it could write wherever its user may")
        if not self.processes:
            gaps.append(
                "no seccomp filter (an architecture without a syscall table here, or a kernel "
                "before 3.5): it could open sockets and start processes"
            )
        return gaps


_LIBC: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    """libc, through the interpreter's own symbols: ``find_library`` would run ``ldconfig -p``
    (a fork and an exec, ~9 ms) every time."""
    if not _LIBC:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall  # noqa: B018 - AttributeError where the symbols are not global
        except (OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.syscall.restype = ctypes.c_long
        _LIBC.append(libc)
    return _LIBC[0]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = _libc()
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


def _filter(table: _SyscallTable, allow_sockets: bool) -> list[tuple[int, int, int, int]]:
    """The BPF program: (code, jt, jf, k) rows."""
    deny = _RET_ERRNO | _EPERM
    prog = [
        (_LD_W_ABS, 0, 0, _DATA_ARCH),
        (_JEQ_K, 1, 0, table.audit_arch),
        (_RET_K, 0, 0, _RET_KILL_PROCESS),  # another ABI: int 0x80 on x86_64, say
        (_LD_W_ABS, 0, 0, _DATA_NR),
    ]
    if table.foreign_from:
        prog += [(_JGE_K, 0, 1, table.foreign_from), (_RET_K, 0, 0, _RET_KILL_PROCESS)]
    denied = table.denied + (() if allow_sockets else table.sockets)
    for nr in denied:
        prog += [(_JEQ_K, 0, 1, nr), (_RET_K, 0, 0, deny)]
    low = _DATA_ARG0 + (4 if sys.byteorder == "big" else 0)  # the flags' low 32 bits
    prog += [
        (_JEQ_K, 0, 1, table.clone3),
        (_RET_K, 0, 0, _RET_ERRNO | _ENOSYS),  # its flags are behind a pointer: use clone
        (_JEQ_K, 0, 4, table.clone),
        (_LD_W_ABS, 0, 0, low),
        (_JSET_K, 1, 0, _CLONE_THREAD),
        (_RET_K, 0, 0, deny),  # a new process
        (_RET_K, 0, 0, _RET_ALLOW),  # a thread of this process
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    return prog


def _install_filter(libc: ctypes.CDLL, allow_sockets: bool) -> bool:
    """Install the seccomp filter on every thread of this process; False where this machine
    has no table here or the kernel refused it (needs NO_NEW_PRIVS or CAP_SYS_ADMIN)."""
    table = _SYSCALLS.get(os.uname().machine)
    if table is None:
        return False
    rows = _filter(table, allow_sockets)
    code = (_SockFilter * len(rows))(*(_SockFilter(*r) for r in rows))
    prog = _SockFprog(len(rows), code)
    # TSYNC: threads started before us are filtered too. SPEC_ALLOW: no forced speculative
    # store bypass mitigation (older kernels' default for seccomp), which would slow the
    # measured runs; the filter is not a speculation boundary.
    for flags in (
        _SECCOMP_FILTER_FLAG_TSYNC | _SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        _SECCOMP_FILTER_FLAG_TSYNC,
    ):
        if libc.syscall(table.seccomp, _SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog)) == 0:
            return True
        if ctypes.get_errno() != 22:  # EINVAL: a flag this kernel lacks; try without it
            break
    # seccomp(2) is 3.17+; prctl is 3.5+ (this thread only: called before threads start).
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0


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
    devices: bool = True,
) -> Confinement:
    """Restrict this process (and every thread it starts from now on; it can start no process).

    ``write``: folders the process may create, change and delete files in (its private run
    folder; none for onnx's analysis children). ``read``: extra folders or files it may read and
    execute (Python's own paths and the system folders are added here). ``allow_network``:
    keep TCP and sockets. ``devices``: also grant the GPU device files (workers; not onnx's
    analysis). Must be called before the process starts threads that should be confined too:
    Landlock applies to the calling thread and its future threads."""
    libc = _libc()
    # Die with the process that started us: a server killed mid-run (or a CLI ^C'd hard) left
    # a worker spinning an endless Loop for good. The parent thread's exit also sends it; our
    # workers never outlive the call that started them.
    parent = os.getppid()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    caps = _drop_capabilities(libc) if os.geteuid() == 0 else True
    filtered = _install_filter(libc, allow_sockets=allow_network)
    sockets = filtered and not allow_network
    abi = landlock_abi()
    if abi == 0:
        return Confinement(0, False, False, caps, os.geteuid(), sockets, filtered)
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
        for name in sorted(os.listdir("/dev")) if devices and os.path.isdir("/dev") else []:
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
    network = abi >= 4 and not allow_network
    return Confinement(abi, True, network, caps, os.geteuid(), sockets, filtered)


def unconfined_root_allowed() -> bool:
    """The deployment's explicit opt-in to run workers as root without Landlock."""
    return os.environ.get("INSPECTOR_ALLOW_UNCONFINED_ROOT", "") == "1"
