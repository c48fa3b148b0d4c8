"""The project file as validated, normalised, frozen pydantic models.

A compose file allows several spellings for one thing (``environment`` as a
map or a list, ``ports`` as ``"8080:80"`` or a mapping, ``depends_on`` as a
list or a map, sizes as ``512m`` ...).  Every field accepts all of them on input
and exposes ONE form afterwards, so that the rest of composer never repeats a
compose rule.  Each conversion is a ``BeforeValidator`` whose
``json_schema_input_type`` describes the accepted input, which is what the
generated JSON Schema (``schemas/compose.schema.json``) shows to editors.

Rules kept in one place here:

* ``extra="forbid"`` everywhere a mapping has a fixed set of keys; ``x-*``
  extension keys are dropped before validation (``_Model._drop_extensions``)
  but never inside free-form maps such as ``labels`` or ``environment``.
* Sizes are int bytes, durations float seconds, rates int bits per second.
* Relative paths (``rootfs``, bind sources) are made absolute against the
  project directory passed in the validation context
  (``{"project_directory": Path}``); without a context the current directory.
* Numbers in string fields are turned into strings (``coerce_numbers_to_str``)
  as compose does for ``environment: {PORT: 80}``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal

# composer uses no pydantic plugins; looking for them scans the entry points of every
# installed distribution, a noticeable part of `composer config -q`'s start-up.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from composer.project.units import parse_bytes, parse_duration, parse_percent, parse_rate

StringOrList = str | list[str]
Scalar = str | int | float | bool | None

# --------------------------------------------------------------------------- input converters


def _project_directory(info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, dict) else {}
    directory = context.get("project_directory")
    return Path(directory) if directory is not None else Path.cwd()


def _resolve_path(raw: object, info: ValidationInfo) -> object:
    if not isinstance(raw, str):
        return raw
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (_project_directory(info) / path).resolve()


def _scalar_text(value: object) -> str:
    """A YAML scalar as compose prints it into a string field (true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_command(raw: object) -> object:
    """A string command is split like a POSIX shell would; a list is kept as is."""
    if isinstance(raw, str):
        try:
            return shlex.split(raw)
        except ValueError as error:
            raise ValueError(f"cannot split the command like a shell would: {error}") from None
    if isinstance(raw, list):
        return [_scalar_text(item) if isinstance(item, int | float) else item for item in raw]
    return raw


def _to_list(raw: object) -> object:
    return [raw] if isinstance(raw, str | int | float) and not isinstance(raw, bool) else raw


def _to_env_map(raw: object) -> object:
    """``[A=1, B]`` or ``{A: 1, B: null}`` -> ``{"A": "1", "B": None}``."""
    if isinstance(raw, list):
        result: dict[str, object] = {}
        for item in raw:
            if not isinstance(item, str):
                raise ValueError(f"list entries must be strings like NAME=value, got {item!r}")
            name, sep, value = item.partition("=")
            result[name] = value if sep else None
        return result
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, dict | list):
                raise ValueError(
                    f"the value of {key} must be a string, a number or a boolean, not a list or mapping"
                )
        return {key: None if value is None else _scalar_text(value) for key, value in raw.items()}
    return raw


def _to_str_map(raw: object) -> object:
    """Like ``_to_env_map`` but a missing value is the empty string (labels, sysctls, driver_opts)."""
    converted = _to_env_map(raw)
    if isinstance(converted, dict):
        return {key: "" if value is None else value for key, value in converted.items()}
    return converted


def _to_name_map(raw: object) -> object:
    """``[a, b]`` -> ``{a: {}, b: {}}``; ``{a: null}`` -> ``{a: {}}`` (service networks, depends_on)."""
    if isinstance(raw, list):
        if not all(isinstance(item, str) for item in raw):
            raise ValueError("list entries must be names")
        return {key: {} for key in raw}
    if isinstance(raw, dict):
        return {key: {} if value is None else value for key, value in raw.items()}
    return raw


def _to_bytes(raw: object) -> object:
    return None if raw is None else parse_bytes(raw)


def _to_bytes_or_unlimited(raw: object) -> object:
    """Like sizes, but -1 (compose's "unlimited") is kept."""
    if raw == -1 or raw == "-1":
        return -1
    return _to_bytes(raw)


