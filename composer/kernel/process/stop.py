"""Stopping a container: the stop signal to PID 1, a grace period, then SIGKILL to the whole cgroup.

Runs in the process that stops the container (the supervisor, a test): it blocks
for up to the grace period.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable

from composer.kernel.cgroups import CgroupHandle


def wait_exit(pid: int, timeout: float) -> bool:
    """True once ``pid`` has exited (a zombie counts), within ``timeout`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        return bool(ready)
    finally:
        os.close(fd)


def stop_container(
    pid: int,
    cgroup: CgroupHandle,
    signal_number: int,
    grace: float,
    reap: Callable[[float], int | None] | None = None,
) -> None:
    """Send ``signal_number`` to PID 1, wait ``grace`` seconds, then SIGKILL the whole cgroup.

    ``reap(timeout)`` is the caller's waitpid-with-timeout (it owns the child);
    without it the exit is watched through a pidfd and the caller reaps later.
    """
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        cgroup.kill_all(signal.SIGKILL)
        return
    exited = reap(grace) is not None if reap is not None else wait_exit(pid, grace)
    cgroup.kill_all(signal.SIGKILL)  # stragglers (exec'ed processes) are in the cgroup, maybe not the tree
    if exited:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if reap is not None:
        reap(5.0)
    else:
        wait_exit(pid, 5.0)
