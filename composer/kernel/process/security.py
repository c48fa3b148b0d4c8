"""What confines a container's processes: computed in the parent, applied in the child.

:func:`security_for` runs in the caller before the fork: the capability mask and
the packed seccomp program cost work (and imports) that a forked child must not
do.  :func:`confine` runs in the forked child (the container's set-up child and
the child of an exec) as the last step before execve, when the mounts and the
namespaces no longer need the privileges it drops.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from functools import cache

from composer.errors import ContainerError
from composer.kernel import caps as caps_module
from composer.kernel import syscalls as sc
from composer.kernel.seccomp import packed_filter
from composer.kernel.users import ResolvedUser
from composer.model.container import ContainerConfig


@dataclass(frozen=True)
class Security:
    """What confines a container's processes, computed once in the parent."""

    caps: int
    last_cap: int
    seccomp: bytes | None  # the packed BPF program, None = unconfined
    no_new_privileges: bool


def security_for(cfg: ContainerConfig | None, *, devices_enforced: bool = True) -> Security:
    """The confinement of ``cfg`` (Docker's defaults without a configuration).

    Where no device policy applies to the container's cgroup (a v1 host without
    the devices hierarchy), CAP_MKNOD is dropped: Docker's grant of it is safe only
    under the device cgroup, and without it the nodes composer made in /dev are
    the only ones that can open.
    """
    unguarded = not devices_enforced and not (cfg is not None and cfg.privileged)
    keep = ~caps_module.cap_mask(["MKNOD"]) if unguarded else -1
    if cfg is None:
        mask = caps_module.compute_capabilities(available=_available_caps()) & keep
        return Security(mask, _last_cap(), packed_filter("default", mask), True)
    mask = keep & caps_module.compute_capabilities(
        cfg.cap_add, cfg.cap_drop, privileged=cfg.privileged, available=_available_caps()
    )
    setting = "unconfined" if cfg.privileged else cfg.seccomp
    return Security(mask, _last_cap(), packed_filter(setting, mask), cfg.no_new_privileges)


def confine(security: Security, user: ResolvedUser, working_dir: str) -> None:
    """In the child: bounding set, user, capabilities, working dir, no_new_privs, seccomp, in that order."""
    caps_module.drop_bounding(security.caps, security.last_cap)
    if security.seccomp is not None and not security.no_new_privileges:
        # Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter: load it while we have it.
        sc.seccomp_set_filter(security.seccomp)
    _switch_user(user)
    caps_module.set_process_capabilities(security.caps, is_root=user.uid == 0)
    os.chdir(working_dir)
    if security.no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        if security.seccomp is not None:
            sc.seccomp_set_filter(security.seccomp)


def _switch_user(user: ResolvedUser) -> None:
    with contextlib.suppress(PermissionError):  # rootless with one id mapped denies setgroups
        os.setgroups(list(user.groups))
    try:
        os.setresgid(user.gid, user.gid, user.gid)
        os.setresuid(user.uid, user.uid, user.uid)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        raise ContainerError(
            f"user {user.uid}:{user.gid} is not mapped in this user namespace (rootless with only"
            " your own id: add a range for you to /etc/subuid and /etc/subgid)"
        ) from exc


@cache
def _available_caps() -> int:
    return caps_module.bounding_set()


@cache
def _last_cap() -> int:
    return caps_module.last_cap()
