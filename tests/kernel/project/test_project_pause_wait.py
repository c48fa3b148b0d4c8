"""pause/unpause (the v1 freezer on this host) and wait through the CLI on the real kernel."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-pause
services:
  ticker:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; while true; do date +%s%N >> /tmp/ticks; sleep 0.05; done"]
  quick:
    rootfs: ROOTFS
    command: [sh, -c, "sleep 0.5; exit 4"]
  slow:
    rootfs: ROOTFS
    command: [sh, -c, "sleep 1.5; exit 0"]
"""


def _ticks(lab: Lab) -> int:
    return len(lab.exec("vb-pause", "ticker", "cat", "/tmp/ticks").stdout.splitlines())


def _state(lab: Lab, service: str) -> str:
    return next(str(r["State"]) for r in lab.ps("vb-pause") if r["Service"] == service)


def _frozen_tasks(folder: Path) -> list[str]:
    return (folder / "cgroup.procs").read_text().split() if folder.is_dir() else []


def test_pause_freezes_every_process_and_unpause_resumes(lab: Lab) -> None:
    lab.write(PROJECT.split("  quick:")[0])
    lab.composer("up", "-d")
    time.sleep(0.3)
    lab.composer("pause", "ticker")
    assert _state(lab, "ticker") == "paused"
    assert "(Paused)" in lab.composer("-p", "vb-pause", "ps").stdout
    frozen = sorted(Path("/sys/fs/cgroup/freezer").glob("**/composer/vb-pause/vb-pause-ticker-1"))
    assert len(frozen) == 1 and (frozen[0] / "freezer.state").read_text().strip() == "FROZEN"
    assert _frozen_tasks(frozen[0])  # the shell and its sleep are in there
    lab.composer("unpause", "ticker")
    before = _ticks(lab)
    deadline = time.monotonic() + 30
    while _ticks(lab) <= before:  # running again
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert not frozen[0].exists()  # the freezer cgroup is gone with the pause
    lab.composer("pause")
    assert frozen[0].exists()
    lab.composer("down", "-t", "2")  # down of a paused project thaws and removes it
    assert project_leftovers(lab.root, "vb-pause") == []


def test_paused_container_stops_no_ticks(lab: Lab) -> None:
    lab.write(PROJECT.split("  quick:")[0])
    lab.composer("up", "-d")
    lab.composer("pause", "ticker")
    rows = {r["Service"]: r for r in lab.ps("vb-pause")}
    log = lab.root / "projects" / "vb-pause" / "containers" / "vb-pause-ticker-1" / "upper" / "tmp" / "ticks"
    count = len(log.read_text().splitlines()) if log.exists() else 0
    time.sleep(0.4)
    assert (len(log.read_text().splitlines()) if log.exists() else 0) == count
    assert rows["ticker"]["State"] == "paused"
    lab.composer("stop", "-t", "2", "ticker")  # stop thaws first: the trap runs, exit 0
    rows = {r["Service"]: r for r in lab.ps("vb-pause")}
    assert rows["ticker"]["State"] == "exited" and rows["ticker"]["ExitCode"] == 0
    lab.composer("down")
    assert project_leftovers(lab.root, "vb-pause") == []


def test_wait_reports_exits_and_returns_the_last_code(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    result = lab.composer("wait", "quick", "slow", check=False)
    assert result.returncode == 0  # slow ended last, with 0
    assert result.stdout.splitlines() == [
        "container vb-pause-quick-1 exited with status code 4",
        "container vb-pause-slow-1 exited with status code 0",
    ]
    lab.composer("up", "-d", "--force-recreate")
    first = lab.composer("wait", "--down-project", "quick", "slow", check=False)
    assert first.returncode == 4
    assert lab.ps("vb-pause") == []  # the project was taken down
    assert project_leftovers(lab.root, "vb-pause") == []
