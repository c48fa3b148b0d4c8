"""Cgroups for containers: one driver interface, a v1 and a v2 implementation.

Where the cgroups live
    Beneath the cgroup composer itself runs in (read from /proc/self/cgroup),
    per controller, in ``composer/<project>/<container>``; never at the root of a
    hierarchy, so that composer run inside a container or a systemd slice stays
    inside its own delegation.  A :class:`CgroupHandle` knows the absolute folder
    per controller (``paths``); those are recorded in the state store and a later
    composer process, whose own cgroup may differ, reopens them with
    :meth:`CgroupDriver.open`.

Devices
    Every container gets Docker's device policy (:mod:`composer.kernel.devices`):
    on v1 it joins the devices controller, ``devices.deny a`` then the allowed
    rules; on v2 a device program is attached to its folder.  ``devices=None``
    (privileged) allows every device.

v1 (``CgroupV1Driver``)
    One folder per controller used: memory, pids and devices always, cpu and cpuset only
    when the container has such a limit (each hierarchy joined costs an attach).  cpuset needs
    ``cpuset.cpus``/``cpuset.mems`` copied down every new level or no task may
    join.  Swap limits go to ``memory.memsw.limit_in_bytes`` when the kernel has
    swap accounting; without it they are skipped (as Docker does, with no swap).

v2 (``CgroupV2Driver``)
    One folder.  The no-internal-process rule means controllers can only be
    enabled in ``cgroup.subtree_control`` of a cgroup with no processes of its
    own.  composer enables them from its own cgroup down to the project level;
    when its own cgroup holds processes the kernel answers EBUSY, and composer
    stops with an explanation (run it from a leaf of a delegated subtree, e.g.
    ``systemd-run --scope -p Delegate=yes``) rather than moving itself around.

Values follow Docker/runc: cpus -> quota over a 100 ms period, cpu_shares -> v2
``cpu.weight`` = 1 + (shares - 2) * 9999 / 262142, memswap_limit is memory+swap
(-1 unlimited; unset = twice the memory limit, like Docker).  mem_swappiness and
oom_kill_disable exist only on v1 (``memory.swappiness``, ``memory.oom_control``); v2 has no
such setting, and the v2 driver leaves them out as Docker does (up says so, once).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from composer.errors import HostError
from composer.kernel.devices import attach_program, v1_lines
from composer.model.container import DEFAULT_DEVICE_RULES, CgroupLimits, DeviceRule

V1_CONTROLLERS = ("memory", "cpu", "cpuset", "pids", "devices", "blkio")
V2_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "pids")
CFS_PERIOD = 100_000
_V2_KEY = "unified"


class CgroupHandle(Protocol):
    """One container's cgroup, possibly spread over several v1 hierarchies."""

    @property
    def paths(self) -> dict[str, str]: ...

    def attach(self, pid: int) -> None: ...

    def procs_files(self) -> list[str]: ...

    def enforces_devices(self) -> bool:
        """Whether a device policy applies to this cgroup (v1: it joined the devices hierarchy)."""
        ...

    def pids(self) -> set[int]: ...

    def kill_all(self, sig: int = signal.SIGKILL) -> None: ...

    def oom_killed(self) -> bool: ...

    def cpu_quota(self) -> tuple[int, int] | None: ...

    def memory_limit(self) -> int | None: ...

    def remove(self, timeout: float = 2.0) -> None: ...


DevicePolicy = Sequence[DeviceRule] | None  # the allowed rules; None: every device (privileged)


class CgroupDriver(Protocol):
    version: int

    def create(
        self, project: str, container: str, limits: CgroupLimits, devices: DevicePolicy = DEFAULT_DEVICE_RULES
    ) -> CgroupHandle: ...

    def open(self, paths: Mapping[str, str]) -> CgroupHandle: ...

    def remove_project(self, project: str) -> None: ...
    def prune_project(self, project: str) -> None: ...


# --- small file helpers -------------------------------------------------------------------------


