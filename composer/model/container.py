"""What the host layer needs to start one container, resolved and JSON-serialisable.

The planner turns a service into a :class:`ContainerConfig`; the launcher
(``composer.kernel.process``) turns that into a process.  Nothing here refers to the
project file any more: paths are absolute, units are bytes and seconds, names are
final.  The config is stored in the state store so that the supervisor can start
the container again (restart policies) without reading the project file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

MountKind = Literal["bind", "volume", "tmpfs", "image"]
# The PATH a container gets when neither its image nor the service sets one (Docker's).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class MountConfig:
    kind: MountKind
    target: str  # absolute path inside the container
    source: str = ""  # host path for bind and volume; unused for tmpfs
    read_only: bool = False
    tmpfs_size: int | None = None  # bytes
    tmpfs_mode: int | None = None
    create_host_path: bool = True  # bind: create a missing source folder (compose's default)
    # volume: an empty volume first gets the image's files at the target (Docker's copy-up; not nocopy)
    seed_from_image: bool = False
    # bind: private, rprivate (Docker's default: later host mounts under the source stay outside),
    # slave or rslave (they appear inside); shared propagation is refused at up
    propagation: str = "rprivate"
    # image: the image's layer folders (top first), mounted read-only; ``subpath`` a folder of it
    layers: tuple[str, ...] = ()
    subpath: str = ""


@dataclass(frozen=True)
class HookConfig:
    """A lifecycle hook (``post_start``, ``pre_stop``): a command exec'ed in the running container."""

    argv: tuple[str, ...]
    user: str = ""  # "" = the container's user
    working_dir: str = ""
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LogConfig:
    """How the supervisor keeps a container's output: composer's JSON-lines file, rotated, or not at all.

    ``driver`` is "json-file" (every driver compose knows but ``none`` maps
    here) or "none" (the output is read and dropped, so the container never
    blocks on a full pipe).  ``max_size`` None means no rotation.
    """

    driver: Literal["json-file", "none"] = "json-file"
    max_size: int | None = 10 * 1024 * 1024
    max_files: int = 3


@dataclass(frozen=True)
class ProjectedFile:
    """A secret or config: a file composer writes in the container's folder, then binds read-only.

    Exactly one of ``source`` (a host file, copied when the container is
    created) and ``content`` (text from the environment or the project file)
    gives the bytes; ``path`` is where the copy goes (below ``state_dir``),
    ``target`` where the container sees it.  uid/gid are the container's
    numbers (shifted into the user namespace's range when it has one).
    """

    path: str
    target: str
    source: str = ""
    content: str | None = None
    uid: int = 0
    gid: int = 0
    mode: int = 0o444


@dataclass(frozen=True)
class DeviceRule:
    """One device cgroup rule in Docker's syntax: ``c 1:3 rwm``, ``b *:* m``, ``a``."""

    kind: Literal["a", "b", "c"]
    major: int | None = None  # None: any (*)
    minor: int | None = None
    access: str = "rwm"  # r read, w write, m mknod

    @classmethod
    def parse(cls, text: str) -> DeviceRule:
        """``c 10:200 rwm`` (or ``a``); ValueError with the form expected."""
        parts = text.split()
        if not parts or parts[0] not in ("a", "b", "c") or len(parts) > 3:
            raise ValueError(f"invalid device cgroup rule {text!r}: expected 'c|b|a MAJOR:MINOR rwm'")
        kind = parts[0]
        major = minor = None
        if len(parts) >= 2:
            numbers = parts[1].split(":")
            if len(numbers) != 2:
                raise ValueError(f"invalid device cgroup rule {text!r}: expected MAJOR:MINOR, e.g. 10:200")
            major, minor = (_device_number(n, text) for n in numbers)
        access = parts[2] if len(parts) == 3 else "rwm"
        if not access or set(access) - set("rwm"):
            raise ValueError(f"invalid device cgroup rule {text!r}: the access is a mix of r, w and m")
        return cls(kind, major, minor, "".join(sorted(set(access), key="rwm".index)))  # type: ignore[arg-type]

    def text(self) -> str:
        if self.kind == "a":
            return "a"
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.kind} {major}:{minor} {self.access}"


def _device_number(text: str, rule: str) -> int | None:
    if text == "*":
        return None
    if not text.isdigit():
        raise ValueError(f"invalid device cgroup rule {rule!r}: {text!r} is not a number or *")
    return int(text)


# Docker's default allow-list (moby oci/defaults.go, runc's AllowedDevices): mknod of anything,
# and read/write of the null, zero, full, random, urandom, tty, console, ptmx and pts nodes and tun.
DEFAULT_DEVICE_RULES = tuple(
    DeviceRule.parse(rule)
    for rule in (
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
    )
)  # fmt: skip


