"""A service and its parts: ports, volumes (mounts), healthcheck, deploy, depends_on, ulimits, routes ...

``ServiceSpec`` is one entry of ``services:`` as the rest of composer reads it;
field names are compose's.  The parts are small models of their own, each
with the converter of its short syntax next to it:

* ``ports``: ``[HOST_IP:][HOST_PORT[-END]:]PORT[-END][/PROTOCOL]`` -> one
  ``PortSpec`` per container port; a host range for a single container port
  stays text (a free port is picked from it).
* ``volumes``: ``SOURCE:TARGET[:MODE]`` -> ``ServiceVolumeSpec``; a source
  that looks like a path (``/``, ``.``, ``~``) is a bind mount, made absolute
  against the project directory (``base.absolute_path``), else a volume name.
* ``healthcheck``: ``disable: true`` and a string test become the list forms
  of ``composer.model.health``, which also checks them (the one test rule).
* ``restart``: stays compose's text, normalised through
  ``composer.model.restart.RestartPolicy`` (``restart_policy`` gives the
  value); ``restart: false`` (YAML 1.1's ``no``) is ``"no"``.
* ``deploy``: the parts a single host can honour; ``scale``, ``mem_limit``,
  ``cpus``, ``pids_limit`` win over their ``deploy`` twins (compose's
  precedence, in the ``replicas``/``memory_limit``/... properties).
* ``networks``: the order of the mapping is the order of the interfaces
  (eth0, eth1, ...).

Sizes are int bytes (``memswap_limit`` keeps -1, "unlimited"), durations
float seconds.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from composer.project.models.base import (
    AbsPath,
    BytesInput,
    EnvMap,
    ListOfStr,
    OptBytes,
    OptFileMode,
    OptFloat,
    OptSeconds,
    Seconds,
    StringOrList,
    StrMap,
    _Model,
    absolute_path,
    scalar_text,
    to_bytes,
    to_list,
    to_name_map,
)
from composer.project.models.links import Impairments
from composer.project.models.runtime import (
    DevelopSpec,
    DeviceRequestSpec,
    HookSpec,
    LoggingSpec,
    ProviderSpec,
    ReservedDeviceSpec,
    ServiceModelSpec,
)
from composer.project.models.secret_config import ServiceSecretSpec

if TYPE_CHECKING:  # imported where used: a file without healthcheck or restart never loads them
    from composer.model.restart import RestartPolicy

# --------------------------------------------------------------------------- service-only converters


def _to_command(raw: object) -> object:
    """A string command is split like a POSIX shell would; a list is kept as is."""
    if isinstance(raw, str):
        try:
            return shlex.split(raw)
        except ValueError as error:
            raise ValueError(f"cannot split the command like a shell would: {error}") from None
    if isinstance(raw, list):
        return [scalar_text(item) if isinstance(item, int | float) else item for item in raw]
    return raw


def _to_bytes_or_unlimited(raw: object) -> object:
    """Like sizes, but -1 (compose's "unlimited") is kept."""
    if raw == -1 or raw == "-1":
        return -1
    return to_bytes(raw)


def _to_extra_hosts(raw: object) -> object:
    """``["host:1.2.3.4", "h=::1"]`` or ``{host: ip}`` -> ``[("host", "1.2.3.4"), ...]``."""
    items: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, list):
        for entry in raw:
            if not isinstance(entry, str):
                raise ValueError(f"entries must be HOST:IP or HOST=IP strings, got {entry!r}")
            sep = "=" if "=" in entry else ":"
            host, found, address = entry.partition(sep)
            if not found:
                raise ValueError(f"entry {entry!r} must be HOST:IP or HOST=IP")
            items.append((host, address))
    else:
        return raw
    # Compose allows several addresses for a host as a list.
    pairs: list[tuple[str, str]] = []
    for host, value in items:
        for address in value if isinstance(value, list) else [value]:
            pairs.append((host, str(address).strip("[]")))
    return pairs


OptBytesOrUnlimited = Annotated[
    int | None, BeforeValidator(_to_bytes_or_unlimited, json_schema_input_type=BytesInput | None)
]
Command = Annotated[
    list[str] | None, BeforeValidator(_to_command, json_schema_input_type=StringOrList | None)
]


# --------------------------------------------------------------------------- service parts


