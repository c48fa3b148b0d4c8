"""``exec`` and healthchecks return when the command exits, not when a daemon it left closes stdout.

Through the CLI, with a pipe as stdout (``| cat``): the command backgrounds
``sleep 8`` and exits at once; ``composer exec`` must come back well before the
sleep ends (4 s is a generous bound for a behaviour, not a timing target) with
everything the command wrote before its exit.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.lab import Lab, ps_rows

pytestmark = pytest.mark.kernel

PROJECT = """\
name: hd-exec
services:
  box:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck:
      test: [CMD-SHELL, "echo probe-ran; sleep 8 &"]
      interval: 1s
      timeout: 30s
      retries: 1
"""


def piped(lab: Lab, command: str, redirect: str = "") -> tuple[float, subprocess.CompletedProcess[str]]:
    """``composer exec -T box sh -c COMMAND | cat`` in bash; (seconds it took, the result)."""
    cli = f"{sys.executable} -m composer.cli.main -p hd-exec exec -T box sh -c {command!r}"
    start = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cli} {redirect} | cat"], cwd=lab.folder, env=lab.env(),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return time.monotonic() - start, result


def test_exec_returns_when_the_command_exits_with_all_it_wrote(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    script = "echo before; i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done; sleep 8 & echo after"
    took, result = piped(lab, script)
    assert took < 4, f"exec took {took:.1f} s: it waited for the background sleep"
    lines = result.stdout.splitlines()
    assert lines == ["before", *(f"line{i}" for i in range(3000)), "after"], result.stderr
    assert result.returncode == 0


def test_exec_keeps_the_exit_status_and_stderr(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    took, result = piped(lab, "echo out; echo err >&2; sleep 8 & exit 3", "2>&1")
    assert took < 4, f"exec took {took:.1f} s"
    assert sorted(result.stdout.splitlines()) == ["err", "out"]
    assert result.returncode == 3


def test_a_healthcheck_that_leaves_a_daemon_is_not_timed_out(lab: Lab) -> None:
    lab.write(PROJECT)
    start = time.monotonic()
    lab.composer("up", "-d", "--wait", timeout=60)
    took = time.monotonic() - start
    rows = ps_rows(lab.composer("-p", "hd-exec", "ps", "--format", "json").stdout)
    assert rows[0]["Health"] == "healthy", rows
    assert took < 15, f"up --wait took {took:.1f} s: the probe waited for its background sleep"
