"""Cgroups without root: a delegated v2 subtree when the user has one, else none at all.

An unprivileged user may only write cgroups that were delegated to it: a
cgroup v2 folder it owns (systemd's ``user@UID.service`` with ``Delegate=yes``),
with the controllers listed in its ``cgroup.controllers``.  cgroup v1 is never
delegated.  :func:`limit_support` reads which case this is; the decision and
its wording are :func:`composer.model.rootless.rootless_limit_support`.

With a delegated tree the ordinary v2 driver is used, without a device program
(loading one needs CAP_BPF on the host; a rootless container cannot make a
device node anyway, its /dev holds bind mounts of the host's harmless ones).
Without one, :class:`NoCgroupDriver` makes no cgroup: containers run without
limits (the engine has said which ones, or refused under strict limits) and
are stopped through their pid namespace, whose init takes every process along.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from composer.kernel.cgroups import (
    _V2_KEY,
    CgroupDriver,
    CgroupHandle,
    CgroupV1Handle,
    CgroupV2Driver,
    DevicePolicy,
    open_handle,
    parse_proc_cgroup,
)
from composer.model.container import DEFAULT_DEVICE_RULES, CgroupLimits, DeviceRule
from composer.model.rootless import LimitSupport, enforceable_limits, rootless_limit_support


def limit_support(
    sys_root: Path = Path("/sys/fs/cgroup"), proc_self_cgroup: Path = Path("/proc/self/cgroup")
) -> LimitSupport:
    """Which limits this user's cgroup lets composer set, and why not the others."""
    own = parse_proc_cgroup(proc_self_cgroup.read_text())
    if (sys_root / "memory").is_dir() and "memory" in own:  # v1 (or hybrid): as detect_cgroup_driver
        return rootless_limit_support(1, (), False)
    path = own.get(_V2_KEY, "")
    folder = sys_root / path.lstrip("/")
    writable = bool(path) and _ours(folder) and _ours(folder / "cgroup.procs")
    try:
        delegated = (folder / "cgroup.controllers").read_text().split()
    except OSError:
        delegated = []
    return rootless_limit_support(2, delegated, writable, path)


def _ours(path: Path) -> bool:
    """Delegated means owned by us (systemd chowns the subtree to the user), not merely writable."""
    try:
        return path.stat().st_uid == os.geteuid()
    except OSError:
        return False


class NoCgroupDriver:
    """No cgroup at all: handles with no folder (nothing to join, read, kill or remove)."""

    version = 0

    def create(
        self, project: str, container: str, limits: CgroupLimits, devices: DevicePolicy = DEFAULT_DEVICE_RULES
    ) -> CgroupHandle:
        return CgroupV1Handle({})

    def open(self, paths: Mapping[str, str]) -> CgroupHandle:
        return open_handle(paths) if paths else CgroupV1Handle({})

    def remove_project(self, project: str) -> None:
        return None

    def prune_project(self, project: str) -> None:
        return None


class DelegatedV2Driver(CgroupV2Driver):
    """The v2 driver in a delegated subtree, writing only the limits its controllers enforce."""

    def __init__(self, root: Path, own: str, support: LimitSupport) -> None:
        super().__init__(root, own, _no_device_program)
        self.support = support

    def create(
        self, project: str, container: str, limits: CgroupLimits, devices: DevicePolicy = DEFAULT_DEVICE_RULES
    ) -> CgroupHandle:
        return super().create(project, container, enforceable_limits(limits, self.support), None)


def _no_device_program(folder: str, rules: Sequence[DeviceRule]) -> None:
    return None


def rootless_driver(
    support: LimitSupport,
    sys_root: Path = Path("/sys/fs/cgroup"),
    proc_self_cgroup: Path = Path("/proc/self/cgroup"),
) -> CgroupDriver:
    if not support.use_cgroups:
        return NoCgroupDriver()
    own = parse_proc_cgroup(proc_self_cgroup.read_text()).get(_V2_KEY, "/")
    return DelegatedV2Driver(sys_root, own, support)