def _to_duration(raw: object) -> object:
    return None if raw is None else parse_duration(raw)


def _to_float(raw: object) -> object:
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    return raw


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


BytesInput = int | str
DurationInput = int | float | str
Bytes = Annotated[int, BeforeValidator(_to_bytes, json_schema_input_type=BytesInput)]
OptBytes = Annotated[int | None, BeforeValidator(_to_bytes, json_schema_input_type=BytesInput | None)]
OptBytesOrUnlimited = Annotated[
    int | None, BeforeValidator(_to_bytes_or_unlimited, json_schema_input_type=BytesInput | None)
]
Seconds = Annotated[float, BeforeValidator(_to_duration, json_schema_input_type=DurationInput)]
OptSeconds = Annotated[
    float | None, BeforeValidator(_to_duration, json_schema_input_type=DurationInput | None)
]
OptFloat = Annotated[float | None, BeforeValidator(_to_float, json_schema_input_type=float | str | None)]
ListOfStr = Annotated[list[str], BeforeValidator(_to_list, json_schema_input_type=StringOrList)]
EnvMap = Annotated[
    dict[str, str | None],
    BeforeValidator(_to_env_map, json_schema_input_type=dict[str, Scalar] | list[str]),
]
StrMap = Annotated[
    dict[str, str], BeforeValidator(_to_str_map, json_schema_input_type=dict[str, Scalar] | list[str])
]
Command = Annotated[
    list[str] | None, BeforeValidator(_to_command, json_schema_input_type=StringOrList | None)
]
AbsPath = Annotated[Path, BeforeValidator(_resolve_path, json_schema_input_type=str)]


class _Model(BaseModel):
    """Base of every model: frozen, unknown keys rejected, ``x-*`` extension keys ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data


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
        data["test"] = ["NONE"] if test.strip() == "NONE" else ["CMD-SHELL", test]
    return data


def _check_test(raw: object) -> object:
    if isinstance(raw, list) and raw and raw[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise ValueError(f"the first item of a test list must be CMD, CMD-SHELL or NONE, got {raw[0]!r}")
    if isinstance(raw, list) and raw and raw[0] != "NONE" and len(raw) < 2:
        raise ValueError(f"{raw[0]} needs a command after it")
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


class ServiceNetworkSpec(_Model):
    """How a service joins one network; the order of the service's networks is eth0, eth1, ..."""

    ipv4_address: str | None = None
    ipv6_address: str | None = None
    aliases: list[str] = []
    interface_name: str | None = None
    mac_address: str | None = None
    priority: int = 0


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
    return result


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
    return {"type": kind, "source": source, "target": target, "read_only": "ro" in modes}


class BindOptions(_Model):
    create_host_path: bool = True
    propagation: str | None = None
    selinux: str | None = None


class VolumeOptions(_Model):
    nocopy: bool = False
    subpath: str | None = None


class TmpfsOptions(_Model):
    size: OptBytes = None
    mode: int | None = None


class ServiceVolumeSpec(_Model):
    """A mount in a container; for ``bind`` the source is an absolute host path."""

    type: Literal["bind", "volume", "tmpfs"]
    source: str | None = None  # volume name, host path (bind), None for tmpfs and anonymous volumes
    target: str
    read_only: bool = False
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_syntax(cls, data: Any) -> Any:
        return _parse_short_volume(data) if isinstance(data, str) else data

    @model_validator(mode="after")
    def _absolute_bind(self, info: ValidationInfo) -> ServiceVolumeSpec:
        if self.type == "bind" and self.source:
            resolved = _resolve_path(self.source, info)
            object.__setattr__(self, "source", str(resolved))
        if not self.target.startswith("/"):
            raise ValueError(f"the mount target {self.target!r} must be an absolute path in the container")
        return self


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


class ResourceLimitsSpec(_Model):
    cpus: OptFloat = None
    memory: OptBytes = None
    pids: int | None = None


class ResourceReservationsSpec(_Model):
    cpus: OptFloat = None
    memory: OptBytes = None
    devices: list[dict[str, Any]] | None = None
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
    format: str | None = None


