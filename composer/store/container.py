"""A container's folder: what the commands and the project's supervisor share about one container.

Commands write ``supervised.json`` (:class:`SupervisedContainer`: what to run
and how to watch it) before asking the supervisor to start the container; the
supervisor alone writes ``status.json`` (:class:`ContainerStatus`: pid, state,
exit code, health), each time atomically, and any command may read it.  The
names of the files are :class:`composer.model.container.ContainerFiles`'.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from composer.model.container import ContainerConfig, ContainerFiles
from composer.model.health import HealthCheck
from composer.store.files import atomic_write

State = Literal["created", "running", "restarting", "paused", "exited", "dead"]
Health = Literal["", "starting", "healthy", "unhealthy"]
SUPERVISED_VERSION = 2
LOG_MAX_SIZE = 10 * 1024 * 1024
LOG_MAX_FILES = 3
PROC = Path("/proc")  # the pid namespace of whoever reads: the one the supervisor recorded PIDs in


@dataclass(frozen=True)
class SupervisedContainer:
    """What the supervisor needs to run, watch and restart one container."""

    config: ContainerConfig
    cgroup_paths: dict[str, str]
    restart: str = "no"  # no, always, on-failure[:N], unless-stopped
    health: HealthCheck | None = None
    log_max_size: int = LOG_MAX_SIZE
    log_max_files: int = LOG_MAX_FILES

    def to_json(self) -> str:
        return json.dumps({"version": SUPERVISED_VERSION, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SupervisedContainer:
        raw = json.loads(text)
        health = raw.get("health")
        return cls(
            config=ContainerConfig.from_dict(raw["config"]),
            cgroup_paths=dict(raw.get("cgroup_paths", {})),
            restart=raw.get("restart", "no"),
            health=HealthCheck(**{**health, "argv": tuple(health["argv"])}) if health else None,
            log_max_size=raw.get("log_max_size", LOG_MAX_SIZE),
            log_max_files=raw.get("log_max_files", LOG_MAX_FILES),
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


class ContainerFolder:
    """Reading and writing one container's folder."""

    def __init__(self, files: ContainerFiles) -> None:
        self.files = files

    @property
    def name(self) -> str:
        return self.files.folder.name

    def write_supervised(self, supervised: SupervisedContainer) -> None:
        atomic_write(self.files.supervised, supervised.to_json())

    def read_supervised(self) -> SupervisedContainer:
        """The description; composer 0.1's ``spec.json`` when the folder predates it."""
        path = self.files.supervised
        if not path.exists() and self.files.legacy_supervised.exists():
            path = self.files.legacy_supervised
        return SupervisedContainer.from_json(path.read_text())

    def has_supervised(self) -> bool:
        return self.files.supervised.exists() or self.files.legacy_supervised.exists()

    def read_status(self) -> ContainerStatus:
        try:
            return ContainerStatus.from_json(json.loads(self.files.status.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return ContainerStatus(name=self.name)

    def write_status(self, status: ContainerStatus) -> None:
        atomic_write(self.files.status, json.dumps(asdict(status), sort_keys=True))


def live_status(folder: ContainerFolder, proc: Path | None = PROC) -> ContainerStatus:
    """The recorded status, corrected when it says running but the process is gone.

    That happens when the process ended and no supervisor was there to record it.  A running
    container that ``pause`` froze shows as paused (the supervisor does not know of pauses).
    ``proc`` is the procfs of the pid namespace the supervisor recorded the PID in (a rootless
    project's own, seen from outside through its keeper); None: that namespace is gone, and
    every process that was in it with it.
    """
    status = folder.read_status()
    if status.state == "running" and (proc is None or not is_alive(status, proc)):
        status.state = "exited"
    elif status.state == "running" and folder.files.paused.exists():
        status.state = "paused"
    return status


def process_start_time(pid: int, proc: Path = PROC) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None when it does not exist."""
    try:
        with open(proc / str(pid) / "stat", "rb") as handle:
            raw = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None  # a zombie has exited already
    return int(fields[19])


def is_alive(status: ContainerStatus, proc: Path = PROC) -> bool:
    """True when the recorded PID still runs and is the same process (not a reused PID)."""
    if status.pid <= 0:
        return False
    started = process_start_time(status.pid, proc)
    return started is not None and started == status.pid_start_time