class DependsOnSpec(_Model):
    """One dependency: start after ``service`` reaches ``condition``."""

    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = (
        "service_started"
    )
    required: bool = True
    restart: bool = False


def _to_healthcheck(raw: object) -> object:
    """``disable: true`` becomes ``test: [NONE]``; a string test becomes ``[CMD-SHELL, test]``."""
    if not isinstance(raw, dict):
        return raw
    data = dict(raw)
    if data.pop("disable", False) is True:
        return {"test": ["NONE"]}
    test = data.get("test")
    if isinstance(test, str):
        from composer.model.health import as_test_list

        data["test"] = as_test_list(test)
    return data


def _check_test(raw: object) -> object:
    """The test must be one ``health_argv`` can run (its ValueError names the problem)."""
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        from composer.model.health import health_argv

        health_argv(raw)
    return raw


class HealthcheckSpec(_Model):
    """``test[0]`` is CMD, CMD-SHELL or NONE (disabled); an empty test keeps the image's own."""

    test: Annotated[list[str], BeforeValidator(_check_test)] = []
    interval: Seconds = 30.0
    timeout: Seconds = 30.0
    retries: int = Field(default=3, ge=0)
    start_period: Seconds = 0.0
    start_interval: Seconds = 5.0

    @property
    def disabled(self) -> bool:
        return bool(self.test) and self.test[0] == "NONE"


class ServiceNetworkSpec(Impairments):
    """How a service joins one network; the order of the service's networks is eth0, eth1, ...

    A lab extension: the impairments of links (``rate``, ``delay``, ``loss``, ...)
    act on what the container sends on this network, and change in place.
    """

    ipv4_address: str | None = None
    ipv6_address: str | None = None
    aliases: list[str] = []
    interface_name: str | None = None
    mac_address: str | None = None
    priority: int = 0
    gw_priority: int = 0
    link_local_ips: list[str] = []
    driver_opts: StrMap = {}


def _port_range(text: str) -> tuple[int, int]:
    start, _, end = text.partition("-")
    low, high = int(start), int(end or start)
    if not (0 < low <= high <= 65535):
        raise ValueError(f"invalid port or range {text!r}: ports are 1-65535, ranges low-high")
    return low, high


def _parse_short_port(raw: str) -> list[dict[str, Any]]:
    """``[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]`` -> one dict per container port."""
    spec, _, protocol = raw.partition("/")
    host_ip = ""
    if spec.startswith("["):  # [::1]:8080:80
        host_ip, _, spec = spec[1:].partition("]")
        spec = spec.lstrip(":")
    parts = spec.rsplit(":", 2) if not host_ip else spec.split(":")
    if len(parts) == 3:
        host_ip, published, target = parts
    elif len(parts) == 2:
        published, target = parts
    else:
        published, target = "", parts[0]
    try:
        low, high = _port_range(target)
        host = _port_range(published) if published else None
    except ValueError as error:
        if "invalid port" in str(error):
            raise
        raise ValueError(
            f"invalid port mapping {raw!r}: expected [HOST_IP:][HOST_PORT:]PORT[/PROTOCOL]"
        ) from None
    count = high - low + 1
    if host is not None and host[1] - host[0] + 1 not in (1, count) and count != 1:
        raise ValueError(f"invalid port mapping {raw!r}: host and container ranges differ in length")
    entries = []
    for index in range(count):
        if host is None:
            pub: str | None = None
        elif count == 1:  # one container port, maybe a host range to pick from: keep it as text
            pub = published
        else:
            pub = str(host[0] + index)
        entries.append(
            {"target": low + index, "published": pub, "host_ip": host_ip, "protocol": protocol or "tcp"}
        )
    return entries


def _to_ports(raw: object) -> object:
    if not isinstance(raw, list):
        return raw
    result: list[object] = []
    for item in raw:
        if isinstance(item, int) and not isinstance(item, bool):
            result.append({"target": item})
        elif isinstance(item, str):
            try:
                result.extend(_parse_short_port(item))
            except ValueError as error:  # name the entry: the error is reported on the whole list
                raise ValueError(f"entry {len(result)} {item!r}: {error}") from None
        else:
            result.append(item)
    return _without_repeats(result)


