"""Docker's copy-up on the real kernel: an empty volume gets the image's files at its target.

The image here is a busybox rootfs with a ``/data`` folder owned by another user (as an
image's ``VOLUME /data`` often is), holding a file with its own owner and mode, a set-uid
file, a nested folder and a symlink.  Each test starts a real container over it through
the runtime's set-up child and looks at the volume's folder on the host afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import Lab

from composer.model.container import MountConfig
from tests.support.rootfs import make_busybox_rootfs

pytestmark = pytest.mark.kernel


@pytest.fixture
def image_lab(lab: Lab, tmp_path: Path) -> Iterator[Lab]:
    rootfs = make_busybox_rootfs(tmp_path / "image")
    data = rootfs / "data"
    (data / "nested").mkdir(parents=True)
    (data / "config.txt").write_text("from the image\n")
    os.chown(data / "config.txt", 1000, 1001)
    os.chmod(data / "config.txt", 0o640)
    (data / "tool").write_text("#!/bin/sh\n")
    os.chmod(data / "tool", 0o4755)
    (data / "nested" / "deep.txt").write_text("deep\n")
    (data / "link").symlink_to("config.txt")
    os.chown(data, 999, 999)
    os.chmod(data, 0o750)
    yield dataclasses.replace(lab, rootfs=rootfs)


def volume(tmp_path: Path, seeded: bool = True) -> MountConfig:
    return MountConfig("volume", "/data", str(tmp_path / "volume"), seed_from_image=seeded)


def test_an_empty_volume_gets_the_image_files_with_owners_and_modes(image_lab: Lab, tmp_path: Path) -> None:
    code, out, err = image_lab.sh("cat /data/config.txt /data/nested/deep.txt", mounts=(volume(tmp_path),))
    assert code == 0, err
    assert out == "from the image\ndeep\n"  # the container reads them through the volume
    folder = tmp_path / "volume"
    top = folder.stat()
    assert (top.st_uid, top.st_gid, stat.S_IMODE(top.st_mode)) == (999, 999, 0o750)
    config = (folder / "config.txt").stat()
    assert (config.st_uid, config.st_gid, stat.S_IMODE(config.st_mode)) == (1000, 1001, 0o640)
    assert stat.S_IMODE((folder / "tool").stat().st_mode) == 0o4755  # set-uid survives the chown
    assert os.readlink(folder / "link") == "config.txt"


def test_a_volume_with_content_is_never_seeded_again(image_lab: Lab, tmp_path: Path) -> None:
    folder = tmp_path / "volume"
    folder.mkdir()
    (folder / "mine.txt").write_text("the user's\n")
    code, out, err = image_lab.sh("ls /data", mounts=(volume(tmp_path),))
    assert code == 0, err
    assert out.split() == ["mine.txt"]


def test_the_copy_happens_once_and_the_container_changes_are_kept(image_lab: Lab, tmp_path: Path) -> None:
    mounts = (volume(tmp_path),)
    code, _, err = image_lab.sh(
        "echo changed > /data/config.txt && rm /data/tool", name="first", mounts=mounts
    )
    assert code == 0, err
    code, out, err = image_lab.sh("cat /data/config.txt; ls /data", name="second", mounts=mounts)
    assert code == 0, err
    assert out.split() == ["changed", "config.txt", "link", "nested"]


def test_nocopy_leaves_the_volume_empty(image_lab: Lab, tmp_path: Path) -> None:
    code, out, err = image_lab.sh("ls -A /data", mounts=(volume(tmp_path, seeded=False),))
    assert code == 0, err
    assert out == ""
    assert list((tmp_path / "volume").iterdir()) == []


def test_an_image_symlink_at_the_target_never_copies_host_files(image_lab: Lab, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.mkdir()
    (secret / "key").write_text("host only\n")
    data = image_lab.rootfs / "data"
    data.rename(image_lab.rootfs / "elsewhere")
    data.symlink_to(secret)  # absolute: resolved inside the image's root, where it names nothing
    code, _, err = image_lab.sh("ls -A /data", mounts=(volume(tmp_path),))
    assert code == 0, err
    assert list((tmp_path / "volume").iterdir()) == []
