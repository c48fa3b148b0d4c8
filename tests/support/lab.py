"""Whole projects through the CLI on the real kernel, each test in a throwaway network namespace.

Import the ``lab`` fixture into a conftest.py to use it.

The ``lab`` fixture moves pytest's main thread into a new network namespace (the
composer commands it runs are forked from that thread and inherit it), gives
the test its own state root and project name, and afterwards checks that the
project left nothing: no interface, nftables table, mount, cgroup or process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from composer.kernel import syscalls

BUSYBOX = "/bin/busybox"


def ps_rows(out: str) -> list[dict[str, object]]:
    """``ps --format json``: one object per line."""
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@dataclass
class Lab:
    root: Path
    folder: Path
    rootfs: Path
    started: list[int] = field(default_factory=list)

    def write(self, text: str, name: str = "compose.yaml") -> Path:
        path = self.folder / name
        path.write_text(text.replace("ROOTFS", str(self.rootfs)))
        return path

    def env(self) -> dict[str, str]:
        images = str(self.root / "images")
        return {**os.environ, "COMPOSER_ROOT": str(self.root), "COMPOSER_IMAGE_ROOT": images}

    def composer(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120,
        cwd: Path | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run composer; its stdin is ``input``, else /dev/null (never the test runner's)."""
        result = subprocess.run(
            [sys.executable, "-m", "composer.cli.main", *args], cwd=cwd or self.folder, env=self.env(),
            capture_output=True, text=True, timeout=timeout, check=False, input=input,
            stdin=subprocess.DEVNULL if input is None else None,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"composer {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "composer.cli.main", *args], cwd=self.folder, env=self.env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.started.append(proc.pid)
        return proc

    def ps(self, project: str) -> list[dict[str, object]]:
        return ps_rows(self.composer("-p", project, "ps", "-a", "--format", "json").stdout)

    def exec(self, project: str, service: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.composer("-p", project, "exec", "-T", service, *argv, check=False)


def project_leftovers(root: Path, project: str) -> list[str]:
    """Everything of ``project`` still on the (sandboxed) host."""
    from composer.kernel.net import netlink, nft

    found = [f"interface {link.name}" for link in netlink.list_owned_links(project)]
    if nft.table_text(project) is not None:
        found.append("nftables table")
    found += [f"mount {m}" for m in _mounts_under(root / "projects" / project)]
    found += [f"cgroup {c}" for c in _cgroups_of(project)]
    found += [f"process {p}" for p in _processes_under(root / "projects" / project)]
    if (root / "projects" / project).exists():
        found.append(f"state folder {root / 'projects' / project}")
    return found


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder)
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4] for line in handle]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def _cgroups_of(project: str) -> list[str]:
    """Cgroup folders named composer/<project>; other commands' folders may vanish during the walk."""
    found = []
    for base in Path("/sys/fs/cgroup").iterdir():
        for folder, subfolders, _files in os.walk(base, onerror=lambda _error: None):
            if Path(folder).name == project and Path(folder).parent.name == "composer":
                found.append(folder)
            subfolders[:] = [s for s in subfolders if not s.startswith(".")]
    return found


def _processes_under(folder: Path) -> list[int]:
    """Processes whose command line or cwd names the project's state folder (supervisor)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def lab(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Lab]:
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    syscalls.unshare(syscalls.CLONE_NEWNET)
    folder = tmp_path / f"p{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    box = Lab(root=tmp_path / "state", folder=folder, rootfs=busybox_rootfs)
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        Path("/proc/sys/net/ipv4/ip_forward").write_text("0")
        yield box
    finally:
        for project in _projects(box.root):
            box.composer("-p", project, "down", "-v", "-t", "1", check=False)
        for pid in box.started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        syscalls.setns(original, syscalls.CLONE_NEWNET)
        os.close(original)


def _projects(root: Path) -> list[str]:
    base = root / "projects"
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []
