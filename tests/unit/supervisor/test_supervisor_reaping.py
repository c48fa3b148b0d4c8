"""The supervisor reaps its containers' processes and leaves every other child to whoever waits for it.

A healthcheck worker thread forks the probe and waits for it: if the
supervisor's reaper took the probe's exit status first, the worker's waitpid
failed with ECHILD and the check counted as failed (seen as ``unhealthy`` under
load).  Real child processes, no root needed.
"""

from __future__ import annotations

import os
import time

from composer.supervisor.server import reap_children


def _child(code: int) -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return pid


def _until_zombie(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None:
            return
        time.sleep(0.01)
    raise AssertionError(f"child {pid} did not exit")


def test_another_threads_child_is_left_for_its_own_waitpid() -> None:
    probe = _child(3)  # a healthcheck probe: its worker will waitpid it
    container = _child(7)
    _until_zombie(probe)
    _until_zombie(container)
    reaped = reap_children({container})
    assert [(pid, os.waitstatus_to_exitcode(status)) for pid, status in reaped] == [(container, 7)]
    pid, status = os.waitpid(probe, 0)  # ECHILD here was the bug
    assert pid == probe and os.waitstatus_to_exitcode(status) == 3


def test_every_exited_container_is_reaped_at_once() -> None:
    children = [_child(n) for n in range(3)]
    for pid in children:
        _until_zombie(pid)
    reaped = reap_children(set(children))
    assert sorted(pid for pid, _ in reaped) == sorted(children)
    assert reap_children(set(children)) == []
