"""ps and logs flags through the CLI on the real kernel: -q, --services, --status, --filter, --format
templates; --since, --until, --index, --no-log-prefix."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.support.lab import Lab

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-ps
services:
  web:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; echo early; sleep 3; echo late; sleep 3600 & wait"]
    scale: 2
  done:
    rootfs: ROOTFS
    command: [sh, -c, "echo finished; exit 2"]
"""


def _ps(lab: Lab, *args: str) -> list[str]:
    return lab.composer("-p", "vb-ps", "ps", *args).stdout.splitlines()


def test_ps_flags(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    while "vb-ps-done-1" not in _ps(lab, "-q", "--status", "exited"):
        time.sleep(0.1)
    assert _ps(lab, "-q") == ["vb-ps-web-1", "vb-ps-web-2"]
    assert _ps(lab, "-a", "--services") == ["done", "web"]
    assert _ps(lab, "-q", "--status", "exited") == _ps(lab, "-q", "-a", "--filter", "status=exited")
    assert _ps(lab, "-q", "--status", "running", "--status", "exited") == [
        "vb-ps-done-1", "vb-ps-web-1", "vb-ps-web-2",
    ]  # fmt: skip
    assert _ps(lab, "--status", "exited", "--format", "{{.Name}} {{.ExitCode}}") == ["vb-ps-done-1 2"]
    table = _ps(lab, "--format", "table {{.Service}}\\t{{.State}}")
    assert table[0].split() == ["SERVICE", "STATE"] and table[1].split() == ["web", "running"]
    bad = lab.composer("-p", "vb-ps", "ps", "--format", "{{.Nope}}", check=False)
    assert bad.returncode == 2 and "no field 'Nope'" in bad.stderr
    wrong = lab.composer("-p", "vb-ps", "ps", "--filter", "name=x", check=False)
    assert wrong.returncode == 2 and "status=STATE" in wrong.stderr
    lab.composer("down")


def test_logs_flags(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    while "early" not in lab.composer("logs", "--index", "1", "web").stdout:
        time.sleep(0.1)
    middle = datetime.now(UTC).isoformat()
    while lab.composer("logs", "web").stdout.count("late") < 2:
        time.sleep(0.2)
    both = lab.composer("logs", "--no-log-prefix", "--index", "2", "web").stdout.splitlines()
    assert both == ["early", "late"]
    assert lab.composer(
        "logs", "--no-log-prefix", "--since", middle, "--index", "1", "web"
    ).stdout.split() == ["late"]
    assert lab.composer(
        "logs", "--no-log-prefix", "--until", middle, "--index", "1", "web"
    ).stdout.split() == ["early"]
    recent = lab.composer("logs", "--since", "1h", "done").stdout
    assert recent.strip() == "vb-ps-done-1 | finished"
    bad = lab.composer("logs", "--since", "yesterday", check=False)
    assert bad.returncode == 2 and "RFC 3339" in bad.stderr
    lab.composer("down")
