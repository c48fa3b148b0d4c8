"""The log FIFOs of a real project: root's folder, and a new supervisor still collects from them."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: hd-fifos
services:
  talk:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; i=0; while true; do echo tick$$i; i=$$((i+1)); sleep 0.1; done"]
"""


def _ticks(lab: Lab) -> list[int]:
    out = lab.composer("-p", "hd-fifos", "logs", "talk").stdout
    return [int(line[4:]) for line in out.split() if line.startswith("tick")]


def test_fifos_are_roots_alone_and_adopted_by_a_new_supervisor(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    folder = lab.root / "projects" / "hd-fifos" / "containers" / "hd-fifos-talk-1"
    fifos = os.stat(folder / "fifos")
    assert (stat.S_IMODE(fifos.st_mode), fifos.st_uid) == (0o700, 0)
    assert stat.S_ISFIFO(os.stat(folder / "fifos" / "stdout.fifo").st_mode)
    pid_file = lab.root / "projects" / "hd-fifos" / "supervisor.pid"
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    time.sleep(0.3)
    before = max(_ticks(lab), default=-1)
    lab.composer("up", "-d")  # a new supervisor adopts the container and reopens its FIFOs
    deadline = time.monotonic() + 10
    while max(_ticks(lab), default=-1) < before + 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    ticks = _ticks(lab)
    assert max(ticks) >= before + 10, "nothing collected after the adoption"
    assert ticks == list(range(len(ticks))), "a line was lost or repeated"  # the FIFO kept them meanwhile
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "hd-fifos") == []


def test_down_prunes_empty_cgroups_and_spares_ones_with_tasks(lab: Lab) -> None:
    """An empty folder beneath the project's cgroup (a removal cut short) goes with down; one with a task
    may be another state root's project of the same name, and is left alone, its task alive."""
    from composer.kernel.cgroups import detect_cgroup_driver

    lab.write(PROJECT.replace("hd-fifos", "hd-sweep"))
    lab.composer("up", "-d")
    project = detect_cgroup_driver().base("memory") / "hd-sweep"
    (project / "stray" / "deeper").mkdir(parents=True)
    lab.composer("down", "-t", "1")
    assert not project.exists()
    assert project_leftovers(lab.root, "hd-sweep") == []

    lab.composer("up", "-d")
    other = project / "other-root-1"
    other.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (other / "cgroup.procs").write_text(str(sleeper.pid))
        lab.composer("down", "-t", "1")
        assert sleeper.poll() is None and other.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()
    other.rmdir()
    project.rmdir()
    assert project_leftovers(lab.root, "hd-sweep") == []
