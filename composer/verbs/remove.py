"""``composer rm``: which containers it removes (the removal itself is the engine's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from composer.engine.hosts.base import HostFacts
from composer.errors import ComposerError
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout

RUNNING = ("running", "restarting")


@dataclass(frozen=True)
class Removal:
    """What ``rm`` will remove, and the running containers it leaves (without ``--stop``)."""

    names: tuple[str, ...]
    running: tuple[str, ...]


def removal(
    layout: ProjectLayout, host: HostFacts, services: Sequence[str] = (), *, stop: bool = False
) -> Removal:
    """The containers of ``services`` (or so named; all when empty): the stopped ones, all with ``stop``."""
    found = sorted(read_store(layout).containers().items())
    known = {s.record.service for _, s in found} | {rid.name for rid, _ in found}
    unknown = [s for s in services if s not in known]
    if unknown:
        raise ComposerError(
            f"no such service: {', '.join(unknown)}", hint=f"see composer -p {layout.name} ps -a"
        )
    names: list[str] = []
    running: list[str] = []
    for rid, stored in found:
        if services and stored.record.service not in services and rid.name not in services:
            continue
        state = host.container_status(layout, rid.name).state if stored.complete else "dead"
        (running if state in RUNNING and not stop else names).append(rid.name)
    return Removal(tuple(names), tuple(running))
