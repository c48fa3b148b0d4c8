"""Bind propagation for real: rslave shows the host's later mounts inside, the default (rprivate) not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: mk-prop
services:
  follows:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes:
      - {type: bind, source: ./src, target: /data, bind: {propagation: rslave}}
  private:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes: [./src:/data]
"""


def _mount(*argv: str) -> None:
    subprocess.run(["mount", *argv], check=True)


def test_rslave_sees_later_host_mounts_and_the_default_does_not(lab: Lab) -> None:
    source = lab.folder / "src"
    (source / "sub").mkdir(parents=True)
    _mount("--bind", str(source), str(source))  # a shared mount of its own: the host's side of it
    _mount("--make-shared", str(source))
    try:
        lab.write(PROJECT)
        lab.composer("up", "-d")
        _mount("-t", "tmpfs", "tmpfs", str(source / "sub"))  # mounted after the containers started
        try:
            (source / "sub" / "marker").write_text("late\n")
            seen = lab.exec("mk-prop", "follows", "cat", "/data/sub/marker")
            assert seen.returncode == 0 and seen.stdout == "late\n", seen.stderr
            hidden = lab.exec("mk-prop", "private", "ls", "-A", "/data/sub")
            assert hidden.returncode == 0 and hidden.stdout == "", hidden.stdout
        finally:
            subprocess.run(["umount", str(source / "sub")], check=True)
        lab.composer("down", "-t", "1")
    finally:
        subprocess.run(["umount", str(source)], check=False)
    assert project_leftovers(lab.root, "mk-prop") == []
    assert not Path(source / "sub" / "marker").exists()


def test_shared_propagation_is_refused_at_its_line(lab: Lab) -> None:
    lab.write(PROJECT.replace("mk-prop", "mk-shared").replace("rslave", "rshared"))
    result = lab.composer("up", "-d", check=False)
    assert result.returncode != 0
    assert "compose.yaml:" in result.stderr and "shared propagation would undo that" in result.stderr
    assert "Traceback" not in result.stderr
    assert project_leftovers(lab.root, "mk-shared") == []
