"""events --json through the CLI on the real kernel: containers, health, networks and links."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-events
services:
  r1:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck: {test: [CMD, "true"], interval: 1s, start_period: 0s}
  r2:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/30, 10.0.12.2/30]
"""


def test_events_json(lab: Lab) -> None:
    lab.write(PROJECT)
    watcher = lab.popen("-p", "vb-events", "events", "--json")
    time.sleep(4.0)  # it has started and taken its first reading (a loaded machine starts Python slowly)
    lab.composer("up", "-d")
    deadline = time.monotonic() + 60
    while next(r["Health"] for r in lab.ps("vb-events") if r["Service"] == "r1") != "healthy":
        assert time.monotonic() < deadline, lab.ps("vb-events")
        time.sleep(0.3)
    lab.composer("pause", "r2")
    lab.composer("unpause", "r2")
    lab.composer("kill", "r2")
    time.sleep(0.6)
    lab.composer("down", "-t", "1")
    time.sleep(0.6)
    os.kill(watcher.pid, signal.SIGINT)
    out, err = watcher.communicate(timeout=10)
    events = [json.loads(line) for line in out.splitlines()]
    seen = [(e["type"], e["action"], e["id"]) for e in events]
    for expected in [
        ("network", "create", "default"),
        ("container", "create", "vb-events-r1-1"),
        ("container", "start", "vb-events-r1-1"),
        ("container", "health_status: healthy", "vb-events-r1-1"),
        ("link", "create", "r1:eth1--r2:eth1"),
        ("container", "pause", "vb-events-r2-1"),
        ("container", "unpause", "vb-events-r2-1"),
        ("container", "die", "vb-events-r2-1"),
        ("container", "destroy", "vb-events-r1-1"),
        ("link", "destroy", "r1:eth1--r2:eth1"),
        ("network", "destroy", "default"),
    ]:
        assert expected in seen, (expected, seen, err)
    assert seen.index(("container", "pause", "vb-events-r2-1")) < seen.index(
        ("container", "die", "vb-events-r2-1")
    )
    died = next(e for e in events if e["action"] == "die" and e["id"] == "vb-events-r2-1")
    assert died["attributes"]["exitCode"] == "137" and died["service"] == "r2"
    assert project_leftovers(lab.root, "vb-events") == []
