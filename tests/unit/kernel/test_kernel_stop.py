"""The grace-then-kill routine on real processes (no root: a plain child stands in for PID 1).

The "cgroup" is a stand-in that SIGKILLs the processes it was given, like
``CgroupHandle.kill_all``, and records the calls: a straggler (a process of the
container that is not PID 1's child) must be gone after every stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from composer.kernel.process.stop import GraceKill, stop_container, wait_exit

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
EXITS_ON_USR1 = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGUSR1, lambda *_: sys.exit(3))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


NO_SUCH_PID = 1 << 30  # above any pid_max: kill() would fail with ESRCH


class FakeCgroup:
    """kill_all SIGKILLs the members, as the real handle does with the cgroup's processes."""

    def __init__(self, *members: subprocess.Popen[bytes]) -> None:
        self.members = members
        self.calls: list[int] = []

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        self.calls.append(sig)
        for member in self.members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member.pid, sig)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:  # by PID, only what this test started
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


def start(started: list[subprocess.Popen[bytes]], script: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"  # its handler is installed
    started.append(process)
    return process


def reaper(process: subprocess.Popen[bytes]) -> tuple[list[int], Callable[[float], int | None]]:
    """A caller's waitpid with a timeout, recording the statuses it collected."""
    seen: list[int] = []

    def reap(timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                seen.append(status)
                process.returncode = os.waitstatus_to_exitcode(status)
                return status
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    return seen, reap


def test_a_process_that_obeys_leaves_within_the_grace(started: list[subprocess.Popen[bytes]]) -> None:
    pid1 = start(started, EXITS_ON_USR1)
    straggler = start(started, IGNORES_TERM)
    cgroup = FakeCgroup(pid1, straggler)
    began = time.monotonic()
    assert GraceKill(pid1.pid, signal.SIGUSR1, 10.0, cgroup).stop_and_wait() is True
    assert time.monotonic() - began < 5.0
    assert pid1.wait(5) == 3  # its own exit, not a kill
    assert straggler.wait(5) == -signal.SIGKILL  # swept with the cgroup even though PID 1 obeyed
    assert cgroup.calls == [signal.SIGKILL]


def test_a_process_that_ignores_the_signal_is_killed_after_the_grace(
    started: list[subprocess.Popen[bytes]],
) -> None:
    pid1 = start(started, IGNORES_TERM)
    cgroup = FakeCgroup()
    began = time.monotonic()
    assert GraceKill(pid1.pid, signal.SIGTERM, 0.3, cgroup).stop_and_wait() is False
    assert time.monotonic() - began >= 0.3
    assert pid1.wait(5) == -signal.SIGKILL
    assert cgroup.calls == [signal.SIGKILL]


def test_the_caller_reaps_when_it_gives_a_reaper(started: list[subprocess.Popen[bytes]]) -> None:
    pid1 = start(started, IGNORES_TERM)
    seen, reap = reaper(pid1)
    stop_container(pid1.pid, FakeCgroup(), signal.SIGTERM, 0.2, reap)
    assert [os.waitstatus_to_exitcode(s) for s in seen] == [-signal.SIGKILL]


def test_begin_and_expire_never_block(started: list[subprocess.Popen[bytes]]) -> None:
    """The event-loop form: begin() signals and returns the deadline, expire() kills."""
    pid1 = start(started, IGNORES_TERM)
    straggler = start(started, IGNORES_TERM)
    cgroup = FakeCgroup(straggler)
    stop = GraceKill(pid1.pid, signal.SIGTERM, 30.0, cgroup)
    before = time.monotonic()
    deadline = stop.begin()
    assert before + 30.0 <= deadline <= time.monotonic() + 30.0
    assert time.monotonic() - before < 1.0
    assert not wait_exit(pid1.pid, 0.2)  # ignored: still running, nothing killed yet
    assert cgroup.calls == []
    stop.expire()
    assert pid1.wait(5) == -signal.SIGKILL
    assert straggler.wait(5) == -signal.SIGKILL
    assert cgroup.calls == [signal.SIGKILL]


def test_expire_kills_pid_1_even_when_the_cgroup_cannot_be_read(
    started: list[subprocess.Popen[bytes]],
) -> None:
    class Broken:
        def kill_all(self, sig: int = signal.SIGKILL) -> None:
            raise OSError("cgroup gone")

    pid1 = start(started, IGNORES_TERM)
    with pytest.raises(OSError, match="cgroup gone"):
        GraceKill(pid1.pid, signal.SIGTERM, 0.0, Broken()).expire()
    assert pid1.wait(5) == -signal.SIGKILL


def test_signals_go_through_the_callers_pidfd(started: list[subprocess.Popen[bytes]]) -> None:
    pid1 = start(started, EXITS_ON_USR1)
    pidfd = os.pidfd_open(pid1.pid)
    try:
        assert pid1.poll() is None
        stop = GraceKill(NO_SUCH_PID, signal.SIGUSR1, 5.0, FakeCgroup(), pidfd)  # only the pidfd names it
        assert stop.stop_and_wait() is True
        assert pid1.wait(5) == 3
        stop.begin()  # PID 1 reaped: a pidfd never reaches whatever process has that PID now
        stop.expire()
    finally:
        os.close(pidfd)


def test_a_process_already_gone_only_sweeps_the_cgroup(started: list[subprocess.Popen[bytes]]) -> None:
    pid1 = start(started, IGNORES_TERM)
    pid1.kill()
    pid1.wait()
    straggler = start(started, IGNORES_TERM)
    cgroup = FakeCgroup(straggler)
    began = time.monotonic()
    assert GraceKill(pid1.pid, signal.SIGTERM, 10.0, cgroup).stop_and_wait() is True
    assert time.monotonic() - began < 1.0
    assert straggler.wait(5) == -signal.SIGKILL