@dataclass(frozen=True)
class DeviceMapping:
    """``devices: [/dev/net/tun:/dev/net/tun:rwm]``: a host device node made in the container."""

    source: str  # the host's node
    target: str  # where it appears in the container
    permissions: str = "rwm"


@dataclass(frozen=True)
class CgroupLimits:
    memory: int | None = None  # bytes (memory.limit_in_bytes / memory.max)
    memory_swap: int | None = None  # bytes of memory+swap as compose's memswap_limit; -1 = unlimited
    memory_reservation: int | None = None  # bytes (soft limit / memory.low)
    cpus: float | None = None  # quota in CPUs (cpu.cfs_quota_us / cpu.max)
    cpu_shares: int | None = None  # v1 shares; converted to cpu.weight on v2
    cpuset: str | None = None  # "0-1"
    pids: int | None = None  # pids.max
    memory_swappiness: int | None = None  # 0-100, v1 memory.swappiness; cgroup v2 has no such file
    oom_kill_disable: bool | None = None  # True or unset, v1 memory.oom_control; cgroup v2 has none
    blkio_weight: int | None = None  # 10-1000: blkio.weight / io.weight where the kernel weighs I/O
    # (setting, device path, value): setting is weight, read_bps, write_bps, read_iops or write_iops
    blkio_devices: tuple[tuple[str, str, int], ...] | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CgroupLimits:
        devices = values.get("blkio_devices")
        fixed = {"blkio_devices": tuple(tuple(d) for d in devices)} if devices is not None else {}
        return cls(**{**values, **fixed})

    def is_empty(self) -> bool:
        return all(v is None for v in asdict(self).values())


# The compose key of each limit field, as messages name it (the user's words, not ours); a service
# that set one through its deploy twin is named by that (composer.model.build.limit_keys).
LIMIT_KEYS = {
    "memory": "mem_limit",
    "memory_swap": "memswap_limit",
    "memory_reservation": "mem_reservation",
    "cpus": "cpus",
    "cpu_shares": "cpu_shares",
    "cpuset": "cpuset",
    "pids": "pids_limit",
    "memory_swappiness": "mem_swappiness",
    "oom_kill_disable": "oom_kill_disable",
    "blkio_weight": "blkio_config.weight",
    "blkio_devices": "blkio_config",  # named by its one list when only one is used (limit_keys)
}

# The limits only cgroup v1 has (field -> compose key).  cgroup v2 has no swappiness per cgroup and
# no switch for the OOM killer; Docker discards both there with a warning, and so does composer.
V1_ONLY_LIMITS = {name: LIMIT_KEYS[name] for name in ("memory_swappiness", "oom_kill_disable")}


