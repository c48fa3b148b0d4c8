"""The exec relay on plain processes: it returns at the process's exit, with what it wrote.

A forked shell stands for the exec'd process (the relay does not care where it
runs); it leaves ``sleep`` in the background holding the relay's pipe, which,
handed the caller's stdout itself, would keep a reader of that waiting as long
as the sleep lives.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time

from composer.kernel.process.exec import DRAIN_AFTER_EXIT, OutputRelay, drain
from composer.kernel.process.parent import read_all


def run_relayed(script: str) -> tuple[float, bytes, int]:
    """(seconds pump_until_exit took, what reached the caller's pipe, the exit code)."""
    sink_r, sink_w = os.pipe2(os.O_CLOEXEC)
    relay = OutputRelay([(sink_w,)])  # the caller's fd: a pipe a reader waits on
    child = os.fork()
    if child == 0:
        try:
            os.setsid()  # the background sleep in a group of its own, killed below
            relay.child_stdio()  # the relay's pipe in place of the caller's fd ...
            os.dup2(sink_w, 1)  # ... which the shell writes to as its stdout
            os.execv("/bin/sh", ["sh", "-c", script])
        finally:
            os._exit(127)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_all(sink_r)))  # as `| cat` reads
    reader.start()
    try:
        relay.close_child_ends()
        start = time.monotonic()
        status = relay.pump_until_exit(child)
        took = time.monotonic() - start
    finally:
        relay.close()
        os.close(sink_w)  # the end comes at once: nobody else holds the caller's pipe
        reader.join(10)
        os.close(sink_r)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)
    assert not reader.is_alive(), "the caller's pipe never ended"
    return took, received[0], os.waitstatus_to_exitcode(status)


def test_returns_at_the_exit_not_when_the_background_child_closes_its_stdout() -> None:
    took, data, code = run_relayed("seq 1 20000; sleep 8 & echo done; exit 4")
    assert took < 4
    assert data.decode().split() == [*(str(i) for i in range(1, 20001)), "done"]
    assert code == 4


def test_a_command_without_background_children_ends_at_its_pipes_end() -> None:
    took, data, code = run_relayed("echo one; echo two")
    assert (data, code) == (b"one\ntwo\n", 0)
    assert took < 4


def test_the_drain_is_bounded_while_a_background_process_keeps_writing() -> None:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    writer = os.fork()
    if writer == 0:
        os.close(read_end)
        try:
            while True:
                os.write(write_end, b"x" * 512)
        finally:
            os._exit(0)
    os.close(write_end)
    seen = bytearray()

    def forward(fd: int) -> bool:
        with contextlib.suppress(BlockingIOError):
            seen.extend(os.read(fd, 65536))
        return True

    try:
        select.select([read_end], [], [], 5)  # the writer has begun
        start = time.monotonic()
        drain([read_end], start + DRAIN_AFTER_EXIT, forward)
        took = time.monotonic() - start
    finally:
        os.kill(writer, signal.SIGKILL)
        os.waitpid(writer, 0)
        os.close(read_end)
    assert seen and took < DRAIN_AFTER_EXIT + 0.5
