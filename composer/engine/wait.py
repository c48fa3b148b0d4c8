"""``up --wait``: return once every container runs (healthy when it has a healthcheck) or completed with 0.

Fails with the first container that exited non-zero or became unhealthy, and
its last log lines.  The supervisor records the statuses and runs the
healthchecks: when it dies while ``up`` waits (SIGKILL, OOM), a new one is
started that adopts the containers, so the wait still ends.
"""

from __future__ import annotations

import time

from composer.engine.hosts.base import Host
from composer.errors import ContainerError
from composer.model.desired import DesiredState
from composer.store.layout import ProjectLayout

REVIVE_EVERY = 1.0  # seconds between checks that the supervisor still answers


class SupervisorWatch:
    """For loops that wait on statuses: a dead supervisor records none and runs no healthcheck.

    :meth:`check`, called on each turn, starts a new supervisor (it adopts the
    containers) at most once per :data:`REVIVE_EVERY` seconds when the old one
    stopped answering.
    """

    def __init__(self, host: Host, layout: ProjectLayout) -> None:
        self.host = host
        self.layout = layout
        self._next = time.monotonic() + REVIVE_EVERY

    def check(self) -> None:
        if time.monotonic() >= self._next:
            self.host.revive_supervisor(self.layout)
            self._next = time.monotonic() + REVIVE_EVERY


def wait_ready(layout: ProjectLayout, desired: DesiredState, host: Host, *, timeout: float = 300.0) -> None:
    pending = {c.name for c in desired.containers.values()}
    has_health = {c.name for c in desired.containers.values() if c.health is not None}
    deadline = time.monotonic() + timeout
    watch = SupervisorWatch(host, layout)
    while pending:
        watch.check()
        for name in sorted(pending):
            status = host.container_status(layout, name)
            if status.state == "exited" and status.exit_code not in (0, None):
                raise ContainerError(
                    f"container {name} exited with code {status.exit_code}", hint=last_lines(layout, name)
                )
            if status.health == "unhealthy":
                raise ContainerError(f"container {name} is unhealthy", hint=last_lines(layout, name))
            ready = status.health == "healthy" if name in has_health else status.state == "running"
            if ready or (status.state == "exited" and status.exit_code == 0):
                pending.discard(name)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise ContainerError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(0.1)


def last_lines(layout: ProjectLayout, name: str, count: int = 10) -> str:
    """The container's last log lines, as a hint under an error."""
    from composer.kernel.logs import read_logs

    try:
        lines = [line.text.rstrip("\n") for line in read_logs(str(layout.container(name).log), tail=count)]
    except OSError:
        return "no log"
    return "last log lines:\n    " + "\n    ".join(lines) if lines else "no output"
