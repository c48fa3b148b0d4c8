"""up in the foreground: --abort-on-container-exit/-failure, --exit-code-from, --attach, --no-deps, ..."""

from __future__ import annotations

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-attach
services:
  db:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'echo db-bye; exit 0' TERM; echo db-ready; sleep 3600 & wait"]
  tests:
    rootfs: ROOTFS
    command: [sh, -c, "sleep 0.3; echo testing; exit 5"]
    depends_on: [db]
  slow:
    rootfs: ROOTFS
    command: [sh, -c, "trap '' TERM; sleep 3600"]
    stop_grace_period: 1s
"""


def _states(lab: Lab) -> dict[str, tuple[str, int]]:
    return {str(r["Service"]): (str(r["State"]), int(r["ExitCode"])) for r in lab.ps("vb-attach")}  # type: ignore[call-overload]


def test_exit_code_from_a_service_that_exits_itself(lab: Lab) -> None:
    lab.write(PROJECT)
    result = lab.composer("up", "--exit-code-from", "tests", "--no-color", check=False, timeout=60)
    assert result.returncode == 5, result.stderr
    assert "vb-attach-tests-1 | testing" in result.stdout
    assert "vb-attach-tests-1 exited with code 5" in result.stdout
    assert "Aborting on container exit..." in result.stderr
    states = _states(lab)
    assert {s for s, _ in states.values()} == {"exited"}  # everything was stopped
    lab.composer("down")


def test_exit_code_from_a_service_cut_short_is_not_zero(lab: Lab) -> None:
    lab.write(PROJECT)
    result = lab.composer("up", "-t", "1", "--exit-code-from", "slow", check=False, timeout=60)
    # tests' exit aborted the project; slow ignores SIGTERM and was killed: its status, never 0
    assert result.returncode == 137 == _states(lab)["slow"][1], result.stderr
    lab.composer("down")


def test_abort_on_failure_and_attach_filters(lab: Lab) -> None:
    lab.write(PROJECT)
    result = lab.composer(
        "up", "--abort-on-container-failure", "--attach", "tests", "--no-log-prefix", "--timestamps",
        check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 5
    out = result.stdout.splitlines()
    assert any(line.startswith("20") and line.endswith("testing") for line in out)  # no prefix, a timestamp
    assert not any("db-ready" in line for line in out)  # db is not attached
    lab.composer("down")


def test_up_service_no_deps_and_abort_with_detach_refused(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d", "--no-deps", "slow")
    assert set(_states(lab)) == {"slow"}
    refused = lab.composer("up", "-d", "--abort-on-container-exit", check=False)
    assert refused.returncode == 1 and "cannot go with -d" in refused.stderr
    lab.composer("up", "-d", "db")
    before = {str(r["Service"]): r["Pid"] for r in lab.ps("vb-attach")}
    lab.composer("up", "-d", "--always-recreate-deps", "--no-start", "tests")
    after = {str(r["Service"]): r for r in lab.ps("vb-attach")}
    assert after["db"]["Pid"] != before["db"]  # the dependency was recreated
    assert after["tests"]["State"] == "created"
    lab.composer("down")
    assert project_leftovers(lab.root, "vb-attach") == []


ONE_SHOT = """\
name: vb-attach
services:
  migrate:
    rootfs: ROOTFS
    command: [sh, -c, "echo migrated; exit 0"]
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    depends_on: {migrate: {condition: service_completed_successfully}}
"""


def test_up_wait_counts_a_completed_one_shot_as_ready(lab: Lab) -> None:
    lab.write(ONE_SHOT)
    lab.composer("up", "--wait", "--wait-timeout", "60")  # exit 0: migrate completed, app runs
    assert _states(lab) == {"migrate": ("exited", 0), "app": ("running", 0)}
    lab.composer("down")
    lab.write(ONE_SHOT.replace('exit 0"]\n  app', 'exit 3"]\n  app'))
    failed = lab.composer("up", "--wait", "--wait-timeout", "60", check=False)
    assert failed.returncode != 0 and "migrate" in failed.stderr
    lab.composer("down")
