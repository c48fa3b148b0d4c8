"""Read-only views of projects: ps, ls, port, network ls, top.

They read the state store and the containers' status files without taking the
project's lock (a snapshot plus the journal is always consistent enough to show)
and never change anything.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.errors import ComposerError
from composer.store.container import ContainerDir, ContainerStatus, live_status
from composer.store.journal import ProjectState, list_projects


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


def load_state(state_root: Path, project: str) -> ProjectState:
    state = ProjectState(state_root, project)
    if state.dir.exists():
        state.load()
    return state


def container_status(state: ProjectState, name: str) -> ContainerStatus:
    return live_status(ContainerDir(state.container_dir(name)))


def ps(
    state_root: Path, project: str, *, services: Sequence[str] = (), all_states: bool = False
) -> list[PsRow]:
    state = load_state(state_root, project)
    rows: list[PsRow] = []
    for rid, record in sorted(state.of_kind("container").items()):
        name = rid.partition(":")[2]
        data = record.data
        if services and data.get("service") not in services:
            continue
        status = container_status(state, name)
        state_name = status.state if record.phase == "created" else "dead"
        if not all_states and state_name not in ("running", "restarting"):
            continue
        rows.append(_row(project, name, data, status, state_name, state))
    return rows


def _row(
    project: str,
    name: str,
    data: dict[str, Any],
    status: ContainerStatus,
    state_name: str,
    state: ProjectState,
) -> PsRow:
    networks = {net: addrs[0].split("/")[0] for net, addrs in data.get("addresses", {}).items() if addrs}
    publishers = [
        {
            "URL": p["host_ip"],
            "TargetPort": p["target"],
            "PublishedPort": p["host_port"],
            "Protocol": p["protocol"],
        }
        for p in data.get("ports", [])
    ]
    return PsRow(
        Name=name,
        Service=str(data.get("service", "")),
        Project=project,
        State=state_name,
        Health=status.health,
        ExitCode=status.exit_code or 0,
        Status=_status_text(status, state_name),
        Pid=status.pid if state_name in ("running", "restarting") else 0,
        OOMKilled=status.oom_killed,
        Command=_command(state, name),
        Networks=networks,
        Publishers=publishers,
        RestartCount=status.restart_count,
    )


def _command(state: ProjectState, name: str) -> str:
    try:
        argv = ContainerDir(state.container_dir(name)).read_spec().config.argv
    except (FileNotFoundError, ValueError, KeyError):
        return ""
    return " ".join(argv)


def _status_text(status: ContainerStatus, state_name: str) -> str:
    now = time.time()
    if state_name == "running":
        health = f" ({status.health})" if status.health else ""
        return f"Up {_ago(now - status.started_at)}{health}"
    if state_name == "exited":
        oom = ", OOMKilled" if status.oom_killed else ""
        return f"Exited ({status.exit_code}{oom}) {_ago(now - status.finished_at)} ago"
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


def ls(state_root: Path) -> list[ProjectRow]:
    rows: list[ProjectRow] = []
    for project in list_projects(state_root):
        state = load_state(state_root, project)
        counts: dict[str, int] = {}
        for rid in state.of_kind("container"):
            status = container_status(state, rid.partition(":")[2])
            counts[status.state] = counts.get(status.state, 0) + 1
        summary = ", ".join(f"{state_name}({count})" for state_name, count in sorted(counts.items()))
        rows.append(ProjectRow(project, summary or "no containers", str(state.meta.get("files", ""))))
    return rows


def port(
    state_root: Path, project: str, service: str, private_port: int, protocol: str = "tcp", index: int = 1
) -> str:
    state = load_state(state_root, project)
    for _rid, record in sorted(state.of_kind("container").items()):
        data = record.data
        if data.get("service") != service or int(data.get("number", 0)) != index:
            continue
        for entry in data.get("ports", []):
            if entry["target"] == private_port and entry["protocol"] == protocol:
                host_ip = entry["host_ip"] or "0.0.0.0"
                return f"{host_ip}:{entry['host_port']}"
        raise ComposerError(f"no port {private_port}/{protocol} of service {service} is published")
    raise ComposerError(
        f"service {service} has no container {index} in project {project}",
        hint="is the project up? see composer ps -a",
    )


@dataclass(frozen=True)
class NetworkRow:
    Name: str
    Bridge: str
    Subnets: list[str]
    Gateways: list[str]
    External: bool


def network_ls(state_root: Path, project: str) -> list[NetworkRow]:
    state = load_state(state_root, project)
    rows: list[NetworkRow] = []
    for rid, record in sorted(state.of_kind("network").items()):
        addressing = record.data.get("addressing") or {}
        families: list[dict[str, Any]] = [addressing[f] for f in ("ipv4", "ipv6") if addressing.get(f)]
        rows.append(NetworkRow(
            Name=rid.partition(":")[2],
            Bridge=str(record.data.get("bridge", "")),
            Subnets=[f["subnet"] for f in families],
            Gateways=[f["gateway"] for f in families],
            External=bool(record.data.get("external")),
        ))  # fmt: skip
    return rows


@dataclass(frozen=True)
class TopRow:
    UID: str
    PID: int
    PPID: int
    TIME: str
    CMD: str


def top(state_root: Path, project: str, container: str) -> list[TopRow]:
    """Processes of a container, from its cgroup (every process it ever forked is there)."""
    state = load_state(state_root, project)
    record = state.records.get(f"container:{container}")
    paths = record.data.get("cgroup_paths") if record else None
    if not paths:
        return []
    pids: set[int] = set()
    for directory in paths.values():
        try:
            text = Path(directory, "cgroup.procs").read_text()
        except FileNotFoundError:
            continue
        pids.update(int(x) for x in text.split())
    return [row for row in (_top_row(pid) for pid in sorted(pids)) if row is not None]


def _top_row(pid: int) -> TopRow | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        )
        uid = os.stat(f"/proc/{pid}").st_uid
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) // ticks
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return TopRow(user, pid, int(fields[1]), time.strftime("%H:%M:%S", time.gmtime(cpu)), cmdline)
