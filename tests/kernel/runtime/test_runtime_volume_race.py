"""A symlink swapped in while volumes are mounted never takes a mount (or a mkdir) out of the rootfs.

The CVE-2021-30465 set-up: a folder on the way to a nested volume's destination
(``/data/sub`` of ``/data/sub/deeper``, ``/data`` a volume another container
could write) is exchanged, as fast as a process can, with a symlink to a host
folder.  Resolving the destination and then mounting it by name would
follow the symlink when the swap falls in between: the mkdir of ``deeper``
would land in the host folder, and the mount over it.  Every container start
must either mount the volume inside its root or refuse to start.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import Lab, leaks

from composer.errors import ContainerError
from composer.kernel.cgroups import detect_cgroup_driver
from composer.model.container import MountConfig

pytestmark = pytest.mark.kernel

TRIALS = 60
RENAME_EXCHANGE = 2
AT_FDCWD = -100


@pytest.fixture
def lab(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    box = Lab("hd-" + uuid.uuid4().hex[:8], tmp_path / "state", busybox_rootfs, detect_cgroup_driver())
    try:
        yield box
    finally:
        box.cleanup()
    found = leaks(box)
    assert not found, f"left behind: {found}"


def start_swapper(first: Path, second: Path, seconds: float) -> int:
    """A process that exchanges two names (a folder and a symlink) in a loop, for at most ``seconds``."""
    libc = ctypes.CDLL(None, use_errno=True)
    pid = os.fork()
    if pid == 0:
        try:
            a, b = os.fsencode(first), os.fsencode(second)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
        finally:
            os._exit(0)
    return pid


def test_a_symlink_swap_never_takes_a_volume_out_of_the_rootfs(lab: Lab, tmp_path: Path) -> None:
    shared, victim, marker = tmp_path / "shared", tmp_path / "victim", tmp_path / "marker"
    for folder in (shared / "sub", victim, marker):
        folder.mkdir(parents=True)
    (marker / "marker").write_text("marker\n")
    (shared / "sub.swap").symlink_to(victim)  # absolute: the host's folder, seen from the set-up child
    mounts = (
        MountConfig(kind="bind", source=str(shared), target="/data"),
        MountConfig(kind="bind", source=str(marker), target="/data/sub/deeper"),
    )
    # The folder the volume was mounted on keeps moving between the two names while the container
    # runs: the container's own mount table says where the volume is (a mount made outside the
    # rootfs went away with the old root, so it would be missing here).
    look = "cat /proc/self/mountinfo"
    swapper = start_swapper(shared / "sub", shared / "sub.swap", seconds=120)
    started = refused = 0
    try:
        for trial in range(TRIALS):
            try:
                container = lab.start(f"t{trial}", ["/bin/sh", "-c", look], mounts=mounts)
            except ContainerError:
                refused += 1  # the destination kept changing: refusing is a safe outcome
            else:
                container.wait()
                points = [line.split()[4] for line in container.stdout.splitlines()]
                inside = [
                    p for p in points if p.endswith("/deeper") and p.startswith(("/data/", str(victim)))
                ]
                assert inside, (points, container.stderr)  # the volume is mounted, in the container
                started += 1
            assert list(victim.iterdir()) == [], f"trial {trial}: something was made outside the rootfs"
    finally:
        os.kill(swapper, signal.SIGKILL)
        os.waitpid(swapper, 0)
    print(f"{started} started, {refused} refused of {TRIALS}")
    assert started + refused == TRIALS
    assert started > 0, "no container could start at all"
