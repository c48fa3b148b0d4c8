"""Starting a detached background process (the project's supervisor).

Runs in the command that needs the daemon.  The new process is in a session of
its own (no controlling terminal: Ctrl-C in the user's shell does not reach it,
and it outlives the command), reads /dev/null, writes to a log file, inherits no
descriptor of the caller and runs in "/" (it keeps no folder busy).

The caller may run worker threads, so the process is made with
:class:`subprocess.Popen`, whose child runs no Python code between fork and
exec (a forked copy of a threaded Python must not).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def start_detached(argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` detached, its output appended to ``log_path``; return its PID.

    The caller does not wait for it: when it ends before the caller, it stays a
    zombie until the caller exits (then init, or a subreaper, collects it).
    """
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            cwd="/",
            env=None if env is None else dict(env),
        )
    _started.append(process)  # kept referenced: a collected Popen of a running child warns
    return process.pid


_started: list[subprocess.Popen[bytes]] = []
