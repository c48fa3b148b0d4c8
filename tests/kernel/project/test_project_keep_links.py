"""A lab node keeps its links on every path that restarts or recreates it, on the real kernel.

For each path (``restart``, ``stop`` then ``start``, a crash brought back by the
restart policy, a recreate after an edit of the node's service) the middle
router of a line r1 - r2 - r3 must come back with the same network namespace,
the same veths (interface indexes), addresses, routes and qdiscs, its
neighbours' ends untouched, and r1 must reach r3 through it.  A ping from r1 to
r3 every 10 ms runs across the change and the longest gap between replies is
printed: the kernel forwards through r2's namespace while its process is away.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = "lb-keep"
LAB = """\
name: lb-keep
x-router: &router
  rootfs: ROOTFS
  network_mode: none
  command: [sleep, infinity]
  stop_grace_period: 1s
  sysctls: {net.ipv4.ip_forward: 1}
services:
  r1:
    <<: *router
    routes: [{to: 10.0.23.0/30, via: 10.0.12.2}]
  r2:
    <<: *router
    restart: always
    environment: {EDITION: "1"}
  r3:
    <<: *router
    routes: ["10.0.12.0/30 via 10.0.23.1"]
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/30, 10.0.12.2/30]
    rate: 20mbit
  - endpoints: [r2:eth2, r3:eth1]
    ipv4: [10.0.23.1/30, 10.0.23.2/30]
"""


def _netns(lab: Lab, container: str) -> str:
    return str(lab.root / "projects" / PROJECT / "netns" / container)


def _in(lab: Lab, container: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={_netns(lab, container)}", *argv], capture_output=True,
                          text=True, timeout=20, check=False)  # fmt: skip


def _network_of(lab: Lab, container: str) -> dict[str, object]:
    """What must survive: the netns identity, each interface's index/addresses/qdisc, the routes."""
    links = json.loads(_in(lab, container, "ip", "-j", "addr", "show").stdout)
    qdiscs = json.loads(_in(lab, container, "tc", "-j", "qdisc", "show").stdout)
    routes = json.loads(_in(lab, container, "ip", "-j", "-4", "route", "show").stdout)
    return {
        "netns": os.stat(_netns(lab, container)).st_ino,
        # The kernel's IPv6 link-local addresses come and go with DAD timing: only the lab's count.
        "links": sorted(
            (
                link["ifname"],
                link["ifindex"],
                tuple(
                    sorted(
                        a["local"] for a in link.get("addr_info", []) if not a["local"].startswith("fe80:")
                    )
                ),
            )
            for link in links
        ),
        "qdiscs": sorted((q["dev"], q["kind"], q.get("handle", "")) for q in qdiscs if q.get("root")),
        "routes": sorted((r["dst"], r.get("gateway", ""), r["dev"]) for r in routes),
    }


def _pid(lab: Lab, service: str) -> int:
    rows = [r for r in lab.ps(PROJECT) if r["Service"] == service]
    return int(str(rows[0]["Pid"] or 0))


def _wait_running_again(lab: Lab, service: str, old_pid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _pid(lab, service)
        if pid and pid != old_pid:
            return
        time.sleep(0.1)
    raise AssertionError(f"{service} did not come back")


def _restart(lab: Lab) -> None:
    lab.composer("restart", "-t", "1", "r2")


def _stop_start(lab: Lab) -> None:
    lab.composer("stop", "-t", "1", "r2")
    lab.composer("start", "r2")


def _crash(lab: Lab) -> None:
    pid = _pid(lab, "r2")
    os.kill(pid, signal.SIGKILL)  # a crash: the supervisor's restart policy brings it back
    _wait_running_again(lab, "r2", pid)


def _edit(lab: Lab) -> None:
    lab.write(LAB.replace('EDITION: "1"', 'EDITION: "2"'))
    assert lab.composer("up", "--dry-run").stdout == (
        "recreate       container:lb-keep-r2-1                   config hash changed (network kept)\n"
        "start          container:lb-keep-r2-1                   config hash changed\n"
    )
    lab.composer("up", "-d", "--progress", "quiet")


@dataclass(frozen=True)
class Path_:
    name: str
    apply: Callable[[Lab], None]


PATHS = [Path_("restart", _restart), Path_("stop+start", _stop_start), Path_("crash", _crash),
         Path_("recreate after an edit", _edit)]  # fmt: skip


def _longest_gap(output: str) -> float:
    stamps = [float(m) for m in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", output, re.MULTILINE)]
    assert len(stamps) > 10, output[-500:]
    return max(b - a for a, b in itertools.pairwise(stamps))


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_the_middle_router_keeps_its_links(lab: Lab, path: Path_) -> None:
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    before = {c: _network_of(lab, c) for c in ("lb-keep-r1-1", "lb-keep-r2-1", "lb-keep-r3-1")}
    old_pid = _pid(lab, "r2")
    ping = subprocess.Popen(
        ["nsenter", f"--net={_netns(lab, 'lb-keep-r1-1')}", "ping", "-D", "-n", "-i", "0.01", "10.0.23.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lab.started.append(ping.pid)
    try:
        time.sleep(0.3)
        path.apply(lab)
        time.sleep(0.3)
    finally:
        ping.send_signal(signal.SIGINT)
        output, _ = ping.communicate(timeout=10)
    gap = _longest_gap(output)
    print(f"{path.name}: longest gap between replies r1 -> r3 {gap * 1000:.0f} ms")
    assert _pid(lab, "r2") not in (0, old_pid)  # it did restart
    after = {c: _network_of(lab, c) for c in before}
    assert after == before, path.name
    assert gap < 0.5, f"{path.name}: {gap * 1000:.0f} ms without replies"
    assert lab.composer("up", "--dry-run").stdout.startswith("nothing to do"), path.name
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, PROJECT) == []
