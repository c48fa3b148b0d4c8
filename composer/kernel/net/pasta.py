"""pasta (Debian ``passt``): the way out of a rootless project's network namespace.

Started from the host's network namespace (it opens the host-side sockets there)
and attached to the project's namespaces; the command line is
:func:`composer.model.rootless.pasta_argv`.  pasta daemonizes once its tap
interface is configured, so a zero exit means ready, and its PID is in the
file it was given.  It is stopped by PID and start time, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from composer.errors import HostError
from composer.kernel.userns import start_time


def start_pasta(argv: Sequence[str], pid_file: Path) -> tuple[int, int]:
    """Run pasta until it is ready and detached; return its (pid, start time)."""
    pid_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"pasta could not start: {exc}") from exc
    if done.returncode != 0:
        raise HostError(f"pasta failed: {_message(done.stderr) or f'exit status {done.returncode}'}")
    pid = int(pid_file.read_text().split()[0])
    pid_file.unlink()
    return pid, start_time(pid) or 0


def stop_process(pid: int, started: int, grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds, the process ``pid`` if it is still that one."""
    if start_time(pid) != started:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while start_time(pid) == started and time.monotonic() < deadline:
        time.sleep(0.01)
    if start_time(pid) == started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _message(stderr: str) -> str:
    # pasta also tells stderr each time syslog is unreachable: keep only its own words.
    return "; ".join(line for line in stderr.splitlines() if line and not line.startswith("Failed to send"))
