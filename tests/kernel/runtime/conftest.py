"""Fixtures for the container runtime tests: real namespaces, mounts and cgroups.

Each test gets a :class:`runtime_support.Lab` with a unique project name and its
own state folder.  After the test the lab kills the processes it started (by
PID only), removes their cgroups, and the leak check asserts that nothing of the
project is left: no mount under the state folder (in the host's mount table),
no cgroup under ``composer/<project>`` in any hierarchy, no process started by
the test still alive.  Cleanup runs even when the test failed, so a failing test
leaves the host clean too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import Lab, leaks

from composer.kernel.cgroups import detect_cgroup_driver


@pytest.fixture
def lab(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    project = "rt" + uuid.uuid4().hex[:10]
    box = Lab(project, tmp_path / "state", busybox_rootfs, detect_cgroup_driver())
    try:
        yield box
    finally:
        box.cleanup()
    found = leaks(box)
    assert not found, f"left behind: {found}"
