"""Thin ctypes bindings for the Linux calls Python 3.11 does not expose.

Every wrapper raises :class:`OSError` with the kernel's errno on failure, so that
callers translate errors by number (``exc.errno``) and never by message text.
The constants are the kernel's ABI values (x86_64 and aarch64 share them).

Only this module talks to libc through ctypes; the rest of the host layer calls
these functions by name.
"""

from __future__ import annotations

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)

# clone/unshare/setns flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000

MNT_DETACH = 0x2

# prctl options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

SECCOMP_MODE_FILTER = 2

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_SYS_CAPGET = {"x86_64": 125, "aarch64": 90}
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}
_SYS_BPF = {"x86_64": 321, "aarch64": 280}
_ARCH = os.uname().machine  # what platform.machine() returns, without importing platform


def _check(result: int) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _path(value: str | bytes | None) -> bytes | None:
    if value is None:
        return None
    return value if isinstance(value, bytes) else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)))


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)))


def mount(
    source: str | bytes | None,
    target: str | bytes,
    fstype: str | bytes | None,
    flags: int = 0,
    data: str | bytes | None = None,
) -> None:
    _check(_libc.mount(_path(source), _path(target), _path(fstype), ctypes.c_ulong(flags), _path(data)))


def umount2(target: str | bytes, flags: int = 0) -> None:
    _check(_libc.umount2(_path(target), ctypes.c_int(flags)))


def pivot_root(new_root: str | bytes, put_old: str | bytes) -> None:
    _check(_libc.syscall(ctypes.c_long(_SYS_PIVOT_ROOT[_ARCH]), _path(new_root), _path(put_old)))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(
        _libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg2),
            ctypes.c_ulong(arg3),
            ctypes.c_ulong(arg4),
            ctypes.c_ulong(arg5),
        )
    )


def prctl_ptr(option: int, arg2: int, pointer: ctypes.c_void_p) -> int:
    """prctl whose third argument is a pointer (PR_SET_SECCOMP)."""
    return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), pointer, 0, 0))


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))))


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))))


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def capget(pid: int = 0) -> tuple[int, int, int]:
    """Return (effective, permitted, inheritable) as 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    _check(_libc.syscall(ctypes.c_long(_SYS_CAPGET[_ARCH]), ctypes.byref(header), data))
    return (
        data[0].effective | (data[1].effective << 32),
        data[0].permitted | (data[1].permitted << 32),
        data[0].inheritable | (data[1].inheritable << 32),
    )


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(ctypes.c_long(_SYS_CAPSET[_ARCH]), ctypes.byref(header), data))


class SockFilter(ctypes.Structure):
    """struct sock_filter: one classic BPF instruction."""

    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter)))


def pack_filter(program: list[tuple[int, int, int, int]] | tuple[tuple[int, int, int, int], ...]) -> bytes:
    """The program as the kernel's array of struct sock_filter (8 bytes each)."""
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def seccomp_set_filter(packed: bytes) -> None:
    """Install a classic BPF seccomp filter from :func:`pack_filter` output
    (needs no_new_privs or CAP_SYS_ADMIN)."""
    buffer = ctypes.create_string_buffer(packed, len(packed))
    fprog = SockFprog(len(packed) // 8, ctypes.cast(buffer, ctypes.POINTER(SockFilter)))
    prctl_ptr(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.cast(ctypes.byref(fprog), ctypes.c_void_p))


# bpf(2): only what the device cgroup program needs.
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_BPF_ATTR_SIZE = 128  # larger than every member used; the kernel wants the tail zeroed


def bpf_prog_load(prog_type: int, instructions: bytes, license_text: str = "Apache") -> int:
    """Load an eBPF program (``instructions``: packed 8-byte struct bpf_insn); its fd."""
    insns = ctypes.create_string_buffer(instructions, len(instructions))
    license_buffer = ctypes.create_string_buffer(license_text.encode())
    attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
    struct.pack_into(
        "=IIQQ", attr, 0, prog_type, len(instructions) // 8,
        ctypes.addressof(insns), ctypes.addressof(license_buffer),
    )  # fmt: skip
    return _bpf(BPF_PROG_LOAD, attr)


def bpf_prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int) -> None:
    attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
    struct.pack_into("=IIII", attr, 0, target_fd, prog_fd, attach_type, flags)
    _bpf(BPF_PROG_ATTACH, attr)


def _bpf(command: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    return int(
        _check(
            _libc.syscall(
                ctypes.c_long(_SYS_BPF[_ARCH]), ctypes.c_int(command), attr, ctypes.c_uint(len(attr))
            )
        )
    )


# The new mount API (Linux 5.2; mount_setattr 5.12): a bind made as a detached tree, changed, then
# attached to a destination given as an fd.  These numbers are the same on every architecture.
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442


def open_tree(dirfd: int, path: str | bytes, flags: int) -> int:
    """An fd on the mount at ``path`` or, with OPEN_TREE_CLONE, on a detached copy of it."""
    return int(
        _check(
            _libc.syscall(
                ctypes.c_long(_SYS_OPEN_TREE), ctypes.c_int(dirfd), _path(path), ctypes.c_uint(flags)
            )
        )
    )


def move_mount(
    from_dirfd: int, from_path: str | bytes, to_dirfd: int, to_path: str | bytes, flags: int
) -> None:
    _check(
        _libc.syscall(
            ctypes.c_long(_SYS_MOVE_MOUNT), ctypes.c_int(from_dirfd), _path(from_path),
            ctypes.c_int(to_dirfd), _path(to_path), ctypes.c_uint(flags),
        )
    )  # fmt: skip


def mount_setattr(
    dirfd: int, path: str | bytes, flags: int, attr_set: int, attr_clr: int = 0, propagation: int = 0
) -> None:
    """Set and clear MOUNT_ATTR_* flags, and set the propagation (MS_PRIVATE...), of a mount
    (struct mount_attr, 32 bytes)."""
    attr = ctypes.create_string_buffer(struct.pack("=QQQQ", attr_set, attr_clr, propagation, 0), 32)
    _check(
        _libc.syscall(
            ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(dirfd), _path(path), ctypes.c_uint(flags),
            attr, ctypes.c_size_t(32),
        )
    )  # fmt: skip


# inotify (composer watch)
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


def inotify_init1(flags: int = IN_NONBLOCK | IN_CLOEXEC) -> int:
    return int(_check(_libc.inotify_init1(ctypes.c_int(flags))))


def inotify_add_watch(fd: int, path: str | bytes, mask: int) -> int:
    return int(_check(_libc.inotify_add_watch(ctypes.c_int(fd), _path(path), ctypes.c_uint32(mask))))
