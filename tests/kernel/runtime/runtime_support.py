"""A small harness to start containers with the real host layer and clean up after them."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.kernel.cgroups import CgroupDriver, CgroupHandle
from composer.kernel.devices import policy
from composer.kernel.process import decode_wait_status, spawn_container
from composer.model.container import ContainerConfig


@dataclass
class Container:
    cfg: ContainerConfig
    pid: int
    cgroup: CgroupHandle
    out_path: Path
    err_path: Path
    status: int | None = None

    def wait(self, timeout: float = 20.0) -> int:
        """Reap the container and return its exit code (SIGKILL it after ``timeout``)."""
        if self.status is None:
            deadline = time.monotonic() + timeout
            while True:
                pid, raw = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = raw
                    break
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    _, self.status = os.waitpid(self.pid, 0)
                    break
                time.sleep(0.005)
        return decode_wait_status(self.status)

    def reap(self, timeout: float) -> int | None:
        """A waitpid with a timeout, as the supervisor gives stop_container."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, raw = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = raw
                return raw
            time.sleep(0.005)
        return None

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()


@dataclass
class Lab:
    project: str
    state_root: Path
    rootfs: Path
    driver: CgroupDriver
    containers: list[Container] = field(default_factory=list)

    def config(self, name: str, argv: list[str], **overrides: Any) -> ContainerConfig:
        base = ContainerConfig(
            project=self.project,
            service=name,
            name=f"{self.project}-{name}-1",
            number=1,
            argv=tuple(argv),
            rootfs_layers=(str(self.rootfs),),
            state_dir=str(self.state_root / name),
        )
        return dataclasses.replace(base, **overrides)

    def start(self, name: str, argv: list[str], **overrides: Any) -> Container:
        return self.start_config(self.config(name, argv, **overrides))

    def start_config(self, cfg: ContainerConfig) -> Container:
        state = Path(cfg.state_dir)
        state.mkdir(parents=True, exist_ok=True)
        out_path, err_path = state / "out.txt", state / "err.txt"
        handle = self.driver.create(self.project, cfg.service, cfg.cgroup, policy(cfg))
        out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            pid = spawn_container(cfg, handle, out_fd, err_fd)
        except BaseException:
            handle.remove()
            raise
        finally:
            os.close(out_fd)
            os.close(err_fd)
        container = Container(cfg, pid, handle, out_path, err_path)
        self.containers.append(container)
        return container

    def run(self, name: str, argv: list[str], **overrides: Any) -> tuple[int, str, str]:
        """Run a container to completion: (exit code, stdout, stderr)."""
        container = self.start(name, argv, **overrides)
        code = container.wait()
        return code, container.stdout, container.stderr

    def sh(self, script: str, name: str = "c", **overrides: Any) -> tuple[int, str, str]:
        return self.run(name, ["/bin/sh", "-c", script], **overrides)

    def cleanup(self) -> None:
        for container in self.containers:
            if container.status is None:
                container.cgroup.kill_all(signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(container.pid, signal.SIGKILL)
                container.wait()
            container.cgroup.remove()
        self.driver.remove_project(self.project)


def mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4] for line in handle]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def project_cgroups(lab: Lab) -> list[str]:
    found = []
    for controller_root in _cgroup_bases(lab.driver):
        folder = controller_root / lab.project
        if folder.exists():
            found.append(str(folder))
    return found


def _cgroup_bases(driver: CgroupDriver) -> list[Path]:
    bases: list[Path] = []
    mounts = getattr(driver, "mounts", None)
    if mounts is not None:
        bases.extend(driver.base(c) for c in mounts)  # type: ignore[attr-defined]
    else:
        bases.append(driver.base())  # type: ignore[attr-defined]
    return bases


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def leaks(lab: Lab) -> list[str]:
    found = [f"mount {m}" for m in mounts_under(lab.state_root)]
    found += [f"cgroup {c}" for c in project_cgroups(lab)]
    found += [f"process {c.pid}" for c in lab.containers if alive(c.pid)]
    return found
