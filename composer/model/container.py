"""What the host layer needs to start one container, resolved and JSON-serialisable.

The planner turns a service into a :class:`ContainerConfig`; the launcher
(``composer.kernel.process``) turns that into a process.  Nothing here refers to the
project file any more: paths are absolute, units are bytes and seconds, names are
final.  The config is stored in the state store so that the supervisor can start
the container again (restart policies) without reading the project file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MountKind = Literal["bind", "volume", "tmpfs"]


@dataclass(frozen=True)
class MountConfig:
    kind: MountKind
    target: str  # absolute path inside the container
    source: str = ""  # host path for bind and volume; unused for tmpfs
    read_only: bool = False
    tmpfs_size: int | None = None  # bytes
    tmpfs_mode: int | None = None
    create_host_path: bool = True  # bind: create a missing source folder (compose's default)


@dataclass(frozen=True)
class CgroupLimits:
    memory: int | None = None  # bytes (memory.limit_in_bytes / memory.max)
    memory_swap: int | None = None  # bytes of memory+swap as compose's memswap_limit; -1 = unlimited
    memory_reservation: int | None = None  # bytes (soft limit / memory.low)
    cpus: float | None = None  # quota in CPUs (cpu.cfs_quota_us / cpu.max)
    cpu_shares: int | None = None  # v1 shares; converted to cpu.weight on v2
    cpuset: str | None = None  # "0-1"
    pids: int | None = None  # pids.max

    def is_empty(self) -> bool:
        return all(v is None for v in asdict(self).values())


@dataclass(frozen=True)
class Ulimit:
    name: str  # nofile, nproc, core, ... (compose names)
    soft: int
    hard: int


@dataclass(frozen=True)
class ContainerConfig:
    project: str
    service: str
    name: str  # <project>-<service>-<n>
    number: int
    argv: tuple[str, ...]  # entrypoint + command, already resolved with compose rules
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = "/"
    user: str = ""  # "uid[:gid]" or names looked up inside the rootfs; "" = root
    hostname: str = ""
    domainname: str = ""
    rootfs_layers: tuple[str, ...] = ()  # read-only lower dirs, topmost first (overlay lowerdir order)
    state_dir: str = ""  # per-container folder under the state root: upper/, work/, rootfs/, etc/, logs
    read_only: bool = False
    mounts: tuple[MountConfig, ...] = ()
    shm_size: int | None = None  # bytes; default 64 MiB like Docker
    netns_path: str | None = None  # a bind-mounted netns to join; None = the host's network
    cgroup: CgroupLimits = field(default_factory=CgroupLimits)
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    no_new_privileges: bool = True
    seccomp: str = "default"  # "default", "unconfined", or a path to a Docker-format JSON profile
    ulimits: tuple[Ulimit, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    init: bool = False
    stop_signal: int = 15
    stop_grace_period: float = 10.0
    hosts: str = ""  # content of /etc/hosts
    resolv_conf: str = ""  # content of /etc/resolv.conf ("" = copy the host's)
    userns: bool = False  # map container root to an unprivileged host range
    userns_base: int = 100000
    userns_size: int = 65536
    labels: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerConfig:
        values = dict(data)
        values["mounts"] = tuple(MountConfig(**m) for m in values.get("mounts", ()))
        values["cgroup"] = CgroupLimits(**values.get("cgroup", {}))
        values["ulimits"] = tuple(Ulimit(**u) for u in values.get("ulimits", ()))
        for key in ("argv", "rootfs_layers", "cap_add", "cap_drop"):
            values[key] = tuple(values.get(key, ()))
        for key in ("env", "sysctls", "labels"):
            values[key] = tuple(tuple(pair) for pair in values.get(key, ()))
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        return cls.from_dict(json.loads(text))