def _to_env_files(raw: object) -> object:
    items = _to_list(raw)
    if isinstance(items, list):
        return [{"path": item} if isinstance(item, str) else item for item in items]
    return items


_RESTART_VALUES = ("no", "always", "on-failure", "unless-stopped")


def _check_restart(raw: object) -> object:
    if raw is False:  # YAML 1.1 habit: restart: no
        return "no"
    if not isinstance(raw, str):
        return raw
    if raw in _RESTART_VALUES:
        return raw
    policy, _, count = raw.partition(":")
    if policy == "on-failure" and count.isdigit():
        return raw
    raise ValueError(
        f"invalid restart policy {raw!r}: use no, always, on-failure, on-failure:N or unless-stopped"
    )


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
        BeforeValidator(_to_name_map, json_schema_input_type=list[str] | dict[str, DependsOnSpec | None]),
    ] = {}
    healthcheck: Annotated[HealthcheckSpec | None, BeforeValidator(_to_healthcheck)] = None
    restart: Annotated[str, BeforeValidator(_check_restart)] = "no"
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
        BeforeValidator(
            _to_name_map, json_schema_input_type=list[str] | dict[str, ServiceNetworkSpec | None]
        ),
    ] = {}
    network_mode: str | None = None
    ports: Annotated[
        list[PortSpec], BeforeValidator(_to_ports, json_schema_input_type=list[int | str | PortSpec])
    ] = []
    expose: Annotated[list[str], BeforeValidator(_to_list, json_schema_input_type=list[str | int])] = []
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
    pull_policy: Literal["always", "never", "missing", "if_not_present", "build", "daily", "weekly"] = (
        "missing"
    )
    userns_mode: str | None = None
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
    def restart_max_retries(self) -> int | None:
        """N of ``on-failure:N``; None when not bounded."""
        policy, _, count = self.restart.partition(":")
        return int(count) if policy == "on-failure" and count else None

    def interface_names(self) -> dict[str, str]:
        """Network name -> container interface: ``interface_name`` or eth<N> by the order of ``networks``."""
        return {
            network: attachment.interface_name or f"eth{index}"
            for index, (network, attachment) in enumerate(self.networks.items())
        }


# --------------------------------------------------------------------------- networks, volumes, links


class IpamPoolSpec(_Model):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: dict[str, str] = {}


class IpamSpec(_Model):
    driver: str | None = None
    config: list[IpamPoolSpec] = []
    options: StrMap = {}


_MTU_OPTIONS = ("mtu", "com.docker.network.driver.mtu")


class NetworkSpec(_Model):
    """A bridge network; ``mtu`` is read from ``driver_opts`` (``mtu`` or Docker's long option)."""

    driver: str = "bridge"
    internal: bool = False
    enable_ipv6: bool | None = None
    attachable: bool | None = None
    ipam: IpamSpec = IpamSpec()
    driver_opts: StrMap = {}
    external: bool = False
    name: str | None = None
    labels: StrMap = {}

    @model_validator(mode="after")
    def _bridge_only(self) -> NetworkSpec:
        if self.driver != "bridge" and not self.external:
            raise ValueError(
                f"network driver {self.driver!r} is not supported: composer makes Linux bridges "
                "(use driver: bridge, or links: for point-to-point wires)"
            )
        for option in _MTU_OPTIONS:
            value = self.driver_opts.get(option)
            if value is not None and not (value.isdigit() and 68 <= int(value) <= 65535):
                raise ValueError(f"driver_opts {option} must be an MTU between 68 and 65535, got {value!r}")
        return self

    @property
    def mtu(self) -> int | None:
        for option in _MTU_OPTIONS:
            if option in self.driver_opts:
                return int(self.driver_opts[option])
        return None


class VolumeSpec(_Model):
    driver: str = "local"
    driver_opts: StrMap = {}
    external: bool = False
    name: str | None = None
    labels: StrMap = {}


class LinkEndpoint(_Model):
    service: str
    interface: str

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        if isinstance(data, str):
            service, sep, interface = data.strip().partition(":")
            if not sep or not service or not interface:
                raise ValueError(f"invalid link endpoint {data!r}: expected SERVICE:INTERFACE, e.g. r1:eth1")
            return {"service": service, "interface": interface}
        return data

    def __str__(self) -> str:
        return f"{self.service}:{self.interface}"


