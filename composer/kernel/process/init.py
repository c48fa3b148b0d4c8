"""composer's own minimal init, used as PID 1 with ``init: true`` when the host has
neither tini nor catatonit.

Run by the container's set-up child (:mod:`composer.kernel.process.child`) as
PID 1: once set up (namespaces, mounts, capabilities, seccomp) it forks the
command and then becomes this loop instead of exec'ing:

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

from composer.kernel.process.helpers import decode_wait_status

FORWARDED = (
    signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
    signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT,
)  # fmt: skip


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
            os._exit(decode_wait_status(status))


def main(argv: Sequence[str]) -> NoReturn:
    """``python -m composer.kernel.process.init CMD ARGS...``: the same init outside a container."""
    if not argv:
        sys.stderr.write("usage: python -m composer.kernel.process.init CMD [ARGS...]\n")
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
