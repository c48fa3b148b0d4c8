"""The observed state: ONE read pass over the state store and the host.

The records say what composer made; the host says what still exists.  A
container whose process died, a bridge someone deleted, an object left half
made by a killed command: each shows up here, and ``reconcile()`` decides what
to do about it.  Only cheap reads happen here (``/proc``, ``/sys``, status
files) so that a no-op ``up`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic

from composer.engine.hosts.base import HostFacts
from composer.model.ids import ResourceId
from composer.store.journal import ProjectStore
from composer.store.records import (
    ContainerRecord,
    FirewallRecord,
    LinkRecord,
    NetworkRecord,
    ProjectMeta,
    R,
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
        return self.state in ("running", "restarting")

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
    meta: ProjectMeta = field(default_factory=ProjectMeta)

    @property
    def is_empty(self) -> bool:
        return not (self.containers or self.networks or self.links or self.volumes or self.firewall)


def observe(store: ProjectStore, host: HostFacts) -> ObservedState:
    containers = {rid: _container(stored, store, host) for rid, stored in store.containers().items()}
    networks = {
        rid: _observed(
            stored, present=bool(stored.record.bridge) and host.interface_exists(stored.record.bridge)
        )
        for rid, stored in store.networks().items()
    }
    links = {rid: _observed(stored, present=True) for rid, stored in store.links().items()}
    volumes = {rid: _observed(stored, present=True) for rid, stored in store.volumes().items()}
    firewall = store.firewall()
    return ObservedState(
        project=store.project,
        containers=containers,
        networks=networks,
        links=links,
        volumes=volumes,
        firewall=_observed(firewall, present=host.firewall_exists(store.project)) if firewall else None,
        meta=store.meta,
    )


def _container(stored: Stored[ContainerRecord], store: ProjectStore, host: HostFacts) -> ObservedContainer:
    status = host.container_status(store.layout, stored.rid.name)
    sandbox = stored.record.sandbox
    sandbox_ok = not sandbox.owns_netns or (bool(sandbox.netns) and host.netns_exists(sandbox.netns))
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
    )


def _observed(stored: Stored[R], *, present: bool) -> Observed[R]:
    return Observed(stored.rid, stored.phase, stored.config_hash, stored.record, present)
