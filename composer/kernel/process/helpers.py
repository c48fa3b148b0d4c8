"""The small rules the parent and the forked children share.

Any process may run these: the caller (to refuse a configuration before forking,
to find a host init, to decode an exit status) and a forked child (to look the
command up in the container's ``PATH``, to lower an rlimit).  They keep no state
and import nothing lazily, so they are safe between fork and execve; apart from
the read-only lookups of an executable or an ELF header they touch nothing.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Sequence
from functools import cache

from composer.errors import ContainerError
from composer.model.container import DEFAULT_PATH

HOST_INIT_CANDIDATES = (
    "/usr/bin/tini-static",
    "/usr/bin/tini",
    "/sbin/tini",
    "/usr/bin/catatonit",
    "/usr/libexec/podman/catatonit",
)
INIT_ENV = "COMPOSER_INIT"  # "builtin" forces composer's own init; a path forces that binary

RLIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}  # fmt: skip

NAMESPACED_SYSCTL_PREFIXES = ("kernel.shm", "kernel.msg", "fs.mqueue.")
NAMESPACED_SYSCTLS = ("kernel.sem",)


def decode_wait_status(status: int) -> int:
    """A waitpid status as a shell exit code: the code, or 128 + the signal that killed it."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def check_sysctls(sysctls: Sequence[tuple[str, str]], *, host_network: bool) -> None:
    """Refuse sysctls that are not namespaced (they would change the host)."""
    for key, _ in sysctls:
        if key.startswith("net."):
            if host_network:
                raise ContainerError(
                    f"sysctl {key} cannot be set with the host's network: it would change the host",
                    hint="give the service its own network namespace, or drop the sysctl",
                )
            continue
        if key in NAMESPACED_SYSCTLS or key.startswith(NAMESPACED_SYSCTL_PREFIXES):
            continue
        raise ContainerError(
            f"sysctl {key} is not namespaced: setting it in a container would change the host",
            hint="only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set per container",
        )


def lowered_rlimit(soft: int, hard: int, current: tuple[int, int]) -> tuple[int, int]:
    """Never above the current hard limit (no CAP_SYS_RESOURCE): lower only."""

    def as_number(value: int) -> float:
        return float("inf") if value < 0 else value

    cur_hard = current[1]
    new_hard = hard if as_number(hard) <= as_number(cur_hard) else cur_hard
    new_soft = soft if as_number(soft) <= as_number(new_hard) else new_hard
    return new_soft, new_hard


def container_env(cfg_env: Sequence[tuple[str, str]], hostname: str) -> dict[str, str]:
    """The command's environment: Docker's default PATH and HOSTNAME, then the configured pairs."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    env.update(dict(cfg_env))
    return env


def find_executable(name: str, path_env: str, root: str = "/") -> str | None:
    """Look ``name`` up in ``path_env`` like execvp, below ``root``."""
    if "/" in name:
        return name
    for folder in (path_env or DEFAULT_PATH).split(":"):
        candidate = os.path.join(folder or ".", name)
        full = os.path.join(root, candidate.lstrip("/")) if root != "/" else candidate
        try:
            mode = os.stat(full).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and os.access(full, os.X_OK):
            return candidate
    return None


def is_static_elf(path: str) -> bool:
    """True for an ELF executable with no program interpreter (no PT_INTERP)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2:
                return False
            (phoff,) = struct.unpack_from("<Q", header, 32)
            phentsize, phnum = struct.unpack_from("<HH", header, 54)
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def find_host_init() -> str | None:
    """A static tini or catatonit from the host, or None to use composer's own init."""
    forced = os.environ.get(INIT_ENV, "")
    if forced == "builtin":
        return None
    if forced:
        return forced
    return _first_static_init()


@cache
def _first_static_init() -> str | None:
    # A dynamically linked init would need the host's libc inside the image: only static ones.
    for path in HOST_INIT_CANDIDATES:
        if os.path.exists(path) and is_static_elf(path):
            return path
    return None
