"""The observed state: ONE read pass over the state store and the host.

The records say what composer made; the host says what still exists.  A
container whose process died, a bridge someone deleted, an object left half
made by a killed command, a route deleted by hand: each shows up here, and
``reconcile()`` decides what to do about it.  Only cheap reads happen here
(``/proc``, ``/sys``, status files, and one netlink dump per network namespace
that holds interfaces or routes the project declares) so that a no-op ``up``
stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic

from composer.engine.hosts.base import HostFacts
from composer.model.desired import DesiredState
from composer.model.ids import ResourceId, container_id
from composer.model.netstate import NetnsState
from composer.store.journal import ProjectStore
from composer.store.records import (
    ContainerRecord,
    FirewallRecord,
    LinkRecord,
    NetworkRecord,
    ProjectMeta,
    R,
    RouteRecord,
    Stored,
    VolumeRecord,
)


@dataclass(frozen=True)
class ObservedContainer:
    rid: ResourceId
    phase: str  # the record's phase: creating, created, removing
    config_hash: str
    record: ContainerRecord
    state: str  # running, exited, created, restarting, dead, gone (no process ever / sandbox lost)
    health: str
    exit_code: int | None
    sandbox_ok: bool  # its netns (when it owns one) still exists
    stopped_by_user: bool = False
    netns_state: NetnsState | None = None  # read when the project declares interfaces or routes in it

    @property
    def name(self) -> str:
        return self.rid.name

    @property
    def service(self) -> str:
        return self.record.service

    @property
    def number(self) -> int:
        return self.record.number

    @property
    def image_id(self) -> str:
        return self.record.image_id

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @property
    def complete(self) -> bool:
        return self.phase == "created"


@dataclass(frozen=True)
class Observed(Generic[R]):
    """A network, link, volume or firewall record, with whether its host object exists."""

    rid: ResourceId
    phase: str
    config_hash: str
    record: R
    present: bool

    @property
    def complete(self) -> bool:
        return self.phase == "created"


@dataclass(frozen=True)
class ObservedState:
    project: str
    containers: Mapping[ResourceId, ObservedContainer] = field(default_factory=dict)
    networks: Mapping[ResourceId, Observed[NetworkRecord]] = field(default_factory=dict)
    links: Mapping[ResourceId, Observed[LinkRecord]] = field(default_factory=dict)
    volumes: Mapping[ResourceId, Observed[VolumeRecord]] = field(default_factory=dict)
    firewall: Observed[FirewallRecord] | None = None
    routes: Mapping[ResourceId, Observed[RouteRecord]] = field(default_factory=dict)
    meta: ProjectMeta = field(default_factory=ProjectMeta)

    def netns_of(self, container: str) -> NetnsState | None:
        seen = self.containers.get(container_id(container))
        return seen.netns_state if seen is not None else None

    @property
    def is_empty(self) -> bool:
        return not (self.containers or self.networks or self.links or self.volumes or self.firewall)


def observe(store: ProjectStore, host: HostFacts, desired: DesiredState | None = None) -> ObservedState:
    """One read of the store and the host; ``desired`` names the namespaces worth a netlink dump."""
    wanted = _sysctls_by_container(desired) if desired is not None else {}
    containers = {
        rid: _container(stored, store, host, wanted.get(rid.name))
        for rid, stored in store.containers().items()
    }
    networks = {
        rid: _observed(
            stored, present=bool(stored.record.bridge) and host.interface_exists(stored.record.bridge)
        )
        for rid, stored in store.networks().items()
    }
    links = {rid: _observed(stored, present=True) for rid, stored in store.links().items()}
    volumes = {rid: _observed(stored, present=True) for rid, stored in store.volumes().items()}
    routes = {rid: _route(stored, containers) for rid, stored in store.routes().items()}
    firewall = store.firewall()
    return ObservedState(
        project=store.project,
        containers=containers,
        networks=networks,
        links=links,
        volumes=volumes,
        firewall=_observed(firewall, present=host.firewall_exists(store.project)) if firewall else None,
        routes=routes,
        meta=store.meta,
    )


def _sysctls_by_container(desired: DesiredState) -> dict[str, list[str]]:
    """Container -> the per-interface sysctl keys to read, for every container with interfaces or routes."""
    wanted: dict[str, list[str]] = {}
    for interface in desired.interfaces.values():
        wanted.setdefault(interface.container, []).extend(key for key, _ in interface.sysctls)
    for route in desired.routes.values():
        wanted.setdefault(route.container, [])
    return wanted


def _container(
    stored: Stored[ContainerRecord], store: ProjectStore, host: HostFacts, sysctls: list[str] | None
) -> ObservedContainer:
    status = host.container_status(store.layout, stored.rid.name)
    sandbox = stored.record.sandbox
    sandbox_ok = not sandbox.owns_netns or (bool(sandbox.netns) and host.netns_exists(sandbox.netns))
    netns_state = None
    if sysctls is not None and stored.complete and sandbox.owns_netns and sandbox_ok:
        netns_state = host.netns_state(sandbox.netns, sysctls)
    return ObservedContainer(
        rid=stored.rid,
        phase=stored.phase,
        config_hash=stored.config_hash,
        record=stored.record,
        state=status.state if stored.complete else "gone",
        health=status.health,
        exit_code=status.exit_code,
        sandbox_ok=sandbox_ok,
        stopped_by_user=status.stopped_by_user,
        netns_state=netns_state,
    )


def _route(
    stored: Stored[RouteRecord], containers: Mapping[ResourceId, ObservedContainer]
) -> Observed[RouteRecord]:
    """A recorded route is present when its container's routing table (read this time) holds it."""
    seen = containers.get(container_id(stored.record.container))
    state = seen.netns_state if seen is not None else None
    present = state is not None and state.has_route(stored.record.destination, stored.record.gateway)
    return _observed(stored, present=present)


def _observed(stored: Stored[R], *, present: bool) -> Observed[R]:
    return Observed(stored.rid, stored.phase, stored.config_hash, stored.record, present)
