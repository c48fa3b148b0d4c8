"""Without root, ``pid: service:NAME`` and ``ipc: service:NAME`` join the other container's namespaces too."""

from __future__ import annotations

from pathlib import Path

import pytest

import composer
from tests.support.rootless import RootlessUser, user_project, wait_for_no_processes

pytestmark = pytest.mark.kernel

PROJECT = """
name: hn-rl-joined
services:
  db:
    rootfs: ./busybox
    network_mode: none
    command: ["sh", "-c", "echo from-db > /dev/shm/segment; exec sleep 1000"]
  app:
    rootfs: ./busybox
    network_mode: none
    pid: service:db
    ipc: service:db
    command: ["sleep", "1001"]
"""

_SEEN = "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; cat /dev/shm/segment"


def test_joined_namespaces_without_root(rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path) -> None:
    project = user_project(rl, rl_dir / "joined", PROJECT, busybox_rootfs)
    checkout = str(Path(composer.__file__).parents[1])  # this checkout's composer first
    try:
        up = rl.composer(project, "up", "-d", "--wait", PYTHONPATH=checkout)
        assert up.returncode == 0, up.stderr
        seen = {
            service: rl.composer(project, "exec", "-T", service, "sh", "-c", _SEEN, PYTHONPATH=checkout)
            for service in ("db", "app")
        }
        assert all(s.returncode == 0 for s in seen.values()), [s.stderr for s in seen.values()]
        assert seen["app"].stdout == seen["db"].stdout
        assert seen["app"].stdout.split()[2] == "from-db"
    finally:
        rl.composer(project, "down", "-t", "1", PYTHONPATH=checkout)
    assert wait_for_no_processes(rl) == []
