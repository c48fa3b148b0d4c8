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
from typing import Any, Protocol

from composer.store.container import ContainerStatus
from composer.store.journal import ProjectState, ResourceRecord


class HostProbe(Protocol):
    """The read-only questions observe() asks the host (the real host or a fake)."""

    def interface_exists(self, name: str) -> bool: ...

    def netns_exists(self, path: str) -> bool: ...

    def container_status(self, project_dir: str, name: str) -> ContainerStatus: ...

    def firewall_exists(self, project: str) -> bool: ...


@dataclass(frozen=True)
class ObservedContainer:
    rid: str
    name: str
    service: str
    number: int
    phase: str  # the record's phase: creating, created, removing
    config_hash: str
    image_id: str
    state: str  # running, exited, created, restarting, dead, gone (no process ever / sandbox lost)
    health: str
    exit_code: int | None
    sandbox_ok: bool  # its netns (when it owns one) still exists
    data: Mapping[str, Any]
    stopped_by_user: bool = False

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting")

    @property
    def complete(self) -> bool:
        return self.phase == "created"


@dataclass(frozen=True)
class ObservedNetwork:
    rid: str
    phase: str
    config_hash: str
    present: bool  # the bridge exists on the host
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ObservedRecord:
    """A link, volume or firewall record, with whether its host object exists."""

    rid: str
    phase: str
    config_hash: str
    present: bool
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ObservedState:
    project: str
    containers: Mapping[str, ObservedContainer] = field(default_factory=dict)
    networks: Mapping[str, ObservedNetwork] = field(default_factory=dict)
    links: Mapping[str, ObservedRecord] = field(default_factory=dict)
    volumes: Mapping[str, ObservedRecord] = field(default_factory=dict)
    firewall: ObservedRecord | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.containers or self.networks or self.links or self.volumes or self.firewall)


def observe(state: ProjectState, probe: HostProbe) -> ObservedState:
    project_dir = str(state.dir)
    containers = {rid: _container(rec, probe, project_dir) for rid, rec in state.of_kind("container").items()}
    networks = {rid: _network(rec, probe) for rid, rec in state.of_kind("network").items()}
    links = {rid: _record(rec, present=True) for rid, rec in state.of_kind("link").items()}
    volumes = {rid: _record(rec, present=True) for rid, rec in state.of_kind("volume").items()}
    firewall_records = list(state.of_kind("firewall").values())
    firewall = None
    if firewall_records:
        firewall = _record(firewall_records[0], present=probe.firewall_exists(state.project))
    return ObservedState(
        project=state.project,
        containers=containers,
        networks=networks,
        links=links,
        volumes=volumes,
        firewall=firewall,
        meta=dict(state.meta),
    )


def _container(record: ResourceRecord, probe: HostProbe, project_dir: str) -> ObservedContainer:
    data = record.data
    name = record.rid.partition(":")[2]
    status = probe.container_status(project_dir, name)
    netns = data.get("netns")
    sandbox_ok = not data.get("owns_netns") or (bool(netns) and probe.netns_exists(str(netns)))
    return ObservedContainer(
        rid=record.rid,
        name=name,
        service=str(data.get("service", "")),
        number=int(data.get("number", 0)),
        phase=record.phase,
        config_hash=record.config_hash,
        image_id=str(data.get("image_id", "")),
        state=status.state if record.phase == "created" else "gone",
        health=status.health,
        exit_code=status.exit_code,
        sandbox_ok=sandbox_ok,
        data=dict(data),
        stopped_by_user=status.stopped_by_user,
    )


def _network(record: ResourceRecord, probe: HostProbe) -> ObservedNetwork:
    bridge = str(record.data.get("bridge", ""))
    return ObservedNetwork(
        rid=record.rid,
        phase=record.phase,
        config_hash=record.config_hash,
        present=bool(bridge) and probe.interface_exists(bridge),
        data=dict(record.data),
    )


def _record(record: ResourceRecord, *, present: bool) -> ObservedRecord:
    return ObservedRecord(record.rid, record.phase, record.config_hash, present, dict(record.data))
