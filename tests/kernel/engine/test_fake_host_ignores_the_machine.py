"""The fake host's facts are its own: a route on the machine that overlaps composer's address pool
changes what the real host reports, and nothing of what the fake tests plan."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import composer
from composer.engine.hosts.fake import FakeHost
from composer.engine.hosts.real import RealHost
from composer.kernel import syscalls
from tests.fake.test_plans import FIRST_UP, SHOP
from tests.support.projects import load, write_project

pytestmark = pytest.mark.kernel


@pytest.fixture
def route_over_the_default_pool() -> Iterator[str]:
    """In a throwaway network namespace: a bridge routing 172.17.0.0/16, Docker's first pool."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    syscalls.unshare(syscalls.CLONE_NEWNET)
    try:
        for argv in (["ip", "link", "add", "cmtest0", "type", "bridge"],
                     ["ip", "addr", "add", "172.17.0.1/16", "dev", "cmtest0"],
                     ["ip", "link", "set", "cmtest0", "up"]):  # fmt: skip
            subprocess.run(argv, check=True)
        yield "172.17.0.0/16"
    finally:
        syscalls.setns(original, syscalls.CLONE_NEWNET)
        os.close(original)


def test_plans_against_the_fake_do_not_see_the_machines_routes(
    route_over_the_default_pool: str, tmp_path: Path, busybox_rootfs: Path
) -> None:
    project = write_project(tmp_path / "shop", SHOP, busybox_rootfs)
    real = RealHost(tmp_path / "real-state", tmp_path / "images")
    assert ("cmtest0", route_over_the_default_pool) in real.routed_subnets()
    roots = composer.Roots(state=tmp_path / "state", images=tmp_path / "images")
    result = composer.up(load(project), composer.UpOptions(dry_run=True), roots=roots, host=FakeHost())
    assert result.plan.render() == FIRST_UP
    (network,) = result.desired.networks.values()
    assert network.subnets == [route_over_the_default_pool]  # the fake's machine has no such route
    taken = FakeHost(routes=[("eth9", route_over_the_default_pool)])
    again = composer.up(load(project), composer.UpOptions(dry_run=True), roots=roots, host=taken)
    (network,) = again.desired.networks.values()
    assert network.subnets == ["172.18.0.0/16"]  # ... and one that has it plans around it
