"""composer's own minimal init, used as PID 1 with ``init: true`` when the host has
neither tini nor catatonit.

The container's first process (already set up: namespaces, mounts, capabilities,
seccomp) forks the command and then becomes this loop instead of exec'ing:

* signals sent to PID 1 are forwarded to the command (PID 1 ignores signals it
  has no handler for, so without this ``docker stop`` semantics would break);
* every orphan re-parented to PID 1 is reaped, so no zombie piles up;
* when the command exits, the init exits with the command's status
  (128 + signal when it was killed), which ends the pid namespace.

It runs from the Python already in memory, so nothing has to exist in the image.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

FORWARDED = (
    signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
    signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT,
)  # fmt: skip


def exit_code(status: int) -> int:
    """A wait status as a shell exit code: the code, or 128 + signal number."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run_init(child: int) -> NoReturn:
    """Forward signals to ``child``, reap everything, exit with ``child``'s status."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            os._exit(exit_code(status))


def main(argv: Sequence[str]) -> NoReturn:
    """``python -m composer.kernel.initproc CMD ARGS...``: the same init outside a container."""
    if not argv:
        sys.stderr.write("usage: python -m composer.kernel.initproc CMD [ARGS...]\n")
        os._exit(2)
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], list(argv))
        finally:
            os._exit(127)
    run_init(child)


if __name__ == "__main__":
    main(sys.argv[1:])
