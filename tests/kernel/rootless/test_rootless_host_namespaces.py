"""Without root, ``pid: host`` is the project's pid namespace, not the host's (see the README)."""

from __future__ import annotations

from pathlib import Path

import pytest

import composer
from tests.support.rootless import RootlessUser, user_project, wait_for_no_processes

pytestmark = pytest.mark.kernel

PROJECT = """
name: hn-rootless
services:
  a:
    rootfs: ./busybox
    network_mode: none
    pid: host
    command: ["sleep", "1000"]
"""


def test_host_namespaces_are_the_projects_without_root(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "hostns", PROJECT, busybox_rootfs)
    # This checkout's composer first: the user's interpreter may see another checkout's.
    checkout = str(Path(composer.__file__).parents[1])
    try:
        up = rl.composer(project, "up", "-d", "--wait", PYTHONPATH=checkout)
        assert up.returncode == 0, up.stderr
        seen = rl.composer(
            project,
            "exec",
            "-T",
            "a",
            "sh",
            "-c",
            "cat /proc/1/comm; hostname; ls /proc",
            PYTHONPATH=checkout,
        )
        assert seen.returncode == 0, seen.stderr
        comm, hostname, *entries = seen.stdout.split()
        assert comm != Path("/proc/1/comm").read_text().strip()  # the project's first process
        assert hostname == "a"
        assert len([e for e in entries if e.isdigit()]) < 20  # the project's processes only
    finally:
        rl.composer(project, "down", "-t", "1", PYTHONPATH=checkout)
    assert wait_for_no_processes(rl) == []


def test_uts_ipc_cgroup_host_are_refused_without_root(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    compose = (
        PROJECT.replace("hn-rootless", "hn-rootless-refused")
        + "    uts: host\n    ipc: host\n    cgroup: host\n"
    )
    project = user_project(rl, rl_dir / "refused", compose, busybox_rootfs)
    checkout = str(Path(composer.__file__).parents[1])
    up = rl.composer(project, "up", "-d", PYTHONPATH=checkout)
    assert up.returncode != 0
    for kind, line in (("uts", 9), ("ipc", 10), ("cgroup", 11)):
        assert (
            f"compose.yaml:{line}:5: services.a.{kind}: `{kind}: host` is not supported without root"
            in up.stderr
        )
    assert "Traceback" not in up.stderr
    # Bad input leaves nothing, with no down: no keeper, no state root, not even a lock file
    # (the refusal comes from inside the project's namespaces, made for this up).
    assert wait_for_no_processes(rl) == []
    assert not rl.state_root.exists(), sorted(str(p) for p in rl.state_root.rglob("*"))
