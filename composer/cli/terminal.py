"""``run`` on a terminal: relay between composer's terminal and the one-off's pseudo-terminal.

The supervisor makes the container's pseudo-terminal and hands its master to
``run`` with the start (SCM_RIGHTS), as ``docker compose run`` attaches to its
container's terminal: composer's terminal goes raw (Ctrl-C, Ctrl-D and the
arrows are the container's), its size follows composer's window, and the relay
ends when the container's side of the terminal is closed (it exited).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import struct
import termios
import tty
from types import FrameType

_CHUNK = 65536


def wants_terminal(detach: bool, no_tty: bool) -> bool:
    """A terminal for the one-off: in the foreground, not ``-T``, composer's stdin and stdout terminals."""
    with contextlib.suppress(OSError, ValueError):
        return not detach and not no_tty and os.isatty(0) and os.isatty(1)
    return False


def terminal_size(fd: int = 0) -> tuple[int, int]:
    """(rows, columns) of the terminal ``fd``; (0, 0) when it has none."""
    try:
        rows, columns, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return (0, 0)
    return (rows, columns)


def relay(master: int, stdin: int = 0, stdout: int = 1) -> None:
    """Copy ``stdin`` to ``master`` and ``master`` to ``stdout`` until the container's side closes."""
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None

    def resize(_signum: int = 0, _frame: FrameType | None = None) -> None:
        with contextlib.suppress(OSError):
            size = fcntl.ioctl(stdin, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(master, termios.TIOCSWINSZ, size)

    resize()
    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        if saved is not None:
            tty.setraw(stdin)
        _pump(master, stdin, stdout)
    finally:
        signal.signal(signal.SIGWINCH, previous)
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        os.close(master)


def _pump(master: int, stdin: int, stdout: int) -> None:
    sources = [master, stdin]
    while True:
        ready, _, _ = select.select(sources, [], [])
        if master in ready:
            try:
                data = os.read(master, _CHUNK)
            except OSError as error:  # EIO: every slave is closed, the container is gone
                if error.errno != errno.EIO:
                    raise
                return
            if not data:
                return
            write_all(stdout, data)
        if stdin in ready:
            data = os.read(stdin, _CHUNK)
            if data:
                write_all(master, data)
            else:  # composer's stdin ended: the container keeps its terminal, output still comes
                sources.remove(stdin)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
