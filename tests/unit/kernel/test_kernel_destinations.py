"""Mount destinations opened through an fd: made inside the root, never through a symlink.

Plain folders and symlinks in a temporary root stand for a container's rootfs
(no mount is made here).  The race itself, a symlink swapped in between the
resolution and the open, is played by handing the opener a resolution made
before the swap; the real race is tests/kernel/runtime/test_runtime_volume_race.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from composer.errors import ContainerError
from composer.kernel import mounts


def real_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_missing_folders_and_files_are_made_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert real_path(mounts.open_destination(str(root), "/a/b/c", folder=True)) == f"{root}/a/b/c"
    assert (root / "a/b/c").is_dir()
    assert real_path(mounts.open_destination(str(root), "/etc/hosts", folder=False)) == f"{root}/etc/hosts"
    assert (root / "etc/hosts").is_file()


def test_a_symlink_of_the_image_leads_inside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    (root / "data").symlink_to("/etc")
    (root / "up").symlink_to("../../outside")
    assert real_path(mounts.open_destination(str(root), "/data/x", folder=True)) == f"{root}/etc/x"
    assert real_path(mounts.open_destination(str(root), "/up/y", folder=True)) == f"{root}/outside/y"
    assert list(outside.iterdir()) == []


def test_a_symlink_swapped_in_after_the_resolution_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, victim = tmp_path / "root", tmp_path / "victim"
    root.mkdir()
    victim.mkdir()
    (root / "sub").symlink_to(victim)  # the folder the resolution saw is a symlink by now
    monkeypatch.setattr(mounts, "secure_join", lambda base, target: base.rstrip("/") + target)
    with pytest.raises(ContainerError, match="kept changing"):
        mounts.open_destination(str(root), "/sub/deeper", folder=True)
    assert list(victim.iterdir()) == []  # no mkdir through the link


def test_a_file_on_the_way_is_named(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("")
    with pytest.raises(ContainerError, match="'passwd' on the way to a mount destination is not a folder"):
        mounts.open_destination(str(root), "/etc/passwd/x", folder=True)
