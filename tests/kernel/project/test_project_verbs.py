"""The verbs that act on a running project: stop, start, restart, kill, top, ls, logs, progress."""

from __future__ import annotations

import json

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: verbs
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'echo bye; exit 0' TERM; echo hello; echo oops >&2; sleep 3600 & wait"]
  other:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    depends_on: [app]
"""


def _states(lab: Lab) -> dict[str, str]:
    return {str(row["Service"]): str(row["State"]) for row in lab.ps("verbs")}


def _pids(lab: Lab) -> dict[str, int]:
    return {str(row["Service"]): int(row["Pid"]) for row in lab.ps("verbs")}  # type: ignore[call-overload]


def test_progress_as_json_lines(lab: Lab) -> None:
    lab.write(PROJECT)
    result = lab.composer("up", "-d", "--progress", "json")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    started = [e["resource"] for e in events if e["status"] == "Started"]
    assert started == ["container:verbs-app-1", "container:verbs-other-1"]  # dependency first
    assert all({"time", "resource", "status", "text"} <= set(e) for e in events)
    lab.composer("down")


def test_stop_start_restart_kill(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    first = _pids(lab)
    lab.composer("stop", "app")
    assert _states(lab) == {"app": "exited", "other": "running"}
    assert "bye" in lab.composer("logs", "app").stdout  # the stop signal reached the trap
    lab.composer("start", "app")
    assert _states(lab) == {"app": "running", "other": "running"}
    assert _pids(lab)["app"] != first["app"]
    before = _pids(lab)
    lab.composer("restart")
    after = _pids(lab)
    assert all(after[s] != before[s] for s in before)
    lab.composer("kill", "-s", "SIGKILL", "other")
    rows = {str(r["Service"]): r for r in lab.ps("verbs")}
    assert rows["other"]["State"] == "exited" and rows["other"]["ExitCode"] == 137
    lab.composer("down")
    assert project_leftovers(lab.root, "verbs") == []


def test_top_ls_and_logs(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    top = lab.composer("top", "app").stdout
    assert "sleep 3600" in top and "verbs-app-1" in top
    listing = json.loads(lab.composer("ls", "--format", "json").stdout)
    assert listing == [
        {"Name": "verbs", "Status": "running(2)", "ConfigFiles": str(lab.folder / "compose.yaml")}
    ]
    logs = lab.composer("logs", "--no-prefix", "app").stdout
    assert logs.splitlines() == ["hello", "oops"]
    stamped = lab.composer("logs", "-t", "--tail", "1", "app").stdout
    assert stamped.startswith("verbs-app-1 | 20") and stamped.rstrip().endswith("oops")
    lab.composer("down")


def test_ipv6_network_gives_each_container_an_address(lab: Lab) -> None:
    lab.write("""\
name: six
services:
  a:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
  b:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
networks:
  default:
    enable_ipv6: true
""")
    lab.composer("up", "-d")
    addresses = lab.exec("six", "b", "ip", "-6", "addr", "show", "dev", "eth0").stdout
    assert "fd6d:636f:6d70:" in addresses
    address = addresses.split("inet6 ")[1].split("/")[0]
    assert lab.exec("six", "a", "ping", "-6", "-c", "1", "-W", "2", address).returncode == 0
    lab.composer("down")
    assert project_leftovers(lab.root, "six") == []


def test_attached_up_prints_prefixed_logs_and_ctrl_c_stops(lab: Lab) -> None:
    import signal
    import time

    lab.write(PROJECT)
    proc = lab.popen("up", "--progress", "quiet")
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 30
    while "verbs-app-1 | hello" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    assert "verbs-app-1 | hello" in seen
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert _states(lab) == {"app": "exited", "other": "exited"}
    lab.composer("down")
    assert project_leftovers(lab.root, "verbs") == []