def _write(path: Path, value: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError as exc:
        raise HostError(f"cannot write {value!r} to {path}", errno=exc.errno) from exc


def _read(path: Path) -> str:
    with open(path) as handle:
        return handle.read().strip()


def _mkdir(path: Path) -> bool:
    """Create one folder; True when it was new."""
    try:
        path.mkdir()
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise HostError(f"cannot create cgroup {path}", errno=exc.errno) from exc


def _rmdir_retry(path: Path, timeout: float) -> None:
    """rmdir a cgroup, retrying while its tasks drain (EBUSY right after a kill)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise HostError(f"cannot remove cgroup {path}", errno=exc.errno) from exc
            time.sleep(0.005)


def _rmdir_emptied(path: Path, timeout: float = 1.0) -> None:
    """Remove a parent folder whose last child was just removed.

    The kernel takes a removed child offline asynchronously, and until then rmdir of the parent
    says EBUSY; a parent that still holds folders or tasks is someone else's and stays.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.rmdir()
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline or _in_use(path):
                return
        time.sleep(0.005)


def _in_use(folder: Path) -> bool:
    try:
        if any(child.is_dir() for child in folder.iterdir()):
            return True
        return bool((folder / "cgroup.procs").read_text().strip())
    except OSError:
        return True


def _read_procs(files: list[str]) -> set[int]:
    found: set[int] = set()
    for name in files:
        try:
            with open(name) as handle:
                found.update(int(line) for line in handle if line.strip())
        except FileNotFoundError:
            continue
    return found


def _kill_loop(handle: CgroupHandle, sig: int) -> None:
    """Signal every task; repeat a few times to catch children forked meanwhile."""
    for _ in range(20):
        pids = handle.pids()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if sig != signal.SIGKILL:
            return


def _memswap(limits: CgroupLimits) -> int | None:
    """memory+swap in bytes (None = leave, -1 = unlimited), with Docker's default of twice memory."""
    if limits.memory_swap is not None:
        return limits.memory_swap
    if limits.memory is not None:
        return 2 * limits.memory
    return None


def cpu_weight(shares: int) -> int:
    """runc's conversion of v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000)."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map controller -> path from /proc/self/cgroup; the v2 line is keyed ``unified``."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            result[_V2_KEY] = path
            continue
        for controller in controllers.split(","):
            result[controller.removeprefix("name=")] = path
    return result


# --- v1 -----------------------------------------------------------------------------------------


class CgroupV1Handle:
    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = dict(paths)

    @property
    def paths(self) -> dict[str, str]:
        return dict(self._paths)

    def folder(self, controller: str) -> Path | None:
        """The container's folder in one controller's hierarchy, if it joined that one."""
        path = self._paths.get(controller)
        return Path(path) if path else None

    def procs_files(self) -> list[str]:
        return [os.path.join(p, "cgroup.procs") for p in self._paths.values()]

    def enforces_devices(self) -> bool:
        return "devices" in self._paths

    def attach(self, pid: int) -> None:
        for name in self.procs_files():
            _write(Path(name), str(pid))

    def pids(self) -> set[int]:
        return _read_procs(self.procs_files())

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        _kill_loop(self, sig)

    def oom_killed(self) -> bool:
        memory = self.folder("memory")
        if memory is None:
            return False
        try:
            text = _read(memory / "memory.oom_control")
        except FileNotFoundError:
            return False
        values = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(values.get("oom_kill", "0")) > 0

    def cpu_quota(self) -> tuple[int, int] | None:
        cpu = self.folder("cpu")
        if cpu is None:
            return None
        quota = int(_read(cpu / "cpu.cfs_quota_us"))
        return None if quota < 0 else (quota, int(_read(cpu / "cpu.cfs_period_us")))

    def memory_limit(self) -> int | None:
        memory = self.folder("memory")
        if memory is None:
            return None
        value = int(_read(memory / "memory.limit_in_bytes"))
        return None if value >= 1 << 62 else value

    def remove(self, timeout: float = 2.0) -> None:
        if self.pids():
            self.kill_all(signal.SIGKILL)
        for path in self._paths.values():
            _rmdir_retry(Path(path), timeout)
            _rmdir_emptied(Path(path).parent)  # the project folder, once its last container is gone
            _rmdir_emptied(Path(path).parent.parent)  # and composer's own folder, once no project is left


class CgroupV1Driver:
    """cgroup v1: one hierarchy per controller (memory, cpu, cpuset, pids)."""

    version = 1

    def __init__(self, mounts: Mapping[str, Path], own: Mapping[str, str]) -> None:
        self.mounts = dict(mounts)  # controller -> mount point
        self.own = dict(own)  # controller -> composer's own cgroup path in that hierarchy

    def base(self, controller: str) -> Path:
        return self.mounts[controller] / self.own.get(controller, "/").lstrip("/") / "composer"

    def create(
        self, project: str, container: str, limits: CgroupLimits, devices: DevicePolicy = DEFAULT_DEVICE_RULES
    ) -> CgroupHandle:
        paths: dict[str, str] = {}
        for controller in self.controllers_for(limits):
            folder = self.base(controller) / project / container
            self._make_path(controller, folder)
            paths[controller] = str(folder)
        handle = CgroupV1Handle(paths)
        self._apply(handle, limits)
        device_folder = handle.folder("devices")
        if device_folder is not None:
            for name, line in v1_lines(devices):  # before any task joins
                _write(device_folder / name, line)
        return handle

    def controllers_for(self, limits: CgroupLimits) -> list[str]:
        """memory, pids and devices always (OOM accounting, the task list, the device policy);
        cpu and cpuset only when limited.

        Every hierarchy joined costs the container an attach, and a v1 attach waits for an RCU
        grace period (milliseconds): joining only what is needed keeps starts fast.
        """
        wanted = {"memory", "pids", "devices"}
        if limits.cpus is not None or limits.cpu_shares is not None:
            wanted.add("cpu")
        if limits.blkio_weight is not None or limits.blkio_devices:
            wanted.add("blkio")
        if limits.cpuset:
            wanted.add("cpuset")
        return [c for c in self.mounts if c in wanted]

    def _make_path(self, controller: str, folder: Path) -> None:
        chain = [folder, folder.parent, folder.parent.parent]  # container, project, composer
        for level in reversed(chain):
            if _mkdir(level) and controller == "cpuset":
                self._inherit_cpuset(level)

    @staticmethod
    def _inherit_cpuset(folder: Path) -> None:
        # A new v1 cpuset is empty and refuses tasks: copy the parent's values.
        for name in ("cpuset.cpus", "cpuset.mems"):
            _write(folder / name, _read(folder.parent / name))

    def _apply(self, handle: CgroupV1Handle, limits: CgroupLimits) -> None:
        memory = handle.folder("memory")
        if memory is not None:
            self._apply_memory(memory, limits)
        cpu = handle.folder("cpu")
        if cpu is not None:
            if limits.cpus is not None:
                _write(cpu / "cpu.cfs_period_us", str(CFS_PERIOD))
                _write(cpu / "cpu.cfs_quota_us", str(max(1000, int(limits.cpus * CFS_PERIOD))))
            if limits.cpu_shares is not None:
                _write(cpu / "cpu.shares", str(limits.cpu_shares))
        cpuset = handle.folder("cpuset")
        if cpuset is not None and limits.cpuset:
            _write(cpuset / "cpuset.cpus", limits.cpuset)
        pids = handle.folder("pids")
        if pids is not None and limits.pids is not None:
            _write(pids / "pids.max", "max" if limits.pids <= 0 else str(limits.pids))
        blkio = handle.folder("blkio")
        if blkio is not None:
            _apply_blkio_v1(blkio, limits)

    @staticmethod
    def _apply_memory(memory: Path, limits: CgroupLimits) -> None:
        if limits.memory is not None:
            memsw = memory / "memory.memsw.limit_in_bytes"
            swap = _memswap(limits)
            # memsw must stay >= memory: raise memsw first when growing, lower it last when shrinking.
            if memsw.exists():
                _write(memsw, "-1")
            _write(memory / "memory.limit_in_bytes", str(limits.memory))
            if memsw.exists() and swap is not None:
                _write(memsw, str(swap))
        if limits.memory_reservation is not None:
            _write(memory / "memory.soft_limit_in_bytes", str(limits.memory_reservation))
        if limits.memory_swappiness is not None:
            _write(memory / "memory.swappiness", str(limits.memory_swappiness))
        if limits.oom_kill_disable:
            _write(memory / "memory.oom_control", "1")  # tasks over the limit wait instead of being killed

    def open(self, paths: Mapping[str, str]) -> CgroupHandle:
        return CgroupV1Handle(paths)

    def remove_project(self, project: str) -> None:
        for controller in self.mounts:
            _remove_tree(self.base(controller) / project)

    def prune_project(self, project: str) -> None:
        for controller in self.mounts:
            if _prune_empty(self.base(controller) / project):
                _rmdir_emptied(self.base(controller))  # composer's own folder, once no project is left


# --- block I/O (blkio_config) --------------------------------------------------------------------

_V1_THROTTLE = {
    "read_bps": "blkio.throttle.read_bps_device", "write_bps": "blkio.throttle.write_bps_device",
    "read_iops": "blkio.throttle.read_iops_device", "write_iops": "blkio.throttle.write_iops_device",
}  # fmt: skip
_V2_IO_MAX = {"read_bps": "rbps", "write_bps": "wbps", "read_iops": "riops", "write_iops": "wiops"}
# I/O weights exist only where the kernel weighs I/O (the BFQ scheduler, or io.weight's cost model)
_V1_WEIGHT = ("blkio.weight", "blkio.bfq.weight")
_V1_WEIGHT_DEVICE = ("blkio.weight_device", "blkio.bfq.weight_device")
_V2_WEIGHT = ("io.weight", "io.bfq.weight")


def block_device_number(path: str) -> str:
    """``MAJOR:MINOR`` of the block device at ``path`` (symlinks such as /dev/disk/by-id/... followed)."""
    hint = "name a block device of this host (lsblk lists them), e.g. /dev/sda"
    try:
        info = os.stat(path)
    except OSError as exc:
        raise HostError(f"blkio_config: cannot use the device {path}", errno=exc.errno, hint=hint) from exc
    if not stat.S_ISBLK(info.st_mode):
        raise HostError(f"blkio_config: {path} is not a block device", hint=hint)
    return f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}"


def _first_file(folder: Path, names: Sequence[str]) -> Path | None:
    return next((folder / name for name in names if (folder / name).exists()), None)


def _apply_blkio_v1(folder: Path, limits: CgroupLimits) -> None:
    weight = _first_file(folder, _V1_WEIGHT)
    if limits.blkio_weight is not None and weight is not None:
        _write(weight, str(limits.blkio_weight))
    for setting, path, value in limits.blkio_devices or ():
        number = block_device_number(path)
        if setting != "weight":
            _write(folder / _V1_THROTTLE[setting], f"{number} {value}")
        elif (per_device := _first_file(folder, _V1_WEIGHT_DEVICE)) is not None:
            _write(per_device, f"{number} {value}")


def _apply_io_v2(folder: Path, limits: CgroupLimits) -> None:
    weight = _first_file(folder, _V2_WEIGHT)
    if limits.blkio_weight is not None and weight is not None:
        _write(weight, f"default {limits.blkio_weight}")
    throttles: dict[str, list[str]] = {}
    for setting, path, value in limits.blkio_devices or ():
        number = block_device_number(path)
        if setting != "weight":
            throttles.setdefault(number, []).append(f"{_V2_IO_MAX[setting]}={value if value else 'max'}")
        elif weight is not None:
            _write(weight, f"{number} {value}")
    for number, settings in throttles.items():  # one line per device: io.max keeps what a line omits
        _write(folder / "io.max", f"{number} {' '.join(settings)}")


def _prune_empty(folder: Path) -> bool:
    """Remove the folders beneath and at ``folder`` that hold no task, leaves first; True if it went.

    Nothing is killed: a folder with tasks may be another state root's project of the same name.
    """
    if not folder.is_dir():
        return True
    children = [child for child in folder.iterdir() if child.is_dir()]
    if not all([_prune_empty(child) for child in children]) or _in_use(folder):
        return False
    _rmdir_emptied(folder)
    return not folder.is_dir()


def _remove_tree(folder: Path) -> None:
    """Kill what is left in a project's cgroups and remove them, leaves first."""
    if not folder.is_dir():
        return
    for child in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        _remove_tree(child)
    procs = folder / "cgroup.procs"
    if procs.exists():
        CgroupV1Handle({"x": str(folder)}).kill_all(signal.SIGKILL)
    _rmdir_retry(folder, 2.0)


# --- v2 -----------------------------------------------------------------------------------------


class CgroupV2Handle:
    def __init__(self, path: str) -> None:
        self.path = Path(path)

    @property
    def paths(self) -> dict[str, str]:
        return {_V2_KEY: str(self.path)}

    def procs_files(self) -> list[str]:
        return [str(self.path / "cgroup.procs")]

    def enforces_devices(self) -> bool:
        return True  # the device program is attached when the folder is made (create fails otherwise)

    def attach(self, pid: int) -> None:
        _write(self.path / "cgroup.procs", str(pid))

    def pids(self) -> set[int]:
        return _read_procs(self.procs_files())

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        kill_file = self.path / "cgroup.kill"
        if sig == signal.SIGKILL and kill_file.exists():
            _write(kill_file, "1")  # atomic, fork-race free (Linux 5.14+)
            return
        _kill_loop(self, sig)

    def _keyed(self, name: str) -> dict[str, str]:
        try:
            text = _read(self.path / name)
        except FileNotFoundError:
            return {}
        return dict(line.split(None, 1) for line in text.splitlines() if " " in line)

    def oom_killed(self) -> bool:
        return int(self._keyed("memory.events").get("oom_kill", "0")) > 0

    def cpu_quota(self) -> tuple[int, int] | None:
        try:
            quota, period = _read(self.path / "cpu.max").split()
        except FileNotFoundError:
            return None
        return None if quota == "max" else (int(quota), int(period))

    def memory_limit(self) -> int | None:
        try:
            value = _read(self.path / "memory.max")
        except FileNotFoundError:
            return None
        return None if value == "max" else int(value)

    def remove(self, timeout: float = 2.0) -> None:
        if self.pids():
            self.kill_all(signal.SIGKILL)
        _rmdir_retry(self.path, timeout)
        _rmdir_emptied(self.path.parent)
        _rmdir_emptied(self.path.parent.parent)


class CgroupV2Driver:
    """cgroup v2: a single unified hierarchy, controllers delegated via subtree_control."""

    version = 2

    def __init__(
        self, root: Path, own: str, attach: Callable[[str, Sequence[DeviceRule]], None] = attach_program
    ) -> None:
        self.root = root
        self.own = own
        self.attach_devices = attach  # the fake-tree tests record it instead of loading eBPF

    @property
    def own_dir(self) -> Path:
        return self.root / self.own.lstrip("/")

    def base(self) -> Path:
        return self.own_dir / "composer"

    def _wanted(self) -> list[str]:
        try:
            available = _read(self.own_dir / "cgroup.controllers").split()
        except FileNotFoundError:
            return []
        return [c for c in V2_CONTROLLERS if c in available]

    def _enable(self, folder: Path, controllers: list[str]) -> None:
        if not controllers:
            return
        try:
            current = set(_read(folder / "cgroup.subtree_control").split())
        except FileNotFoundError:
            current = set()
        except OSError as exc:
            raise HostError(f"cannot enable cgroup controllers in {folder}", errno=exc.errno) from exc
        missing = [c for c in controllers if c not in current]
        if not missing:
            return
        try:
            with open(folder / "cgroup.subtree_control", "w") as handle:
                handle.write(" ".join("+" + c for c in missing))
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise HostError(
                    f"cannot enable cgroup controllers {' '.join(missing)} below {folder}: the cgroup"
                    " holds processes and cgroup v2 forbids controllers there (no internal processes)",
                    errno=exc.errno,
                    hint="run composer from a leaf cgroup of a delegated subtree, e.g."
                    " `systemd-run --scope -p Delegate=yes composer ...`",
                ) from exc
            raise HostError(f"cannot enable cgroup controllers in {folder}", errno=exc.errno) from exc

    def create(
        self, project: str, container: str, limits: CgroupLimits, devices: DevicePolicy = DEFAULT_DEVICE_RULES
    ) -> CgroupHandle:
        controllers = self._wanted()
        folder = self.base() / project / container
        self._enable(self.own_dir, controllers)
        for level in (folder.parent.parent, folder.parent):
            _mkdir(level)
            self._enable(level, controllers)
        new = _mkdir(folder)
        handle = CgroupV2Handle(str(folder))
        self._apply(folder, limits)
        if devices is not None and new:  # once: programs attached with ALLOW_MULTI add up
            try:
                self.attach_devices(str(folder), devices)
            except OSError as exc:
                raise HostError(f"cannot attach the device policy to {folder}", errno=exc.errno) from exc
        return handle

    @staticmethod
    def _apply(folder: Path, limits: CgroupLimits) -> None:
        # memory_swappiness and oom_kill_disable have no v2 file: up warned that they are ignored.
        if limits.memory is not None:
            _write(folder / "memory.max", str(limits.memory))
            swap = _memswap(limits)
            if swap is not None and (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", "max" if swap < 0 else str(max(0, swap - limits.memory)))
        if limits.memory_reservation is not None:
            _write(folder / "memory.low", str(limits.memory_reservation))
        if limits.cpus is not None:
            _write(folder / "cpu.max", f"{max(1000, int(limits.cpus * CFS_PERIOD))} {CFS_PERIOD}")
        if limits.cpu_shares is not None:
            _write(folder / "cpu.weight", str(cpu_weight(limits.cpu_shares)))
        if limits.cpuset:
            _write(folder / "cpuset.cpus", limits.cpuset)
        if limits.pids is not None:
            _write(folder / "pids.max", "max" if limits.pids <= 0 else str(limits.pids))
        if limits.blkio_weight is not None or limits.blkio_devices:
            _apply_io_v2(folder, limits)

    def open(self, paths: Mapping[str, str]) -> CgroupHandle:
        return CgroupV2Handle(paths[_V2_KEY])

    def remove_project(self, project: str) -> None:
        _remove_tree(self.base() / project)

    def prune_project(self, project: str) -> None:
        if _prune_empty(self.base() / project):
            _rmdir_emptied(self.base())  # composer's own folder, once no project is left


# --- detection ----------------------------------------------------------------------------------


def detect_cgroup_driver(
    sys_root: Path = Path("/sys/fs/cgroup"),
    proc_self_cgroup: Path = Path("/proc/self/cgroup"),
    attach_devices: Callable[[str, Sequence[DeviceRule]], None] = attach_program,
) -> CgroupDriver:
    """v1 when the v1 memory controller is mounted (hybrid hosts too), else v2."""
    own = parse_proc_cgroup(proc_self_cgroup.read_text())
    v1_mounts = {c: sys_root / c for c in V1_CONTROLLERS if c in own and (sys_root / c).is_dir()}
    if "memory" in v1_mounts:
        return CgroupV1Driver(v1_mounts, {c: own[c] for c in v1_mounts})
    if (sys_root / "cgroup.controllers").exists() and _V2_KEY in own:
        return CgroupV2Driver(sys_root, own[_V2_KEY], attach_devices)
    raise HostError(f"no usable cgroup hierarchy under {sys_root}", errno=errno.ENOENT)


def open_handle(paths: Mapping[str, str]) -> CgroupHandle:
    """Reopen a handle from recorded paths without knowing the driver."""
    if set(paths) == {_V2_KEY}:
        return CgroupV2Handle(paths[_V2_KEY])
    return CgroupV1Handle(paths)
