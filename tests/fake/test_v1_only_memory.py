"""mem_swappiness and oom_kill_disable: planned as cgroup values, and on cgroup v2 one warning that they are
ignored (the v2 kernel has no such setting; Docker discards them there too).

The host is the fake one, reporting cgroup v1 or v2 (this machine runs v1, so a real v2 cannot be shown;
the v2 driver's writes are checked against a fake cgroupfs tree in tests/unit/kernel/test_kernel_cgroup_v2.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from composer.model.container import CgroupLimits
from composer.model.rootless import LimitSupport
from tests.support.projects import load, write_project

PROJECT = """\
name: mk-mem
services:
  db:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    mem_limit: 64m
    mem_swappiness: 0
    oom_kill_disable: true
    scale: 2
  cache:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    mem_swappiness: 30
    oom_kill_disable: false
  web:
    rootfs: ROOTFS
    command: [sleep, "1d"]
"""


@pytest.fixture
def project(tmp_path: Path, busybox_rootfs: Path) -> Path:
    return write_project(tmp_path / "mk-mem", PROJECT, busybox_rootfs)


@pytest.fixture
def roots(tmp_path: Path) -> api.Roots:
    return api.Roots(state=tmp_path / "state", images=tmp_path / "images")


def _ignored(plan: api.Plan) -> list[str]:
    return [note for note in plan.notes if "cgroup v2" in note]


def test_v1_plans_the_values_and_says_nothing(project: Path, roots: api.Roots) -> None:
    result = api.up(load(project), api.UpOptions(), roots=roots, host=FakeHost(cgroups=1))
    limits = {c.name: c.config.cgroup for c in result.desired.containers.values()}
    assert limits["mk-mem-db-1"] == CgroupLimits(memory=64 << 20, memory_swappiness=0, oom_kill_disable=True)
    assert limits["mk-mem-db-2"] == limits["mk-mem-db-1"]
    # false is the kernel's default: nothing to write, as runc writes memory.oom_control only for true
    assert limits["mk-mem-cache-1"] == CgroupLimits(memory_swappiness=30)
    assert limits["mk-mem-web-1"].is_empty()
    assert _ignored(result.plan) == []


def test_v2_warns_once_naming_each_service_and_field(project: Path, roots: api.Roots) -> None:
    host = FakeHost(cgroups=2)
    plan = api.up(load(project), api.UpOptions(), roots=roots, host=host).plan
    assert _ignored(plan) == [
        "ignored: services.cache.mem_swappiness, services.db.mem_swappiness, services.db.oom_kill_disable:"
        " this host runs cgroup v2 and the cgroup v2 kernel has no such setting (no per-cgroup swappiness,"
        " no switch for the OOM killer); the containers run without it, as with Docker"
    ]
    assert host.processes  # the containers run all the same
    again = api.up(load(project), api.UpOptions(), roots=roots, host=host).plan
    assert not again and again.notes == ()  # nothing to do: nothing to say again


def test_v2_rootless_names_an_undelegated_memory_key_once(project: Path, roots: api.Roots) -> None:
    no_memory = LimitSupport(frozenset({"pids"}), "the controllers cpu, cpuset, memory are not delegated")
    plan = api.up(
        load(project), api.UpOptions(), roots=roots, host=FakeHost(cgroups=2, limits=no_memory)
    ).plan
    assert _ignored(plan) == []  # the rootless note already says these cannot be applied
    (lost,) = [note for note in plan.notes if "cannot be applied" in note]
    assert (
        "services.cache.mem_swappiness, services.db.mem_limit, services.db.mem_swappiness,"
        " services.db.oom_kill_disable (" in lost
    )  # the file's keys, each service once (db has two containers)