def _without_repeats(items: list[object]) -> list[object]:
    """Identical entries once (compose-go keeps one of ``- 80:80`` written twice)."""
    unique: list[object] = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return unique


class PortSpec(_Model):
    """One published (or merely declared) container port; ``host_ip`` "" means every address."""

    target: int = Field(ge=1, le=65535)
    published: str | None = None  # "8080", or a range "8000-8010" to pick a free port from
    host_ip: str = ""
    protocol: Literal["tcp", "udp"] = "tcp"
    mode: Literal["ingress", "host"] = "ingress"
    app_protocol: str | None = None
    name: str | None = None

    @property
    def published_range(self) -> tuple[int, int] | None:
        """The host port(s) as a (first, last) range, or None when Docker would pick one."""
        return _port_range(self.published) if self.published else None


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or source in (".", "..")


def _parse_short_volume(raw: str) -> dict[str, object]:
    """``SOURCE:TARGET[:MODE]`` or ``TARGET`` (an anonymous volume)."""
    parts = raw.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    if len(parts) > 3:
        raise ValueError(f"invalid volume {raw!r}: expected SOURCE:TARGET[:MODE]")
    source, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else []
    unknown = [
        m
        for m in modes
        if m
        not in ("ro", "rw", "z", "Z", "nocopy", "rprivate", "private", "rslave", "slave", "rshared", "shared")
    ]
    if unknown:
        raise ValueError(f"invalid volume mode {unknown[0]!r} in {raw!r}: use ro or rw")
    kind = "bind" if _looks_like_path(source) else "volume"
    entry: dict[str, object] = {"type": kind, "source": source, "target": target, "read_only": "ro" in modes}
    propagation = [m for m in modes if m in _PROPAGATION]
    selinux = [m for m in modes if m in ("z", "Z")]
    if kind == "bind" and (propagation or selinux):  # kept, so that up can refuse what it does not do
        entry["bind"] = {
            "create_host_path": True,
            **({"propagation": propagation[-1]} if propagation else {}),
            **({"selinux": selinux[-1]} if selinux else {}),
        }
    if kind == "volume" and "nocopy" in modes:
        entry["volume"] = {"nocopy": True}
    return entry


_PROPAGATION = ("rprivate", "private", "rslave", "slave", "rshared", "shared")


class BindOptions(_Model):
    create_host_path: bool = True
    propagation: str | None = None
    selinux: str | None = None


class VolumeOptions(_Model):
    nocopy: bool = False
    subpath: str | None = None
    labels: StrMap = {}

    @model_validator(mode="after")
    def _inside(self) -> VolumeOptions:
        if self.subpath and ".." in self.subpath.split("/"):
            raise ValueError(f"subpath {self.subpath!r} must stay inside the volume (no `..`)")
        return self


class ImageOptions(_Model):
    subpath: str | None = None


class TmpfsOptions(_Model):
    size: OptBytes = None
    mode: OptFileMode = None


class ServiceVolumeSpec(_Model):
    """A mount in a container; for ``bind`` the source is an absolute host path."""

    type: Literal["bind", "volume", "tmpfs", "image", "npipe", "cluster"]
    source: str | None = None  # volume name, host path (bind), None for tmpfs and anonymous volumes
    target: str
    read_only: bool = False
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image: ImageOptions | None = None
    consistency: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_syntax(cls, data: Any) -> Any:
        return _parse_short_volume(data) if isinstance(data, str) else data

    @model_validator(mode="after")
    def _absolute_bind(self, info: ValidationInfo) -> ServiceVolumeSpec:
        if self.type in ("bind", "image") and not self.source:
            raise ValueError(f"a {self.type} mount needs a `source`")
        if self.type == "bind" and self.source:
            object.__setattr__(self, "source", absolute_path(self.source, info))
        if not self.target.startswith("/"):
            raise ValueError(f"the mount target {self.target!r} must be an absolute path in the container")
        return self


class BlkioWeightDevice(_Model):
    path: str
    weight: int = Field(ge=10, le=1000)


class BlkioRate(_Model):
    """A byte rate (``12mb``, ``1048576``) of ``device_read_bps``/``device_write_bps``."""

    path: str
    rate: Annotated[int, BeforeValidator(to_bytes, json_schema_input_type=BytesInput), Field(ge=0)]


