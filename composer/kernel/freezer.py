"""Freezing a container's processes (``composer pause``/``unpause``) with the cgroup freezer.

v2
    The container's own folder has ``cgroup.freeze``: write 1, then wait until
    ``cgroup.events`` says ``frozen 1`` (the kernel freezes asynchronously).
v1
    The freezer is a hierarchy of its own that containers do not join when they
    start (every hierarchy joined costs each start an attach): ``pause`` makes
    ``composer/<project>/<container>`` beneath composer's own freezer cgroup,
    sets it ``FROZEN`` and moves the container's tasks in (a task entering a
    frozen cgroup freezes, so children forked meanwhile are caught on the next
    pass); ``unpause`` thaws it, moves the tasks back to composer's own freezer
    cgroup and removes the folder, so nothing of it outlives the pause.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from composer.errors import HostError
from composer.kernel.cgroups import open_handle, parse_proc_cgroup

V2_KEY = "unified"
SETTLE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Freezer:
    """Where the v1 freezer hierarchy is (only read on v1 hosts)."""

    sys_root: Path = Path("/sys/fs/cgroup")
    proc_self_cgroup: Path = Path("/proc/self/cgroup")

    def v1_folder(self, project: str, name: str) -> Path:
        own = parse_proc_cgroup(self.proc_self_cgroup.read_text()).get("freezer")
        mount = self.sys_root / "freezer"
        if own is None or not mount.is_dir():
            raise HostError("this host has no cgroup freezer: pause needs it", errno=errno.ENOTSUP)
        return mount / own.lstrip("/") / "composer" / project / name

    def freeze(self, paths: Mapping[str, str], project: str, name: str) -> None:
        if V2_KEY in paths:
            folder = Path(paths[V2_KEY])
            _write(folder / "cgroup.freeze", "1")
            _settle(lambda: _events(folder).get("frozen") == "1", folder)
            return
        folder = self.v1_folder(project, name)
        for level in (folder.parent.parent, folder.parent, folder):
            with contextlib.suppress(FileExistsError):
                level.mkdir()
        _write(folder / "freezer.state", "FROZEN")
        tasks = open_handle(paths)
        for _ in range(50):  # until no task of the container is outside the frozen cgroup
            outside = tasks.pids() - _procs(folder)
            if not outside:
                break
            for pid in sorted(outside):
                with contextlib.suppress(HostError):  # it exited meanwhile
                    _write(folder / "cgroup.procs", str(pid))
        _settle(lambda: _read(folder / "freezer.state") == "FROZEN", folder)

    def thaw(self, paths: Mapping[str, str], project: str, name: str) -> None:
        """Let the tasks run again; idempotent (a container never frozen is left as it is)."""
        if V2_KEY in paths:
            folder = Path(paths[V2_KEY])
            if (folder / "cgroup.freeze").exists():
                _write(folder / "cgroup.freeze", "0")
            return
        try:
            folder = self.v1_folder(project, name)
        except HostError:
            return
        if not folder.is_dir():
            return
        _write(folder / "freezer.state", "THAWED")
        home = folder.parent.parent.parent / "cgroup.procs"  # composer's own freezer cgroup
        for _ in range(50):
            inside = _procs(folder)
            if not inside:
                break
            for pid in sorted(inside):
                with contextlib.suppress(HostError):
                    _write(home, str(pid))
        for level in (folder, folder.parent, folder.parent.parent):
            with contextlib.suppress(OSError):
                level.rmdir()  # the project and composer levels only once empty

    def frozen(self, paths: Mapping[str, str], project: str, name: str) -> bool:
        if V2_KEY in paths:
            return _events(Path(paths[V2_KEY])).get("frozen") == "1"
        try:
            folder = self.v1_folder(project, name)
            return _read(folder / "freezer.state") in ("FROZEN", "FREEZING")
        except (HostError, FileNotFoundError):
            return False


def _settle(done: Callable[[], bool], folder: Path) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise HostError(
                f"the freezer of {folder} did not settle in {SETTLE_TIMEOUT:.0f}s", errno=errno.EBUSY
            )
        time.sleep(0.005)


def _events(folder: Path) -> dict[str, str]:
    try:
        text = _read(folder / "cgroup.events")
    except FileNotFoundError:
        return {}
    return dict(line.split(None, 1) for line in text.splitlines() if " " in line)


def _procs(folder: Path) -> set[int]:
    try:
        return {int(line) for line in _read(folder / "cgroup.procs").splitlines() if line.strip()}
    except FileNotFoundError:
        return set()


def _read(path: Path) -> str:
    with open(path) as handle:
        return handle.read().strip()


def _write(path: Path, value: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError as exc:
        raise HostError(f"cannot write {value!r} to {path}", errno=exc.errno) from exc
