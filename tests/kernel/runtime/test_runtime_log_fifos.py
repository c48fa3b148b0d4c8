"""The log FIFOs seen from a container's root: it can chmod them, and it does not matter.

The container's PID 1 has the FIFOs open as stdout and stderr; through
``/proc/1/fd/1`` its root (CAP_FOWNER and CAP_CHOWN, as with Docker) changes
the host inode's mode and owner.  What keeps the host safe is the FIFOs' folder,
root's alone: a host user other than root reaches them by no path, whatever
their mode says.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import Lab, leaks

from composer.kernel.cgroups import detect_cgroup_driver
from composer.kernel.devices import policy
from composer.kernel.logs import make_log_fifos
from composer.kernel.process import spawn_container
from composer.model.container import ContainerFiles

pytestmark = pytest.mark.kernel

NOBODY = 65534


@pytest.fixture
def lab(busybox_rootfs: Path) -> Iterator[Lab]:
    """A lab whose state folder every host user may traverse (pytest's tmp_path is root's alone,
    which would hide what the FIFO folder itself does)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    state = Path(tempfile.mkdtemp(prefix="hd-fifos-", dir="/tmp"))
    os.chmod(state, 0o755)
    box = Lab("hd-" + uuid.uuid4().hex[:8], state, busybox_rootfs, detect_cgroup_driver())
    try:
        yield box
    finally:
        box.cleanup()
        found = leaks(box)
        shutil.rmtree(state, ignore_errors=True)
    assert not found, f"left behind: {found}"


def open_as_nobody(path: str, flags: int) -> int:
    """errno of open(path) by a process of uid/gid 65534 (0 when it opened)."""
    child = os.fork()
    if child == 0:
        code = 0
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.close(os.open(path, flags | os.O_NONBLOCK))
        except OSError as error:
            code = error.errno or 1
        os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_chmod_through_proc_1_fd_leaves_the_fifos_unreachable(lab: Lab) -> None:
    script = (
        "chmod 666 /proc/1/fd/1 /proc/1/fd/2 && echo chmodded;"
        f" chown {NOBODY}:{NOBODY} /proc/1/fd/1 && echo chowned"
    )
    cfg = lab.config("c", ["/bin/sh", "-c", script])
    files = cfg.files
    os.makedirs(cfg.state_dir)
    stdout_path, stderr_path = make_log_fifos(files)
    reader = os.open(stdout_path, os.O_RDWR | os.O_NONBLOCK)  # keeps what the container writes
    handle = lab.driver.create(lab.project, "c", cfg.cgroup, policy(cfg))
    try:
        pid = spawn_container(cfg, handle, stdout_path, stderr_path)
        os.waitpid(pid, 0)
        out = os.read(reader, 65536).decode()
    finally:
        os.close(reader)
        handle.remove()
    assert "chmodded" in out and "chowned" in out, out  # the probe reached the host inodes
    assert stat.S_IMODE(os.stat(stderr_path).st_mode) == 0o666
    assert os.stat(stdout_path).st_uid == NOBODY
    folder = os.stat(files.fifos)
    assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == 0
    for path in (stdout_path, stderr_path):
        for flags in (os.O_WRONLY, os.O_RDONLY):
            assert open_as_nobody(path, flags) == 13, (path, flags)  # EACCES: the folder refuses
    # The control: the same FIFO mode one folder up (where composer 0.1 made them) opens.
    control = str(files.folder / "control.fifo")
    os.mkfifo(control)
    os.chmod(control, 0o666)
    assert open_as_nobody(control, os.O_RDONLY) == 0


def test_the_fifo_folder_is_repaired_when_found_open(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: chown")
    files = ContainerFiles(tmp_path / "c")
    files.fifos.mkdir(parents=True, mode=0o777)
    os.chmod(files.fifos, 0o777)
    os.chown(files.fifos, NOBODY, NOBODY)
    make_log_fifos(files)
    info = os.stat(files.fifos)
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o700, 0, 0)
    assert stat.S_ISFIFO(os.stat(files.stdout_fifo).st_mode)
