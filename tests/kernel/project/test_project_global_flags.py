"""The global --dry-run, --parallel, --ansi and --progress through the CLI on the real kernel."""

from __future__ import annotations

import json

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-global
services:
  a:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
  b:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
"""


def test_global_flags(lab: Lab) -> None:
    lab.write(PROJECT)
    plan = lab.composer("--dry-run", "up", "-d").stdout
    assert "create         container:vb-global-a-1" in plan
    assert lab.ps("vb-global") == []  # nothing was made
    assert "create         container:vb-global-b-1" in lab.composer("--dry-run", "create").stdout
    result = lab.composer("--progress", "json", "--parallel", "1", "up", "-d")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [e["resource"] for e in events if e["status"] == "Started"] == [
        "container:vb-global-a-1", "container:vb-global-b-1",
    ]  # fmt: skip
    refused = lab.composer("--dry-run", "pause", check=False)
    assert refused.returncode == 1 and "no dry-run mode" in refused.stderr
    lab.composer("stop", "b")
    assert lab.composer("--dry-run", "rm", "-f").stdout.splitlines() == [
        "remove         container:vb-global-b-1"
    ]
    assert len(lab.ps("vb-global")) == 2  # still there
    plain = lab.composer("--ansi", "never", "--progress", "plain", "down").stderr
    assert "\x1b[" not in plain and "Removed" in plain
    bad = lab.composer("--ansi", "sometimes", "ps", check=False)
    assert bad.returncode == 2
    bad_progress = lab.composer("--progress", "fancy", "down", check=False)
    assert bad_progress.returncode == 1 and "expected one of" in bad_progress.stderr
    assert project_leftovers(lab.root, "vb-global") == []
