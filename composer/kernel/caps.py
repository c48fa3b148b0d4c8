"""Linux capabilities: Docker's default set, cap_add/cap_drop, and applying them.

The math (:func:`compute_capabilities`) is pure: a set of capability numbers is a
64-bit mask.  Docker's rules are kept: ``cap_add: [ALL]`` grants every capability
minus the dropped ones; ``cap_drop: [ALL]`` keeps only the added ones; otherwise
the default 14 plus the added minus the dropped.  ``privileged`` keeps all.

A container never gets a capability composer itself lacks (this host's bounding
set has no CAP_SYS_RESOURCE), so the result is intersected with ``available``.

Applying happens in the container's child process, in two steps because the
user switch sits between them: :func:`drop_bounding` first (needs CAP_SETPCAP),
then, after setuid, :func:`set_process_capabilities`.  A non-root user gets
empty effective/permitted sets as with Docker; the bounding set still limits
what setuid binaries may gain.
"""

from __future__ import annotations

from composer.errors import ContainerError
from composer.kernel import syscalls

CAPABILITIES: tuple[str, ...] = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip
CAP_NUMBER = {name: number for number, name in enumerate(CAPABILITIES)}

DOCKER_DEFAULT: tuple[str, ...] = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
    "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip

ALL_MASK = (1 << len(CAPABILITIES)) - 1


def cap_mask(names: tuple[str, ...] | list[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << cap_number(name)
    return mask


def cap_number(name: str) -> int:
    """Number of a capability given as ``NET_ADMIN``, ``CAP_NET_ADMIN`` or ``net_admin``."""
    key = name.strip().upper().removeprefix("CAP_")
    if key not in CAP_NUMBER:
        raise ContainerError(f"unknown capability {name!r}", hint="see capabilities(7) for the names")
    return CAP_NUMBER[key]


DEFAULT_MASK = cap_mask(DOCKER_DEFAULT)  # 0xa80425fb


def _is_all(name: str) -> bool:
    return name.strip().upper() in ("ALL", "CAP_ALL")


def compute_capabilities(
    cap_add: tuple[str, ...] | list[str] = (),
    cap_drop: tuple[str, ...] | list[str] = (),
    *,
    privileged: bool = False,
    available: int = ALL_MASK,
) -> int:
    """The capability mask a container gets, with Docker's rules (see module docstring)."""
    if privileged:
        return available
    adds = [n for n in cap_add if not _is_all(n)]
    drops = [n for n in cap_drop if not _is_all(n)]
    if any(_is_all(n) for n in cap_add):
        mask = ALL_MASK & ~cap_mask(drops)
    elif any(_is_all(n) for n in cap_drop):
        mask = cap_mask(adds)
    else:
        mask = (DEFAULT_MASK | cap_mask(adds)) & ~cap_mask(drops)
    return mask & available


def mask_names(mask: int) -> list[str]:
    return [name for number, name in enumerate(CAPABILITIES) if mask >> number & 1]


def last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        return int(handle.read())


def bounding_set() -> int:
    """The calling process's bounding set, read with PR_CAPBSET_READ."""
    mask = 0
    for number in range(last_cap() + 1):
        if syscalls.prctl(syscalls.PR_CAPBSET_READ, number):
            mask |= 1 << number
    return mask


def drop_bounding(mask: int, highest: int) -> None:
    """Drop every capability not in ``mask`` from the bounding set (needs CAP_SETPCAP)."""
    for number in range(highest + 1):
        if not mask >> number & 1:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)


def set_process_capabilities(mask: int, *, is_root: bool) -> None:
    """Effective/permitted/inheritable = mask for root, empty otherwise; ambient cleared."""
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    value = mask if is_root else 0
    syscalls.capset(value, value, value)
