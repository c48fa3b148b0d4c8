"""Read-only views of projects: ps, ls, port, network ls, top.

They read the state store and the containers' status (through the host's
facts) without taking the project's lock (a snapshot plus the journal is always
consistent enough to show) and never change anything.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from composer.engine.hosts.base import HostFacts
from composer.errors import ComposerError
from composer.model.ids import container_id
from composer.store.container import ContainerFolder, ContainerStatus
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout, StateRoot
from composer.store.records import ContainerRecord, Stored


@dataclass(frozen=True)
class PsRow:
    Name: str
    Service: str
    Project: str
    State: str
    Health: str
    ExitCode: int
    Status: str
    Pid: int
    OOMKilled: bool
    Command: str
    Networks: dict[str, str] = field(default_factory=dict)
    Publishers: list[dict[str, Any]] = field(default_factory=list)
    RestartCount: int = 0


def ps(
    layout: ProjectLayout, host: HostFacts, *, services: Sequence[str] = (), all_states: bool = False
) -> list[PsRow]:
    rows: list[PsRow] = []
    for rid, stored in sorted(read_store(layout).containers().items()):
        if services and stored.record.service not in services:
            continue
        status = host.container_status(layout, rid.name)
        state_name = status.state if stored.complete else "dead"
        if not all_states and state_name not in ("running", "restarting", "paused"):
            continue
        rows.append(_row(layout, rid.name, stored, status, state_name))
    return rows


def _row(
    layout: ProjectLayout,
    name: str,
    stored: Stored[ContainerRecord],
    status: ContainerStatus,
    state_name: str,
) -> PsRow:
    record = stored.record
    networks = {net: cidrs[0].split("/")[0] for net, cidrs in record.addresses.items() if cidrs}
    publishers = [
        {"URL": p.host_ip, "TargetPort": p.target, "PublishedPort": p.host_port, "Protocol": p.protocol}
        for p in record.ports
    ]
    return PsRow(
        Name=name,
        Service=record.service,
        Project=layout.name,
        State=state_name,
        Health=status.health,
        ExitCode=status.exit_code or 0,
        Status=_status_text(status, state_name),
        Pid=status.pid if state_name in ("running", "restarting", "paused") else 0,
        OOMKilled=status.oom_killed,
        Command=_command(layout, name),
        Networks=networks,
        Publishers=publishers,
        RestartCount=status.restart_count,
    )


def _command(layout: ProjectLayout, name: str) -> str:
    try:
        argv = ContainerFolder(layout.container(name)).read_supervised().config.argv
    except (FileNotFoundError, ValueError, KeyError):
        return ""
    return " ".join(argv)


def _status_text(status: ContainerStatus, state_name: str) -> str:
    now = time.time()
    if state_name == "running":
        health = f" ({status.health})" if status.health else ""
        return f"Up {_ago(now - status.started_at)}{health}"
    if state_name == "paused":
        return f"Up {_ago(now - status.started_at)} (Paused)"
    if state_name == "exited":
        # Neither code nor time is known of a process that ended with no supervisor to record it
        # (e.g. a rootless project whose keeper was killed): say only that it exited.
        oom = ", OOMKilled" if status.oom_killed else ""
        code = f" ({status.exit_code}{oom})" if status.exit_code is not None else ""
        when = f" {_ago(now - status.finished_at)} ago" if status.finished_at else ""
        return f"Exited{code}{when}"
    return state_name.capitalize()


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    count = int(seconds)
    return f"{count} second{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class ProjectRow:
    Name: str
    Status: str
    ConfigFiles: str


def ls(root: StateRoot, host: HostFacts) -> list[ProjectRow]:
    rows: list[ProjectRow] = []
    for project in root.project_names():
        layout = root.project(project)
        store = read_store(layout)
        counts: dict[str, int] = {}
        for rid in store.containers():
            state = host.container_status(layout, rid.name).state
            counts[state] = counts.get(state, 0) + 1
        summary = ", ".join(f"{state}({count})" for state, count in sorted(counts.items()))
        rows.append(ProjectRow(project, summary or "no containers", ",".join(store.meta.files)))
    return rows


def port(
    layout: ProjectLayout, service: str, private_port: int, protocol: str = "tcp", index: int = 1
) -> str:
    for stored in sorted(read_store(layout).containers().values(), key=lambda s: s.rid):
        record = stored.record
        if record.service != service or record.number != index:
            continue
        for entry in record.ports:
            if entry.target == private_port and entry.protocol == protocol:
                return f"{entry.host_ip or '0.0.0.0'}:{entry.host_port}"
        raise ComposerError(f"no port {private_port}/{protocol} of service {service} is published")
    raise ComposerError(
        f"service {service} has no container {index} in project {layout.name}",
        hint="is the project up? see composer ps -a",
    )


@dataclass(frozen=True)
class NetworkRow:
    Name: str
    Bridge: str
    Subnets: list[str]
    Gateways: list[str]
    External: bool


def network_ls(layout: ProjectLayout) -> list[NetworkRow]:
    rows: list[NetworkRow] = []
    for rid, stored in sorted(read_store(layout).networks().items()):
        addressing = stored.record.addressing
        families = addressing.families() if addressing else ()
        rows.append(NetworkRow(
            Name=rid.name,
            Bridge=stored.record.bridge,
            Subnets=[f.subnet for f in families],
            Gateways=[f.gateway for f in families],
            External=stored.record.external,
        ))  # fmt: skip
    return rows


@dataclass(frozen=True)
class TopRow:
    UID: str
    PID: int
    PPID: int
    TIME: str
    CMD: str


def top(layout: ProjectLayout, host: HostFacts, container: str) -> list[TopRow]:
    """Processes of a container, from its cgroup (every process it ever forked is there)."""
    stored = read_store(layout).containers().get(container_id(container))
    if stored is None or not stored.record.sandbox.cgroup_paths:
        return []
    return [
        TopRow(p.user, p.pid, p.ppid, p.cpu_time, p.command)
        for p in host.container_processes(stored.record.sandbox.cgroup_paths)
    ]


@dataclass(frozen=True)
class VolumeRow:
    Driver: str
    Name: str
    Mountpoint: str
    Services: list[str]


def volumes(layout: ProjectLayout, services: Sequence[str] = ()) -> list[VolumeRow]:
    """The project's named volumes, with the services whose containers mount them."""
    store = read_store(layout)
    users: dict[str, set[str]] = {}
    for rid, stored in store.containers().items():
        try:
            mounts = ContainerFolder(layout.container(rid.name)).read_supervised().config.mounts
        except (FileNotFoundError, ValueError, KeyError):
            continue
        for mount in mounts:
            if mount.kind == "volume":
                users.setdefault(mount.source, set()).add(stored.record.service)
    rows = []
    for rid, volume in sorted(store.volumes().items()):
        used_by = sorted(users.get(volume.record.path, set()))
        if services and not set(services) & set(used_by):
            continue
        rows.append(VolumeRow("local", f"{layout.name}_{rid.name}", volume.record.path, used_by))
    return rows
