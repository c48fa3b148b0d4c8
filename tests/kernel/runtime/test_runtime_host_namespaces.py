"""``pid/ipc/uts/cgroup: host``: the container keeps that namespace of the host, and only that one."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import Lab

pytestmark = pytest.mark.kernel

_IPC_PRIVATE, _IPC_CREAT, _IPC_RMID = 0, 0o1000, 0


@pytest.fixture
def host_shm_segment() -> Iterator[int]:
    """A SysV shared memory segment made in the host's IPC namespace (removed afterwards)."""
    libc = ctypes.CDLL(None, use_errno=True)
    shmid = libc.shmget(_IPC_PRIVATE, 4096, _IPC_CREAT | 0o600)
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    try:
        yield shmid
    finally:
        libc.shmctl(shmid, _IPC_RMID, None)


def _host_comm_of_pid_1() -> str:
    return Path("/proc/1/comm").read_text().strip()


def test_pid_host_sees_the_hosts_pid_1_through_its_own_proc(lab: Lab) -> None:
    code, out, err = lab.sh("echo pid=$$; cat /proc/1/comm", host_namespaces=("pid",))
    assert code == 0, err
    first, comm = out.split()
    assert first != "pid=1"  # not the first process of a namespace of its own
    assert comm == _host_comm_of_pid_1()


def test_uts_host_has_the_hosts_name_and_leaves_it_alone(lab: Lab) -> None:
    before = os.uname().nodename
    code, out, err = lab.sh("hostname; cat /etc/hostname", host_namespaces=("uts",))
    assert code == 0, err
    assert out.split() == [before, before]
    assert os.uname().nodename == before


def test_ipc_host_sees_a_sysv_segment_made_on_the_host(lab: Lab, host_shm_segment: int) -> None:
    script = "awk 'NR > 1 {print $2}' /proc/sysvipc/shm"
    code, out, err = lab.sh(script, name="shared", host_namespaces=("ipc",))
    assert code == 0, err
    assert str(host_shm_segment) in out.split()
    code, out, err = lab.sh(script, name="private")
    assert code == 0, err
    assert str(host_shm_segment) not in out.split()


def test_cgroup_host_shows_the_full_host_path(lab: Lab) -> None:
    code, out, err = lab.sh("cat /proc/self/cgroup", name="full", host_namespaces=("cgroup",))
    assert code == 0, err
    assert lab.project in out
    code, out, err = lab.sh("cat /proc/self/cgroup", name="own")
    assert code == 0, err
    assert lab.project not in out


def test_default_container_keeps_namespaces_of_its_own(lab: Lab, host_shm_segment: int) -> None:
    script = "echo pid=$$; hostname; cat /proc/self/cgroup; awk 'NR > 1 {print $2}' /proc/sysvipc/shm"
    code, out, err = lab.sh(script, hostname="hn-own")
    assert code == 0, err
    lines = out.split()
    assert lines[:2] == ["pid=1", "hn-own"]
    assert lab.project not in out
    assert str(host_shm_segment) not in lines


def test_all_four_together_and_stop_leaves_nothing(lab: Lab) -> None:
    code, out, err = lab.sh("cat /proc/1/comm; hostname", host_namespaces=("cgroup", "ipc", "pid", "uts"))
    assert code == 0, err
    assert out.split() == [_host_comm_of_pid_1(), os.uname().nodename]