class BlkioIops(_Model):
    path: str
    rate: int = Field(ge=0)


class BlkioSpec(_Model):
    """``blkio_config``: block I/O weights and per-device throttles (cgroup blkio / io)."""

    weight: int | None = Field(default=None, ge=10, le=1000)
    weight_device: list[BlkioWeightDevice] = []
    device_read_bps: list[BlkioRate] = []
    device_write_bps: list[BlkioRate] = []
    device_read_iops: list[BlkioIops] = []
    device_write_iops: list[BlkioIops] = []


class UlimitSpec(_Model):
    soft: int
    hard: int

    @model_validator(mode="before")
    @classmethod
    def _single_value(cls, data: Any) -> Any:
        if isinstance(data, int | str) and not isinstance(data, bool):
            return {"soft": data, "hard": data}
        return data

    @model_validator(mode="after")
    def _soft_below_hard(self) -> UlimitSpec:
        if self.soft > self.hard and self.hard != -1:
            raise ValueError(f"soft limit {self.soft} is above the hard limit {self.hard}")
        return self


def _to_route(raw: object) -> object:
    """``"10.0.3.0/24 via 10.0.1.2"`` -> ``{to: ..., via: ...}``."""
    if isinstance(raw, str):
        words = raw.split()
        if len(words) != 3 or words[1] != "via":
            raise ValueError(f"invalid route {raw!r}: expected 'DESTINATION via GATEWAY' or {{to:, via:}}")
        return {"to": words[0], "via": words[2]}
    return raw


class RouteSpec(_Model):
    """A static route inside the container: ``to`` a prefix (or ``default``) ``via`` a gateway."""

    to: str
    via: str


def _to_device(raw: object) -> object:
    """``/dev/net/tun``, ``/dev/sda:/dev/xvda``, ``/dev/sda:/dev/xvda:r`` (compose-go's short form)."""
    if not isinstance(raw, str):
        return raw
    parts = raw.split(":")
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"invalid device {raw!r}: expected SOURCE[:TARGET[:PERMISSIONS]]")
    if len(parts) == 2 and set(parts[1]) <= set("rwm") and not parts[1].startswith("/"):
        parts = [parts[0], parts[0], parts[1]]  # /dev/x:rwm
    source = parts[0]
    target = parts[1] if len(parts) > 1 else source
    permissions = parts[2] if len(parts) > 2 else "rwm"
    return {"source": source, "target": target, "permissions": permissions}


