"""``composer wait``: block until the containers of services stop, and say how each ended.

As ``docker compose wait``: every container's exit is reported as it comes;
the exit status is the last one's, or with ``--down-project`` the first one's
(the project is then taken down by the caller).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from composer.engine.hosts.base import HostFacts
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout
from composer.verbs.attach import has_finished
from composer.verbs.targets import require_containers, targets


def wait_exits(
    layout: ProjectLayout,
    host: HostFacts,
    services: Sequence[str] = (),
    *,
    on_exit: Callable[[str, int], None],
    first_only: bool = False,
    poll_interval: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """The exit status of the last container to stop (of the first with ``first_only``)."""
    store = read_store(layout)
    require_containers(store)
    pending = [t.name for t in targets(store, services)]
    code = 0
    while pending:
        for name in list(pending):
            status = host.container_status(layout, name)
            if not (has_finished(status.state, status.exit_code) or status.state == "created"):
                continue
            pending.remove(name)
            code = status.exit_code if status.exit_code is not None else 0
            on_exit(name, code)
            if first_only:
                return code
        if pending:
            sleep(poll_interval)
    return code
