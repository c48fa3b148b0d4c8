"""mem_swappiness and oom_kill_disable on this host's real cgroup v1 memory controller.

The container's memory cgroup is read back from /sys/fs/cgroup/memory, beneath the cgroup this test
(and so the composer it runs) is in; down must leave no cgroup, interface or process behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.kernel.cgroups import parse_proc_cgroup
from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

MEMORY_V1 = Path("/sys/fs/cgroup/memory")

PROJECT = """\
name: mk-mem
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    mem_limit: 64m
    mem_swappiness: 7
    oom_kill_disable: true
  plain:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    mem_limit: 64m
"""


def _memory_folder(container: str) -> Path:
    own = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())["memory"]
    return MEMORY_V1 / own.lstrip("/") / "composer" / "mk-mem" / container


@pytest.mark.skipif(not MEMORY_V1.is_dir(), reason="needs the cgroup v1 memory controller")
def test_swappiness_and_oom_kill_disable_are_written_to_the_v1_memory_cgroup(lab: Lab) -> None:
    lab.write(PROJECT)
    up = lab.composer("up", "-d")
    assert "ignored" not in up.stderr  # v1 holds both: nothing to warn about
    app = _memory_folder("mk-mem-app-1")
    assert (app / "memory.swappiness").read_text().strip() == "7"
    oom = dict(line.split() for line in (app / "memory.oom_control").read_text().splitlines())
    assert oom["oom_kill_disable"] == "1"
    assert (app / "cgroup.procs").read_text().split()  # the container runs in it
    plain = dict(
        line.split()
        for line in (_memory_folder("mk-mem-plain-1") / "memory.oom_control").read_text().splitlines()
    )
    assert plain["oom_kill_disable"] == "0"  # the kernel's default where the key is not given
    lab.composer("down", "-t", "1")
    assert not app.exists()
    assert project_leftovers(lab.root, "mk-mem") == []