class DeviceSpec(_Model):
    """A host device node made in the container (``devices:``)."""

    source: str
    target: str
    permissions: str = Field(default="rwm", pattern=r"^[rwm]{1,3}$")

    @model_validator(mode="before")
    @classmethod
    def _target_defaults_to_source(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("target") and data.get("source"):
            return {**data, "target": data["source"]}
        return data


def _check_device_rule(raw: object) -> object:
    if isinstance(raw, str):
        from composer.model.container import DeviceRule

        DeviceRule.parse(raw)  # ValueError names the form expected
    return raw


class ResourceLimitsSpec(_Model):
    cpus: OptFloat = None
    memory: OptBytes = None
    pids: int | None = None


class ResourceReservationsSpec(_Model):
    cpus: OptFloat = None
    memory: OptBytes = None
    devices: list[ReservedDeviceSpec] | None = None
    generic_resources: list[dict[str, Any]] | None = None


class ResourcesSpec(_Model):
    limits: ResourceLimitsSpec | None = None
    reservations: ResourceReservationsSpec | None = None


class RestartPolicySpec(_Model):
    condition: Literal["none", "on-failure", "any"] = "any"
    delay: OptSeconds = None
    max_attempts: int | None = None
    window: OptSeconds = None


class DeploySpec(_Model):
    """The parts of ``deploy`` a single host can honour; swarm-only keys are accepted and ignored."""

    mode: Literal["replicated", "global"] = "replicated"
    replicas: int | None = Field(default=None, ge=0)
    resources: ResourcesSpec | None = None
    restart_policy: RestartPolicySpec | None = None
    labels: StrMap = {}
    endpoint_mode: str | None = None
    placement: dict[str, Any] | None = None
    update_config: dict[str, Any] | None = None
    rollback_config: dict[str, Any] | None = None


class EnvFileSpec(_Model):
    path: str
    required: bool = True
    format: Literal["raw"] | None = None


def _to_env_files(raw: object) -> object:
    items = to_list(raw)
    if isinstance(items, list):
        return [{"path": item} if isinstance(item, str) else item for item in items]
    return items


def _to_gpus(raw: object) -> object:
    """``gpus: all`` is one request for every GPU."""
    if raw == "all":
        return [{"count": "all", "capabilities": ["gpu"]}]
    return raw


_PULL_POLICIES = ("always", "never", "missing", "if_not_present", "build", "daily", "weekly", "refresh")


def _check_pull_policy(raw: object) -> object:
    """Compose's policies, plus ``every_<duration>`` (``every_2d``, ``every_12h``)."""
    if not isinstance(raw, str):
        return raw
    if raw in _PULL_POLICIES:
        return raw
    if raw.startswith("every_"):
        from composer.model.units import parse_duration

        text = raw.removeprefix("every_")
        days = text.endswith("d") and text[:-1].isdigit()
        try:
            if not days:
                parse_duration(text)
            return raw
        except ValueError:
            pass
    choices = ", ".join(_PULL_POLICIES)
    raise ValueError(f"unknown pull_policy {raw!r}: use one of {choices} or every_DURATION (every_2d)")


def _to_group(raw: object) -> object:
    if isinstance(raw, list):
        return [str(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in raw]
    return raw


def _to_models(raw: object) -> object:
    return to_name_map(raw)


def _to_restart(raw: object) -> object:
    """Compose's text, checked and normalised by ``RestartPolicy`` (``on-failure:0`` is ``on-failure``)."""
    if raw is False:  # YAML 1.1 habit: restart: no
        return "no"
    if not isinstance(raw, str):
        return raw
    from composer.model.restart import RestartPolicy

    return str(RestartPolicy.parse(raw))


class ServiceSpec(_Model):
    """One service as the rest of composer reads it.  Field names are compose's."""

    image: str | None = None
    rootfs: AbsPath | None = None  # composer's own: a folder or a .tar/.tar.gz, relative to the project
    command: Command = None
    entrypoint: Command = None
    environment: EnvMap = {}
    env_file: Annotated[
        list[EnvFileSpec], BeforeValidator(_to_env_files, json_schema_input_type=StringOrList | list[Any])
    ] = []
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    container_name: str | None = None
    labels: StrMap = {}
    depends_on: Annotated[
        dict[str, DependsOnSpec],
        BeforeValidator(to_name_map, json_schema_input_type=list[str] | dict[str, DependsOnSpec | None]),
    ] = {}
    healthcheck: Annotated[HealthcheckSpec | None, BeforeValidator(_to_healthcheck)] = None
    restart: Annotated[str, BeforeValidator(_to_restart)] = "no"
    stop_signal: str | None = None
    stop_grace_period: Seconds = 10.0
    init: bool | None = None
    read_only: bool = False
    tty: bool = False
    stdin_open: bool = False
    tmpfs: ListOfStr = []
    volumes: list[ServiceVolumeSpec] = []
    networks: Annotated[
        dict[str, ServiceNetworkSpec],
        BeforeValidator(to_name_map, json_schema_input_type=list[str] | dict[str, ServiceNetworkSpec | None]),
    ] = {}
    network_mode: str | None = None
    ports: Annotated[
        list[PortSpec], BeforeValidator(_to_ports, json_schema_input_type=list[int | str | PortSpec])
    ] = []
    expose: Annotated[list[str], BeforeValidator(to_list, json_schema_input_type=list[str | int])] = []
    extra_hosts: Annotated[
        list[tuple[str, str]],
        BeforeValidator(_to_extra_hosts, json_schema_input_type=list[str] | dict[str, str | list[str]]),
    ] = []
    dns: ListOfStr = []
    dns_search: ListOfStr = []
    sysctls: StrMap = {}
    ulimits: dict[str, UlimitSpec] = {}
    cap_add: list[str] = []
    cap_drop: list[str] = []
    privileged: bool = False
    devices: list[
        Annotated[DeviceSpec, BeforeValidator(_to_device, json_schema_input_type=str | DeviceSpec)]
    ] = []
    device_cgroup_rules: list[Annotated[str, BeforeValidator(_check_device_rule)]] = []
    security_opt: list[str] = []
    pids_limit: int | None = None
    mem_limit: OptBytes = None
    memswap_limit: OptBytesOrUnlimited = None
    mem_reservation: OptBytes = None
    cpus: OptFloat = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    shm_size: OptBytes = None
    deploy: DeploySpec | None = None
    scale: int | None = Field(default=None, ge=0)
    profiles: list[str] = []
    pull_policy: Annotated[str, BeforeValidator(_check_pull_policy)] = "missing"
    userns_mode: str | None = None
    build: str | dict[str, Any] | None = None  # read by composer.images.builder.compose
    secrets: list[ServiceSecretSpec] = []
    configs: list[ServiceSecretSpec] = []
    logging: LoggingSpec | None = None
    post_start: list[HookSpec] = []
    pre_stop: list[HookSpec] = []
    pre_start: list[HookSpec] = []
    develop: DevelopSpec | None = None
    platform: str | None = None
    runtime: str | None = None
    gpus: Annotated[
        list[DeviceRequestSpec], BeforeValidator(_to_gpus, json_schema_input_type=Literal["all"] | list[Any])
    ] = []
    volumes_from: list[str] = []
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    cgroup: Literal["host", "private"] | None = None
    cgroup_parent: str | None = None
    mac_address: str | None = None
    dns_opt: list[str] = []
    links: list[str] = []
    external_links: list[str] = []
    annotations: StrMap = {}
    models: Annotated[
        dict[str, ServiceModelSpec],
        BeforeValidator(_to_models, json_schema_input_type=list[str] | dict[str, ServiceModelSpec | None]),
    ] = {}
    provider: ProviderSpec | None = None
    storage_opt: StrMap = {}
    oom_score_adj: int | None = Field(default=None, ge=-1000, le=1000)
    oom_kill_disable: bool | None = None
    group_add: Annotated[list[str], BeforeValidator(_to_group, json_schema_input_type=list[str | int])] = []
    label_file: ListOfStr = []
    attach: bool = True
    isolation: str | None = None
    mem_swappiness: int | None = Field(default=None, ge=0, le=100)
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpu_rt_period: int | None = None
    cpu_rt_runtime: int | None = None
    cpu_count: int | None = None
    cpu_percent: float | None = None
    blkio_config: BlkioSpec | None = None
    host: str | None = None  # composer's own: which of the top-level ``hosts`` runs it
    routes: list[
        Annotated[RouteSpec, BeforeValidator(_to_route, json_schema_input_type=str | dict[str, str])]
    ] = []

    @property
    def replicas(self) -> int:
        """``scale``, else ``deploy.replicas``, else 1 (compose's precedence)."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1

    def _limits(self) -> ResourceLimitsSpec | None:
        return self.deploy.resources.limits if self.deploy and self.deploy.resources else None

    @property
    def memory_limit(self) -> int | None:
        """``mem_limit``, else ``deploy.resources.limits.memory``, in bytes."""
        limits = self._limits()
        return self.mem_limit if self.mem_limit is not None else (limits.memory if limits else None)

    @property
    def cpu_limit(self) -> float | None:
        """``cpus``, else ``deploy.resources.limits.cpus`` (0 means no limit, as Docker)."""
        limits = self._limits()
        value = self.cpus if self.cpus is not None else (limits.cpus if limits else None)
        return value or None

    @property
    def pids_max(self) -> int | None:
        """``pids_limit``, else ``deploy.resources.limits.pids``; None when unlimited (0 or -1)."""
        limits = self._limits()
        value = self.pids_limit if self.pids_limit is not None else (limits.pids if limits else None)
        return value if value is not None and value > 0 else None

    @property
    def restart_policy(self) -> RestartPolicy:
        """``restart`` as a value (the text was checked by the same parser)."""
        from composer.model.restart import RestartPolicy

        return RestartPolicy.parse(self.restart)

    @property
    def restart_max_retries(self) -> int | None:
        """N of ``on-failure:N``; None when not bounded."""
        return self.restart_policy.max_retries

    def interface_names(self) -> dict[str, str]:
        """Network name -> container interface: ``interface_name`` or eth<N> by the order of ``networks``."""
        return {
            network: attachment.interface_name or f"eth{index}"
            for index, (network, attachment) in enumerate(self.networks.items())
        }
