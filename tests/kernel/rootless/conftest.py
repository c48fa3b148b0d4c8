"""Fixtures of the rootless tests: the test user, and a leak check as root after each test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rootless import RootlessUser, find_user, kill_everything_of, wait_for_no_processes


@pytest.fixture(scope="session")
def rl_user() -> RootlessUser:
    return find_user()


@pytest.fixture
def rl_dir() -> Iterator[Path]:
    """A folder the test user can reach (pytest's own are root's, mode 0700), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="composer-rl-test-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def rl(rl_user: RootlessUser) -> Iterator[RootlessUser]:
    """The test user; afterwards none of its processes and no state root of its may remain."""
    if rl_user.processes() or rl_user.state_root.exists():
        pytest.fail(f"{rl_user.name} has processes or {rl_user.state_root} before the test: clean up first")
    yield rl_user
    left = wait_for_no_processes(rl_user)
    state_left = rl_user.state_root.exists()
    if left:
        kill_everything_of(rl_user)
    if state_left:
        shutil.rmtree(rl_user.state_root, ignore_errors=True)
    assert not left, f"processes of {rl_user.name} left: {left}"
    assert not state_left, f"{rl_user.state_root} left behind"
    assert host_interfaces_of_rl_projects() == []
    assert host_mounts_under(rl_user.state_root) == []  # the project's mounts were never the host's


def host_mounts_under(folder: Path) -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(folder))]


def host_interfaces_of_rl_projects() -> list[str]:
    """Interfaces of the host's network namespace marked as a rootless test project's (there must be none)."""
    from composer.model.naming import owner_of_ifalias

    found = []
    for link in Path("/sys/class/net").iterdir():
        try:
            owner = owner_of_ifalias((link / "ifalias").read_text().strip() or None)
        except OSError:
            continue
        if owner is not None and owner[0].startswith("rl-"):
            found.append(link.name)
    return found
