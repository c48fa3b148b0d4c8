"""A container's folder, and the runtime status the supervisor keeps in it.

The folder ``<state>/containers/<name>/`` is the interface between the composer
commands and the project's supervisor: commands write ``spec.json`` (what to run
and how to supervise it) before asking the supervisor to start the container;
the supervisor alone writes ``status.json`` (pid, state, exit code, health), each
time atomically, and any command may read it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from composer.model.container import ContainerConfig
from composer.store.journal import atomic_write

State = Literal["created", "running", "restarting", "exited", "dead"]
Health = Literal["", "starting", "healthy", "unhealthy"]


@dataclass(frozen=True)
class HealthSpec:
    """A healthcheck resolved for the supervisor: argv ready to run inside the container."""

    argv: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0


@dataclass(frozen=True)
class SupervisedSpec:
    """What the supervisor needs to run, watch and restart one container."""

    config: ContainerConfig
    cgroup_paths: dict[str, str]
    restart: str = "no"  # no, always, on-failure[:N], unless-stopped
    health: HealthSpec | None = None
    log_max_size: int = 10 * 1024 * 1024
    log_max_files: int = 3

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SupervisedSpec:
        raw = json.loads(text)
        health = raw.get("health")
        return cls(
            config=ContainerConfig.from_dict(raw["config"]),
            cgroup_paths=dict(raw.get("cgroup_paths", {})),
            restart=raw.get("restart", "no"),
            health=HealthSpec(**{**health, "argv": tuple(health["argv"])}) if health else None,
            log_max_size=raw.get("log_max_size", 10 * 1024 * 1024),
            log_max_files=raw.get("log_max_files", 3),
        )


@dataclass
class ContainerStatus:
    name: str
    state: State = "created"
    pid: int = 0
    pid_start_time: int = 0  # /proc/PID/stat field 22: tells a live PID from a reused one
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    restart_count: int = 0
    health: Health = ""
    health_failing_streak: int = 0
    health_log: list[dict[str, Any]] = field(default_factory=list)
    stopped_by_user: bool = False
    error: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ContainerStatus:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class ContainerDir:
    """Paths of one container's folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def spec_file(self) -> Path:
        return self.path / "spec.json"

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def log_file(self) -> Path:
        return self.path / "json.log"

    def write_spec(self, spec: SupervisedSpec) -> None:
        atomic_write(self.spec_file, spec.to_json())

    def read_spec(self) -> SupervisedSpec:
        return SupervisedSpec.from_json(self.spec_file.read_text())

    def read_status(self) -> ContainerStatus:
        try:
            return ContainerStatus.from_json(json.loads(self.status_file.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return ContainerStatus(name=self.name)

    def write_status(self, status: ContainerStatus) -> None:
        atomic_write(self.status_file, json.dumps(asdict(status), sort_keys=True))


def live_status(cdir: ContainerDir) -> ContainerStatus:
    """The recorded status, corrected when it says running but the process is gone.

    That happens when the process ended and no supervisor was there to record it.
    """
    status = cdir.read_status()
    if status.state == "running" and not is_alive(status):
        status.state = "exited"
    return status


def process_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None  # a zombie has exited already
    return int(fields[19])


def is_alive(status: ContainerStatus) -> bool:
    """True when the recorded PID still runs and is the same process (not a reused PID)."""
    if status.pid <= 0:
        return False
    started = process_start_time(status.pid)
    return started is not None and started == status.pid_start_time
