"""cp both ways through the CLI on the real kernel, with -a, -L, tar streams and the symlink escape."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support.lab import Lab

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-cp
services:
  box:
    rootfs: ROOTFS
    command: [sh, -c, "mkdir -p /data/sub; echo inner > /data/sub/f; echo top > /data/t; chown 1234:99 /data/t;
              ln -s /etc/passwd /data/link; ln -s /vb-cp-escape-probe /data/esc; ln -s /data/t /data/tlink; trap 'exit 0' TERM; sleep 3600 & wait"]
"""


def _up(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    for _ in range(50):
        if lab.exec("vb-cp", "box", "test", "-L", "/data/tlink").returncode == 0:
            return
    raise AssertionError("the container did not prepare /data")


def test_copy_out_files_folders_and_owners(lab: Lab, tmp_path: Path) -> None:
    _up(lab)
    out = tmp_path / "out"
    out.mkdir()
    lab.composer("cp", "box:/data/t", str(out / "renamed"))
    assert (out / "renamed").read_text() == "top\n" and (out / "renamed").stat().st_uid == 0
    lab.composer("cp", "-a", "box:/data/t", str(out))  # into the folder, owners kept
    assert (out / "t").stat().st_uid == 1234 and (out / "t").stat().st_gid == 99
    lab.composer("cp", "box:/data", str(out))
    assert (out / "data" / "sub" / "f").read_text() == "inner\n"
    lab.composer("cp", "box:/data/sub/.", str(out / "flat"))
    assert (out / "flat" / "f").read_text() == "inner\n"
    # a symlink is copied as it is; -L copies what it points at, resolved in the container
    lab.composer("cp", "box:/data/link", str(out / "link"))
    assert os.readlink(out / "link") == "/etc/passwd"
    lab.composer("cp", "-L", "box:/data/link", str(out / "passwd"))
    assert (out / "passwd").read_text() == (lab.rootfs / "etc" / "passwd").read_text()
    missing = lab.composer("cp", "box:/nope", str(out), check=False)
    assert missing.returncode != 0 and "nope" in missing.stderr and "Traceback" not in missing.stderr
    lab.composer("down")


def test_copy_in_and_tar_streams(lab: Lab, tmp_path: Path) -> None:
    _up(lab)
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "deep" / "x").write_text("from host\n")
    lab.composer("cp", str(src), "box:/data")
    assert lab.exec("vb-cp", "box", "cat", "/data/src/deep/x").stdout == "from host\n"
    lab.composer("cp", str(src / "deep" / "x"), "box:/new-name")
    assert lab.exec("vb-cp", "box", "cat", "/new-name").stdout == "from host\n"
    # a container symlink to a host-looking path resolves inside the container
    assert not Path("/vb-cp-escape-probe").exists()
    lab.composer("cp", str(src / "deep" / "x"), "box:/data/esc")  # a dangling link to /vb-cp-escape-probe
    assert not Path("/vb-cp-escape-probe").exists()  # not written on the host
    assert lab.exec("vb-cp", "box", "cat", "/vb-cp-escape-probe").stdout == "from host\n"
    stream = subprocess.run(
        [sys.executable, "-m", "composer.cli.main", "cp", "box:/data/sub", "-"],
        cwd=lab.folder, env=lab.env(), capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
        assert sorted(tar.getnames()) == ["sub", "sub/f"]
    subprocess.run(
        [sys.executable, "-m", "composer.cli.main", "cp", "-", "box:/from-stdin"],
        cwd=lab.folder, env=lab.env(), input=stream, check=True,
    )  # fmt: skip
    assert lab.exec("vb-cp", "box", "cat", "/from-stdin/sub/f").stdout == "inner\n"
    both = lab.composer("cp", "box:/a", "box:/b", check=False)
    assert both.returncode == 1 and "only one" in both.stderr
    lab.composer("down")
