"""``pid: service:NAME`` and ``ipc: service:NAME``: one container enters another's namespaces, for real."""

from __future__ import annotations

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: hn-joined
services:
  db:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; echo from-db > /dev/shm/segment; sleep 3600 & wait"]
  app:
    rootfs: ROOTFS
    pid: service:db
    ipc: service:db
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3601 & wait"]
  own:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3602 & wait"]
"""

_NAMESPACES = "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc"


def _namespaces(lab: Lab, service: str) -> list[str]:
    result = lab.exec("hn-joined", service, "sh", "-c", _NAMESPACES)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_container_joins_the_pid_and_ipc_namespaces_of_a_service(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    db, app, own = (_namespaces(lab, s) for s in ("db", "app", "own"))
    assert app == db
    assert own[0] != db[0] and own[1] != db[1]
    seen = lab.exec(
        "hn-joined", "app", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '; cat /dev/shm/segment"
    )
    assert seen.returncode == 0, seen.stderr
    assert "sleep 3600" in seen.stdout and "sleep 3601" in seen.stdout  # db's processes and its own
    assert "from-db" in seen.stdout  # db's POSIX shared memory folder
    alone = lab.exec("hn-joined", "own", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
    assert "sleep 3600" not in alone.stdout

    lab.write(PROJECT.replace("from-db", "from-new-db"))
    lab.composer(
        "up", "-d"
    )  # db is recreated: app, whose namespaces went with the old db, restarts in the new
    assert _namespaces(lab, "app") == _namespaces(lab, "db") != db
    seen = lab.exec("hn-joined", "app", "cat", "/dev/shm/segment")
    assert seen.stdout == "from-new-db\n"

    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "hn-joined") == []


def test_joining_a_service_that_does_not_run_fails_clearly(lab: Lab) -> None:
    lab.write(PROJECT.replace("hn-joined", "hn-nojoin"))
    result = lab.composer("up", "-d", "--no-deps", "app", check=False)
    assert result.returncode != 0
    assert "hn-nojoin-db-1 is not running: its" in result.stderr and "Traceback" not in result.stderr
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "hn-nojoin") == []


BY_NAME = """\
name: hn-byname
services:
  db:
    rootfs: ROOTFS
    container_name: hn-byname-store
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
  sidecar:
    rootfs: ROOTFS
    pid: container:hn-byname-store
    network_mode: container:hn-byname-store
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3601 & wait"]
"""


def test_a_container_of_the_project_is_joined_by_its_name(lab: Lab) -> None:
    lab.write(BY_NAME)
    lab.composer("up", "-d")
    seen = {
        s: lab.exec("hn-byname", s, "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/net")
        for s in ("db", "sidecar")
    }
    assert all(r.returncode == 0 for r in seen.values()), [r.stderr for r in seen.values()]
    assert seen["sidecar"].stdout == seen["db"].stdout
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "hn-byname") == []
