"""The examples, brought up and down through the CLI as a user would type it (as root, in a throwaway netns)."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = [pytest.mark.kernel, pytest.mark.e2e]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy_example(lab: Lab, name: str) -> Path:
    """The example folder next to a busybox rootfs, as examples/rootfs/build.sh lays it out."""
    target = lab.folder / "examples"
    shutil.copytree(EXAMPLES / name, target / name)
    (target / "rootfs").mkdir()
    (target / "rootfs" / "busybox").symlink_to(lab.rootfs)
    return target / name


def test_ci_stack_comes_up_healthy_and_serves(lab: Lab) -> None:
    folder = _copy_example(lab, "ci-stack")
    lab.composer("up", "-d", "--wait", "--wait-timeout", "60", cwd=folder)
    rows = {row["Service"]: row for row in lab.ps("ci-stack")}
    assert rows["db"]["Health"] == "healthy" and rows["web"]["Health"] == "healthy"
    body = urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read()
    assert body == b"hello from composer\n"
    lab.composer("down", cwd=folder)
    assert project_leftovers(lab.root, "ci-stack") == []


def test_build_app_is_built_by_up_and_serves(lab: Lab) -> None:
    folder = _copy_example(lab, "build-app")
    shutil.copy2("/bin/busybox", folder / "busybox")  # as examples/rootfs/build.sh puts it there
    lab.composer("up", "-d", "--wait", "--wait-timeout", "60", cwd=folder)
    rows = {row["Service"]: row for row in lab.ps("build-app")}
    assert rows["web"]["Health"] == "healthy"
    body = urllib.request.urlopen("http://127.0.0.1:18082/", timeout=5).read()
    assert b"hello from a composer build" in body
    rebuilt = lab.composer("build", cwd=folder).stderr
    assert "CACHED" in rebuilt and "0 cached" not in rebuilt
    lab.composer("down", cwd=folder)
    assert project_leftovers(lab.root, "build-app") == []


def test_three_routers_route_end_to_end(lab: Lab) -> None:
    folder = _copy_example(lab, "three-routers")
    lab.composer("up", "-d", cwd=folder)
    ping = lab.composer(
        "-p", "three-routers", "exec", "-T", "r1", "ping", "-c", "1", "-W", "2", "10.0.23.2", check=False
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr
    graph = lab.composer("graph", "--format", "json", cwd=folder).stdout
    assert "10.0.12.1/30" in graph and "eth1" in graph
    lab.composer("down", cwd=folder)
    assert project_leftovers(lab.root, "three-routers") == []


def test_ring_of_twenty_routes_around(lab: Lab) -> None:
    folder = _copy_example(lab, "ring20")
    lab.composer("up", "-d", cwd=folder)
    # r01's default route points clockwise: a packet to r11's far side crosses ten routers and comes back.
    ping = lab.composer(
        "-p", "ring20", "exec", "-T", "r01", "ping", "-c", "1", "-W", "3", "10.0.10.2", check=False
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert len([r for r in lab.ps("ring20") if r["State"] == "running"]) == 20
    lab.composer("down", cwd=folder)
    assert project_leftovers(lab.root, "ring20") == []
