"""Stopping a container: the stop signal to PID 1, a grace period, then SIGKILL to the whole cgroup.

Runs in whichever process stops the container: the supervisor, from its event
loop (it must never block: other containers need it meanwhile), or a command
that finds no supervisor and stops the container itself (it blocks).  Both use
one value, :class:`GraceKill`, so the rule is written once:

* an event loop calls :meth:`GraceKill.begin` (sends the stop signal, returns the
  deadline), goes on serving, and calls :meth:`GraceKill.expire` if PID 1 is
  still there at the deadline;
* a blocking caller calls :meth:`GraceKill.stop_and_wait`, which is the two with
  a wait between them: through the caller's ``reap(timeout)`` when the caller is
  the parent and must collect the exit status itself, else through a pidfd
  (which also works for a process that is not the caller's child).

At the end the whole cgroup gets SIGKILL, whether or not PID 1 left in time:
processes started by ``exec`` are in the cgroup but not in PID 1's tree, and
nothing of the container may outlive the stop.

Signals go through a pidfd whenever there is one (the caller's, or one opened at
the start of :meth:`~GraceKill.stop_and_wait`): a pidfd names one process, so a
PID reused after PID 1 was reaped is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

KILL_WAIT = 5.0  # after SIGKILL, how long to wait for PID 1 to be gone


class Killable(Protocol):
    """What the routine needs of a cgroup handle (:class:`composer.kernel.cgroups.CgroupHandle`)."""

    def kill_all(self, sig: int = signal.SIGKILL) -> None: ...


Reap = Callable[[float], "int | None"]  # the caller's waitpid with a timeout: the status, or None


@dataclass(frozen=True)
class GraceKill:
    """Stop the container whose PID 1 is ``pid``: ``signal``, ``grace`` seconds, then SIGKILL.

    ``pidfd`` is the caller's pidfd on PID 1 when it holds one (-1 otherwise).
    """

    pid: int
    signal: int
    grace: float
    cgroup: Killable
    pidfd: int = -1

    def begin(self) -> float:
        """Send the stop signal to PID 1; return the ``time.monotonic()`` deadline for :meth:`expire`.

        A PID 1 that is gone already is no error: the deadline still comes, and
        :meth:`expire` then only sweeps the cgroup.
        """
        _send(self.pid, self.pidfd, self.signal)
        return time.monotonic() + max(0.0, self.grace)

    def expire(self) -> None:
        """The grace period is over: SIGKILL every process of the cgroup, and PID 1."""
        try:
            self.cgroup.kill_all(signal.SIGKILL)
        finally:
            _send(self.pid, self.pidfd, signal.SIGKILL)  # even when the cgroup could not be read

    def stop_and_wait(self, reap: Reap | None = None) -> bool:
        """Stop the container and block until PID 1 has exited; True when it left within the grace.

        ``reap(timeout)`` is the caller's waitpid-with-timeout (it owns the child
        and wants its status); without it the exit is watched through a pidfd and
        whoever is PID 1's parent reaps it.
        """
        own = self.pidfd < 0
        pidfd = _open_pidfd(self.pid) if own else self.pidfd
        if pidfd < 0:  # PID 1 is gone (and reaped): only the cgroup is left to sweep
            self.cgroup.kill_all(signal.SIGKILL)
            return True
        bound = GraceKill(self.pid, self.signal, self.grace, self.cgroup, pidfd)
        try:
            deadline = bound.begin()
            exited = _wait(pidfd, reap, deadline - time.monotonic())
            if exited:
                self.cgroup.kill_all(signal.SIGKILL)  # stragglers: exec'ed processes are not PID 1's tree
                return True
            bound.expire()
            _wait(pidfd, reap, KILL_WAIT)
            return False
        finally:
            if own:
                os.close(pidfd)


def stop_container(
    pid: int,
    cgroup: Killable,
    signal_number: int,
    grace: float,
    reap: Reap | None = None,
) -> None:
    """Send ``signal_number`` to PID 1, wait ``grace`` seconds, then SIGKILL the whole cgroup.

    The blocking form of :class:`GraceKill` (see :meth:`GraceKill.stop_and_wait`).
    """
    GraceKill(pid, signal_number, grace, cgroup).stop_and_wait(reap)


def wait_exit(pid: int, timeout: float) -> bool:
    """True once ``pid`` has exited (a zombie counts), within ``timeout`` seconds."""
    fd = _open_pidfd(pid)
    if fd < 0:
        return True
    try:
        return _wait(fd, None, timeout)
    finally:
        os.close(fd)


def _open_pidfd(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return -1


def _send(pid: int, pidfd: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if pidfd >= 0:
            signal.pidfd_send_signal(pidfd, sig)
        else:
            os.kill(pid, sig)


def _wait(pidfd: int, reap: Reap | None, timeout: float) -> bool:
    """Whether PID 1 exited within ``timeout``: reaped by ``reap``, or seen on its pidfd."""
    if reap is not None:
        return reap(max(0.0, timeout)) is not None
    ready, _, _ = select.select([pidfd], [], [], max(0.0, timeout))
    return bool(ready)
