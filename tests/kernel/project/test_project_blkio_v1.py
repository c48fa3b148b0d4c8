"""blkio_config on this host's real cgroup v1 blkio controller: throttles read back from the kernel.

The device is a node the test makes for loop device 7:0 (the kernel checks that the number names a
disk); the weight is checked where the kernel has a weight file (BFQ's, here).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from composer.kernel.cgroups import parse_proc_cgroup
from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

BLKIO_V1 = Path("/sys/fs/cgroup/blkio")
LOOP0 = Path("/sys/dev/block/7:0")

PROJECT = """\
name: mk-blkio
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    blkio_config:
      weight: 300
      device_read_bps:
        - {path: DISK, rate: 12mb}
      device_write_iops:
        - {path: DISK, rate: 120}
"""


def _blkio_folder(container: str) -> Path:
    own = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())["blkio"]
    return BLKIO_V1 / own.lstrip("/") / "composer" / "mk-blkio" / container


def _disk(lab: Lab) -> Path:
    disk = lab.folder / "disk"
    os.mknod(disk, stat.S_IFBLK | 0o600, os.makedev(7, 0))
    return disk


@pytest.mark.skipif(not BLKIO_V1.is_dir() or not LOOP0.exists(), reason="needs cgroup v1 blkio and loop0")
def test_throttles_are_written_to_the_v1_blkio_cgroup(lab: Lab) -> None:
    lab.write(PROJECT.replace("DISK", str(_disk(lab))))
    lab.composer("up", "-d")
    app = _blkio_folder("mk-blkio-app-1")
    assert (app / "blkio.throttle.read_bps_device").read_text().split() == ["7:0", str(12 << 20)]
    assert (app / "blkio.throttle.write_iops_device").read_text().split() == ["7:0", "120"]
    assert (app / "cgroup.procs").read_text().split()  # the container runs in it
    weight = next((app / n for n in ("blkio.weight", "blkio.bfq.weight") if (app / n).exists()), None)
    if weight is not None:  # where the kernel weighs I/O (BFQ): the weight is written as given
        assert weight.read_text().split()[-1] == "300"
    lab.composer("down", "-t", "1")
    assert not app.exists()
    assert project_leftovers(lab.root, "mk-blkio") == []


def test_a_path_that_is_no_block_device_is_a_clear_error(lab: Lab) -> None:
    lab.write(PROJECT.replace("mk-blkio", "mk-noblk").replace("DISK", "/dev/null"))
    result = lab.composer("up", "-d", check=False)
    assert result.returncode != 0
    assert "blkio_config: /dev/null is not a block device" in result.stderr
    assert "Traceback" not in result.stderr
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "mk-noblk") == []
