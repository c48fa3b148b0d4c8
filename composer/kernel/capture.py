"""Run code with the process's stdout and stderr going to files: what a child started meanwhile writes.

``composer exec`` hands its own standard streams to the command it runs; a
``command`` check of ``composer test`` needs that output instead, so it points
fds 0, 1 and 2 at /dev/null and two temporary files for the duration, and reads
them afterwards.  Single-threaded use only (the fds are the process's).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Captured:
    stdout: str = ""
    stderr: str = ""


@contextlib.contextmanager
def captured_stdio() -> Iterator[Captured]:
    result = Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            os.dup2(null, 0)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            yield result
        finally:
            for fd, copy in zip((0, 1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            os.close(null)
            for handle, name in ((out, "stdout"), (err, "stderr")):
                handle.seek(0)
                setattr(result, name, handle.read().decode(errors="replace"))
