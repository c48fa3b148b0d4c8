"""``composer run``: a one-off container, followed until it exits unless ``-d``.

The container is made by :func:`composer.engine.run.run_oneoff` and run by the
project's supervisor like every other container, so its output is its log: the
foreground ``run`` follows that log (stdout lines to stdout, stderr lines to
stderr) until the container exits, and returns its exit status, as ``docker
compose run`` does.  Its standard input is composer's (handed to the supervisor
with the start); on a terminal the one-off gets a terminal of its own instead,
relayed by composer/cli/terminal.py, and its output is not logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from composer.engine.hosts.base import HostFacts
from composer.kernel.logs import LogLine, read_logs
from composer.store.container import ContainerStatus
from composer.store.layout import ProjectLayout
from composer.verbs.attach import has_finished


def _state(status: ContainerStatus) -> tuple[str, int | None]:
    return status.state, status.exit_code


def follow_until_exit(
    layout: ProjectLayout,
    host: HostFacts,
    name: str,
    *,
    poll_interval: float = 0.05,
    tail: int | None = None,
    on_open: Callable[[], None] | None = None,
) -> Iterator[LogLine]:
    """The container's log lines as they come (after the last ``tail`` already there; all when None),
    until it has exited and every line is read; ``on_open`` once the log is open (see read_logs)."""

    def finished() -> bool:
        status = host.container_status(layout, name)
        return has_finished(status.state, status.exit_code)

    yield from read_logs(
        str(layout.container(name).log), tail=tail, follow=True, until=finished,
        poll_interval=poll_interval, on_open=on_open,
    )  # fmt: skip


def exit_code(layout: ProjectLayout, host: HostFacts, name: str) -> int:
    """The exit status of a finished container (1 when none was recorded, as for a failed start)."""
    status = host.container_status(layout, name)
    return status.exit_code if status.exit_code is not None else 1


def wait_finished(
    layout: ProjectLayout,
    host: HostFacts,
    name: str,
    *,
    poll_interval: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Block until the container has exited; its exit status."""
    while not has_finished(*_state(host.container_status(layout, name))):
        sleep(poll_interval)
    return exit_code(layout, host, name)
