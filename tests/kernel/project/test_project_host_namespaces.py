"""``pid/uts/ipc/cgroup: host`` through ``up``/``exec``/``down``, and ``uts: host`` with a hostname refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: hn-hostns
services:
  shared:
    rootfs: ROOTFS
    pid: host
    uts: host
    ipc: host
    cgroup: host
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
  own:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
"""


def test_host_namespaces_up_exec_down_leaves_nothing(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    shared = lab.exec("hn-hostns", "shared", "sh", "-c", "cat /proc/1/comm; hostname")
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.split() == [Path("/proc/1/comm").read_text().strip(), os.uname().nodename]
    own = lab.exec("hn-hostns", "own", "sh", "-c", "cat /proc/1/comm; hostname")
    assert own.returncode == 0, own.stderr
    assert own.stdout.split() == ["sh", "own"]
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "hn-hostns") == []


def test_uts_host_with_a_hostname_is_refused_at_its_line(lab: Lab) -> None:
    lab.write("name: hn-utsname\nservices:\n  s:\n    rootfs: ROOTFS\n    uts: host\n    hostname: web\n")
    result = lab.composer("up", "-d", check=False)
    assert result.returncode != 0
    assert "compose.yaml:6" in result.stderr and "services.s.hostname" in result.stderr
    assert "conflicts with `uts: host`" in result.stderr and "Traceback" not in result.stderr
    assert project_leftovers(lab.root, "hn-utsname") == []