def cgroup_v2_ignored(by_service: Mapping[str, CgroupLimits]) -> str | None:
    """The one warning naming each service's v1-only keys that a cgroup v2 host ignores, or None."""
    ignored = [
        f"services.{service}.{key}"
        for service in sorted(by_service)
        for name, key in V1_ONLY_LIMITS.items()
        if getattr(by_service[service], name) is not None
    ]
    if not ignored:
        return None
    return (
        f"ignored: {', '.join(ignored)}: this host runs cgroup v2 and the cgroup v2 kernel has no such"
        " setting (no per-cgroup swappiness, no switch for the OOM killer); the containers run without it,"
        " as with Docker"
    )


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
    host_namespaces: tuple[str, ...] = ()  # of "cgroup", "ipc", "pid", "uts": not unshared (pid: host...)
    # (kind, container): the "ipc" or "pid" namespace of another container of the project is joined
    # (pid: service:NAME); the supervisor finds that container's process when this one starts.
    joins: tuple[tuple[str, str], ...] = ()
    # A tmpfs made outside the container (in its folder) and bound at /dev/shm, for the containers that
    # share it: the owner of an ipc namespace another one joins, and that one (POSIX shm, as Docker).
    shm_path: str | None = None
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
    dns_search: tuple[str, ...] = ()  # resolv.conf `search` (replaces the copied one)
    dns_options: tuple[str, ...] = ()  # resolv.conf `options` (replace the copied ones)
    oom_score_adj: int | None = None
    group_add: tuple[str, ...] = ()  # supplementary groups (names looked up in the container)
    stdin_open: bool = False  # stdin: a FIFO in state_dir, open for writing too, so reads wait (docker -i)
    tty: bool = False  # stdio is a pseudo-terminal whose output the supervisor logs (docker -t)
    userns: bool = False  # map container root to an unprivileged host range
    userns_base: int = 100000
    userns_size: int = 65536
    labels: tuple[tuple[str, str], ...] = ()
    devices: tuple[DeviceMapping, ...] = ()
    device_rules: tuple[DeviceRule, ...] = ()  # device_cgroup_rules: added to Docker's defaults
    projected_files: tuple[ProjectedFile, ...] = ()  # secrets, configs: written, then bound
    logging: LogConfig = field(default_factory=LogConfig)
    post_start: tuple[HookConfig, ...] = ()  # run after the container started; a failure stops it
    pre_stop: tuple[HookConfig, ...] = ()  # run before composer stops it (not before a crash)

    @property
    def files(self) -> ContainerFiles:
        """The names inside this container's folder (``state_dir``)."""
        return ContainerFiles(Path(self.state_dir))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerConfig:
        values = dict(data)
        values["mounts"] = tuple(
            MountConfig(**{**m, "layers": tuple(m.get("layers", ()))}) for m in values.get("mounts", ())
        )
        values["cgroup"] = CgroupLimits.from_dict(values.get("cgroup", {}))
        values["ulimits"] = tuple(Ulimit(**u) for u in values.get("ulimits", ()))
        values["devices"] = tuple(DeviceMapping(**d) for d in values.get("devices", ()))
        values["device_rules"] = tuple(DeviceRule(**r) for r in values.get("device_rules", ()))
        values["projected_files"] = tuple(ProjectedFile(**f) for f in values.get("projected_files", ()))
        values["logging"] = LogConfig(**values.get("logging", {}))
        for key in ("post_start", "pre_stop"):
            values[key] = tuple(
                HookConfig(tuple(h["argv"]), h["user"], h["working_dir"], tuple(tuple(e) for e in h["env"]))
                for h in values.get(key, ())
            )
        for key in (
            "argv", "rootfs_layers", "cap_add", "cap_drop", "dns_search", "dns_options", "group_add",
            "host_namespaces",
        ):  # fmt: skip
            values[key] = tuple(values.get(key, ()))
        for key in ("env", "sysctls", "labels", "joins"):
            values[key] = tuple(tuple(pair) for pair in values.get(key, ()))
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class ContainerFiles:
    """The names inside one container's folder (``ContainerConfig.state_dir``), kept in one place.

    The launcher mounts ``rootfs`` from ``upper``/``work``, binds the files of
    ``etc``, and hands the command the two log FIFOs; the supervisor drains those
    into ``log`` and writes ``status``; commands write ``supervised`` (what the
    supervisor runs).
    """

    folder: Path

    @property
    def rootfs(self) -> Path:
        return self.folder / "rootfs"

    @property
    def upper(self) -> Path:
        return self.folder / "upper"

    @property
    def work(self) -> Path:
        return self.folder / "work"

    @property
    def etc(self) -> Path:
        return self.folder / "etc"

    @property
    def hosts(self) -> Path:
        return self.etc / "hosts"

    @property
    def created_folders(self) -> tuple[Path, ...]:
        """What the launcher makes before forking: the overlay's mount point, upper and work."""
        return (self.rootfs, self.upper, self.work)

    @property
    def fifos(self) -> Path:
        """The folder of the log FIFOs: root's alone (0700), so their own mode does not matter."""
        return self.folder / "fifos"

    @property
    def paused(self) -> Path:
        """Present while ``composer pause`` holds the container frozen."""
        return self.folder / "paused"

    @property
    def stdout_fifo(self) -> Path:
        return self.fifos / "stdout.fifo"

    @property
    def stderr_fifo(self) -> Path:
        return self.fifos / "stderr.fifo"

    @property
    def legacy_fifos(self) -> tuple[Path, Path]:
        """Where composer 0.1 made them (a running container of that version still writes there)."""
        return (self.folder / "stdout.fifo", self.folder / "stderr.fifo")

    @property
    def log(self) -> Path:
        return self.folder / "json.log"

    @property
    def supervised(self) -> Path:
        return self.folder / "supervised.json"

    @property
    def legacy_supervised(self) -> Path:
        """Where composer 0.1 wrote the same description (read when ``supervised`` is missing)."""
        return self.folder / "spec.json"

    @property
    def status(self) -> Path:
        return self.folder / "status.json"

    @property
    def stdin_fifo(self) -> Path:
        """The container's stdin with ``stdin_open`` (what ``attach`` would write to)."""
        return self.folder / "stdin.fifo"

    @property
    def hooks_log(self) -> Path:
        """The output of the container's lifecycle hooks (plain text, appended)."""
        return self.folder / "hooks.log"

    def projected(self, kind: str, name: str) -> Path:
        """The copy of a secret (``kind`` "secrets") or config ("configs"), bound into the container."""
        return self.folder / kind / name

    def anonymous_volume(self, target: str) -> Path:
        """The folder of an anonymous volume mounted at ``target``."""
        return self.folder / "anon" / (target.strip("/").replace("/", "_") or "root")
