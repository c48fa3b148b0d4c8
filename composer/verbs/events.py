"""``composer events``: what happens to a project's containers, networks and links, as it happens.

There is no daemon to subscribe to: the state store and the containers' status
files (written by every composer command and by the supervisor) are the
record, so ``events`` reads them a few times a second and reports the
differences between two readings (:func:`changes` is pure).  An event is:

* container ``create`` / ``destroy`` (its record appears or goes), ``start``,
  ``die`` (with ``exitCode``), ``restart`` (the supervisor restarted it),
  ``pause``/``unpause``, ``health_status: healthy|unhealthy|starting``;
* network ``create`` / ``destroy``; link ``create`` / ``destroy`` (the
  point-to-point veth pairs of labs, with their two ends).

A change that comes and goes between two readings (a container that starts
and dies within one interval) shows as its outcome, e.g. ``start`` and ``die``
together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from composer.engine.hosts.base import HostFacts
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout


@dataclass(frozen=True)
class ContainerView:
    service: str
    state: str
    pid: int
    health: str
    exit_code: int | None
    restarts: int


@dataclass(frozen=True)
class Snapshot:
    containers: Mapping[str, ContainerView] = field(default_factory=dict)
    networks: Mapping[str, str] = field(default_factory=dict)  # name -> bridge
    links: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # rid -> ends (netns:ifname)


@dataclass(frozen=True)
class ProjectEvent:
    time: str
    type: str  # container, network, link
    action: str
    id: str  # the resource's name
    service: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"time": self.time, "type": self.type, "action": self.action, "id": self.id,
                "service": self.service, "attributes": dict(self.attributes)}  # fmt: skip

    def render(self) -> str:
        details = {"name": self.id, **({"service": self.service} if self.service else {}), **self.attributes}
        text = ", ".join(f"{k}={v}" for k, v in details.items())
        return f"{self.time} {self.type} {self.action} {self.id} ({text})"


def snapshot(layout: ProjectLayout, host: HostFacts) -> Snapshot:
    """One reading of the store and of every container's status."""
    store = read_store(layout)
    containers = {}
    for rid, stored in store.containers().items():
        if not stored.complete:
            continue
        status = host.container_status(layout, rid.name)
        containers[rid.name] = ContainerView(
            stored.record.service,
            status.state,
            status.pid,
            status.health,
            status.exit_code,
            status.restart_count,
        )
    networks = {rid.name: s.record.bridge for rid, s in store.networks().items() if s.complete}
    links = {
        rid.name: (
            f"{_ns(s.record.a_netns)}:{s.record.a_ifname}",
            f"{_ns(s.record.b_netns)}:{s.record.b_ifname}",
        )
        for rid, s in store.links().items()
        if s.complete
    }
    return Snapshot(containers, networks, links)


def _ns(path: str) -> str:
    return path.rpartition("/")[2]


RUNNING = ("running", "restarting", "paused")


def changes(before: Snapshot, after: Snapshot, now: str) -> list[ProjectEvent]:
    """The events that lead from ``before`` to ``after``.  Pure."""
    found: list[ProjectEvent] = []
    for name, bridge in sorted(after.networks.items()):
        if name not in before.networks:
            found.append(ProjectEvent(now, "network", "create", name, attributes={"bridge": bridge}))
    for name in sorted(set(before.containers) | set(after.containers)):
        found += _container_changes(name, before.containers.get(name), after.containers.get(name), now)
    for name, ends in sorted(after.links.items()):
        if name not in before.links:
            found.append(ProjectEvent(now, "link", "create", name, attributes={"a": ends[0], "b": ends[1]}))
    for name, ends in sorted(before.links.items()):
        if name not in after.links:
            found.append(ProjectEvent(now, "link", "destroy", name, attributes={"a": ends[0], "b": ends[1]}))
    for name, bridge in sorted(before.networks.items()):
        if name not in after.networks:
            found.append(ProjectEvent(now, "network", "destroy", name, attributes={"bridge": bridge}))
    return found


def _container_changes(
    name: str, old: ContainerView | None, new: ContainerView | None, now: str
) -> list[ProjectEvent]:
    def event(action: str, view: ContainerView, **attributes: str) -> ProjectEvent:
        return ProjectEvent(now, "container", action, name, view.service, attributes)

    if new is None:
        assert old is not None
        return [event("destroy", old)]
    found: list[ProjectEvent] = []
    if old is None:
        found.append(event("create", new))
        old = ContainerView(new.service, "created", 0, "", None, new.restarts)
    was_up, is_up = old.state in RUNNING, new.state in RUNNING
    if new.restarts > old.restarts:
        found.append(event("restart", new))
    elif is_up and (not was_up or (new.pid and new.pid != old.pid)):
        if was_up:  # a new process since the last reading: the old one died in between
            found.append(event("die", new))
        found.append(event("start", new))
    if was_up and not is_up and new.state in ("exited", "dead"):
        found.append(event("die", new, exitCode=str(new.exit_code if new.exit_code is not None else "")))
    if new.state == "paused" and old.state != "paused":
        found.append(event("pause", new))
    if old.state == "paused" and new.state == "running":
        found.append(event("unpause", new))
    if new.health and new.health != old.health:
        found.append(event(f"health_status: {new.health}", new))
    return found


def watch(
    layout: ProjectLayout,
    host: HostFacts,
    *,
    services: tuple[str, ...] = (),
    poll_interval: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
    until: Callable[[], bool] = lambda: False,
) -> Iterator[ProjectEvent]:
    """Events from now on (what exists when it starts is not reported), until ``until()``."""
    before = snapshot(layout, host)
    while not until():
        sleep(poll_interval)
        after = snapshot(layout, host)
        for item in changes(before, after, _now()):
            if not services or item.type != "container" or item.service in services:
                yield item
        before = after


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