def _to_pair(raw: object) -> object:
    if isinstance(raw, list) and len(raw) != 2:
        raise ValueError(f"expected exactly two entries (one per endpoint), got {len(raw)}")
    return tuple(raw) if isinstance(raw, list) else raw


Pair = Annotated[tuple[str, str] | None, BeforeValidator(_to_pair, json_schema_input_type=list[str] | None)]


class LinkSpec(_Model):
    """A point-to-point wire (a veth pair) between two container interfaces, with optional netem."""

    endpoints: Annotated[
        tuple[LinkEndpoint, LinkEndpoint],
        BeforeValidator(_to_pair, json_schema_input_type=list[LinkEndpoint]),
    ]
    ipv4: Pair = None  # ADDR/PREFIX per endpoint, same order
    ipv6: Pair = None
    mtu: int | None = Field(default=None, ge=68, le=65535)
    rate: Annotated[
        int | None,
        BeforeValidator(
            lambda v: None if v is None else parse_rate(v), json_schema_input_type=int | str | None
        ),
    ] = None
    delay: OptSeconds = None
    jitter: OptSeconds = None
    loss: Annotated[
        float | None,
        BeforeValidator(
            lambda v: None if v is None else parse_percent(v), json_schema_input_type=float | str | None
        ),
    ] = None
    labels: StrMap = {}

    @model_validator(mode="before")
    @classmethod
    def _one_line(cls, data: Any) -> Any:
        if isinstance(data, str):
            ends = [part.strip() for part in data.split("--")]
            if len(ends) != 2:
                raise ValueError(f"invalid link {data!r}: expected 'SERVICE:IF -- SERVICE:IF'")
            return {"endpoints": ends}
        return data

    @property
    def resource_id(self) -> str:
        """``link:r1:eth1--r2:eth1`` with the endpoints sorted, so that both spellings agree."""
        first, second = sorted(str(end) for end in self.endpoints)
        return f"link:{first}--{second}"

    @property
    def has_netem(self) -> bool:
        return any(v is not None for v in (self.rate, self.delay, self.jitter, self.loss))


# --------------------------------------------------------------------------- the project


def _add_default_network(data: Any) -> Any:
    """Compose's rule: services with neither ``networks`` nor ``network_mode`` join ``default``."""
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return data
    services = dict(data["services"])
    needs_default = False
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        if "networks" not in service and "network_mode" not in service:
            services[name] = {**service, "networks": {"default": {}}}
            needs_default = True
        elif isinstance(service.get("networks"), list | dict) and "default" in service["networks"]:
            needs_default = True  # an explicit reference to the implicit network
    networks = data.get("networks") or {}
    if needs_default and isinstance(networks, dict) and "default" not in networks:
        networks = {**networks, "default": {}}
    return {**data, "services": services, "networks": networks}


class ProjectSpec(_Model):
    """The whole project: what the user wrote, normalised."""

    name: str = ""
    services: dict[str, ServiceSpec] = {}
    networks: Annotated[
        dict[str, NetworkSpec],
        BeforeValidator(_to_name_map, json_schema_input_type=dict[str, NetworkSpec | None]),
    ] = {}
    volumes: Annotated[
        dict[str, VolumeSpec],
        BeforeValidator(_to_name_map, json_schema_input_type=dict[str, VolumeSpec | None]),
    ] = {}
    links: list[LinkSpec] = []

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _add_default_network(data)


__all__ = [
    "BindOptions",
    "DependsOnSpec",
    "DeploySpec",
    "EnvFileSpec",
    "HealthcheckSpec",
    "IpamPoolSpec",
    "IpamSpec",
    "LinkEndpoint",
    "LinkSpec",
    "NetworkSpec",
    "PortSpec",
    "ProjectSpec",
    "ResourceLimitsSpec",
    "ResourceReservationsSpec",
    "ResourcesSpec",
    "RestartPolicySpec",
    "RouteSpec",
    "ServiceNetworkSpec",
    "ServiceSpec",
    "ServiceVolumeSpec",
    "TmpfsOptions",
    "UlimitSpec",
    "VolumeOptions",
    "VolumeSpec",
]
