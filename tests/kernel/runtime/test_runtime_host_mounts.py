"""Detaching what a crashed container left mounted under its folder, in the host's mount namespace."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from runtime_support import mounts_under

from composer.kernel import syscalls as sc
from composer.kernel.mounts import detach_mounts_under

pytestmark = pytest.mark.kernel


def test_every_mount_below_the_folder_is_detached_deepest_first(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    folder = tmp_path / "container"
    points = [folder / "rootfs", folder / "rootfs" / "proc dir", folder / "rootfs" / "proc dir" / "x"]
    outside = tmp_path / "neighbour"
    mounted: list[Path] = []
    try:
        for point in [*points, outside]:  # each one made on the tmpfs mounted just before
            point.mkdir(parents=True)
            sc.mount("tmpfs", str(point), "tmpfs", 0, "size=64k")
            mounted.append(point)
        detached = detach_mounts_under(str(folder))
        assert detached == [str(p) for p in reversed(points)]  # a name with a space read back right
        assert mounts_under(folder) == []
        assert mounts_under(outside) == [str(outside)]  # a sibling whose name shares no prefix stays
        assert detach_mounts_under(str(folder)) == []  # nothing left: no error either
    finally:
        for point in reversed(mounted):
            with contextlib.suppress(OSError):
                sc.umount2(str(point), sc.MNT_DETACH)
