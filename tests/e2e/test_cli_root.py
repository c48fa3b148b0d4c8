"""Verbs that change the host, run by a user who cannot have a state root there, say so clearly.

Without root composer runs rootless (tests/kernel/rootless); here the state root
given is inside a folder of root's, which nobody may not enter: a clear message
naming it, exit 2, no traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.projects import write_project

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "verb",
    [["up", "-d"], ["down"], ["exec", "-T", "app", "true"], ["stop"], ["run", "--rm", "app"], ["create"],
     ["rm", "-f"], ["pause"], ["unpause"], ["cp", "app:/x", "/tmp"], ["scale", "app=2"]],
)  # fmt: skip
def test_non_root_without_a_usable_state_root_gets_a_clear_message(tmp_path: Path, verb: list[str]) -> None:
    if os.geteuid() != 0:
        runner: list[str] = []
    else:  # drop to nobody for the command under test
        runner = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    folder = Path(tempfile.mkdtemp(prefix="composer-nonroot-"))  # /tmp: reachable by nobody
    folder.chmod(0o755)
    write_project(folder, "name: p\nservices:\n  app: {rootfs: /, command: [sleep, '1']}\n")
    result = subprocess.run(
        [*runner, sys.executable, "-m", "composer.cli.main", *verb], cwd=folder,
        capture_output=True, text=True, check=False, env={**os.environ, "COMPOSER_ROOT": str(tmp_path / "state")},
    )  # fmt: skip
    shutil.rmtree(folder)
    assert result.returncode == 2, result.stderr
    assert f"cannot make the state root {tmp_path / 'state'}" in result.stderr
    assert "--root or $COMPOSER_ROOT" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreadable_project_file_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    folder = Path(tempfile.mkdtemp(prefix="composer-unreadable-"))
    folder.chmod(0o700)  # nobody may not even look inside
    write_project(folder / "p", "services: {}\n")
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
         "composer.cli.main", "-f", str(folder / "p" / "compose.yaml"), "config"],
        cwd="/", capture_output=True, text=True, check=False,
    )  # fmt: skip
    shutil.rmtree(folder)
    assert result.returncode == 2
    assert "cannot be read" in result.stderr and "Traceback" not in result.stderr
