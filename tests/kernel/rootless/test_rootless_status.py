"""What the views say of a rootless project, run as its user outside the project's namespaces.

A rootless project's containers run in the project's own pid namespace (its keeper is PID 1
there), so the PIDs the supervisor records are that namespace's.  ``ls`` and ``stats`` never
enter the project, and ``ps`` runs outside once the keeper is gone: each must look the PIDs
up in the project's namespace, through the keeper, and call every container exited when the
keeper is gone.  Project names start with ``rl-``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.rootless import RootlessUser, user_project, wait_for_no_processes

pytestmark = pytest.mark.kernel

SLEEPERS = """
name: rl-status
services:
  a: {rootfs: ./busybox, init: true, network_mode: none, command: ["sleep", "1000"]}
  b: {rootfs: ./busybox, init: true, network_mode: none, command: ["sleep", "1000"], scale: 2}
"""


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout


def listed(user: RootlessUser, project: Path) -> dict[str, str]:
    """``composer ls`` as the user: each project's status."""
    return {
        row["Name"]: row["Status"] for row in json.loads(ok(user.composer(project, "ls", "--format", "json")))
    }


def states(user: RootlessUser, project: Path) -> dict[str, tuple[str, str]]:
    """``composer ps -a`` as the user: each container's state and status text."""
    lines = ok(user.composer(project, "ps", "-a", "--format", "json")).splitlines()  # one object a line
    rows = [json.loads(line) for line in lines if line.strip()]
    return {row["Name"]: (row["State"], row["Status"]) for row in rows}


def stats_names(user: RootlessUser, project: Path) -> list[str]:
    """``composer stats --no-stream`` as the user: the containers it reads (the running ones)."""
    lines = ok(user.composer(project, "stats", "--no-stream", "--format", "json")).splitlines()
    return sorted(json.loads(line)["Name"] for line in lines if line.strip())


def in_namespace_pids(user: RootlessUser, project: str) -> list[int]:
    folder = user.state_root / "projects" / project / "containers"
    return [json.loads((c / "status.json").read_text())["pid"] for c in sorted(folder.iterdir())]


def test_ls_ps_and_stats_see_a_running_rootless_project_and_a_dead_keeper(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "status", SLEEPERS, busybox_rootfs)
    try:
        ok(rl.composer(project, "up", "-d", "--wait"))
        # The recorded PIDs are the project's namespace's (small), not the host's: the very case.
        keeper = json.loads((rl.state_root / "userns" / "rl-status.json").read_text())["pid"]
        assert all(pid < 100 for pid in in_namespace_pids(rl, "rl-status"))
        assert listed(rl, project) == {"rl-status": "running(3)"}
        assert stats_names(rl, project) == ["rl-status-a-1", "rl-status-b-1", "rl-status-b-2"]

        os.kill(keeper, signal.SIGKILL)  # the keeper this test's up made: the whole project dies with it
        assert wait_for_no_processes(rl) == []
        assert listed(rl, project) == {"rl-status": "exited(3)"}
        seen = states(rl, project)  # ps now runs outside: no namespace is left to enter
        assert {state for state, _ in seen.values()} == {"exited"}, seen
        assert {text for _, text in seen.values()} == {"Exited"}, seen  # no made-up code or time
        assert stats_names(rl, project) == []

        ok(rl.composer(project, "up", "-d", "--wait"))  # repairs: a new keeper, new containers
        assert listed(rl, project) == {"rl-status": "running(3)"}
        ok(rl.composer(project, "down", "-t", "1"))
        assert listed(rl, project) == {}
    finally:
        rl.composer(project, "down", "-t", "1")


def test_ls_tells_a_running_project_from_a_stopped_one(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    first = user_project(rl, rl_dir / "one", SLEEPERS.replace("rl-status", "rl-status-one"), busybox_rootfs)
    second = user_project(rl, rl_dir / "two", SLEEPERS.replace("rl-status", "rl-status-two"), busybox_rootfs)
    try:
        ok(rl.composer(first, "up", "-d", "--wait"))
        ok(rl.composer(second, "up", "-d", "--wait"))
        ok(rl.composer(second, "stop", "-t", "1", "b"))  # the keeper stays: b's are exited, a runs
        assert listed(rl, first) == {"rl-status-one": "running(3)", "rl-status-two": "exited(2), running(1)"}
        ok(rl.composer(first, "down", "-t", "1"))
        assert listed(rl, first) == {"rl-status-two": "exited(2), running(1)"}
        ok(rl.composer(second, "down", "-t", "1"))
        assert listed(rl, first) == {}
    finally:
        rl.composer(first, "down", "-t", "1")
        rl.composer(second, "down", "-t", "1")
