"""``build_desired()``: the loaded project and a few facts read beforehand -> the desired state.

Pure: the images' configs, earlier address assignments, the subnets already in
use and where the project's files go (:class:`ProjectPaths`, which the state
store's layout provides) are passed in; nothing here reads the host, the disk or
the environment.  Problems that only show once the project is resolved (no
command to run, an unknown signal, ports without an IPv4 network) are raised
together as one :class:`~composer.errors.SpecError` with their places.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import signal
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from composer.errors import SpecError, SpecIssue
from composer.model.container import (
    DEFAULT_PATH,
    LIMIT_KEYS,
    CgroupLimits,
    ContainerConfig,
    ContainerFiles,
    DeviceMapping,
    DeviceRule,
    HookConfig,
    LogConfig,
    MountConfig,
    ProjectedFile,
    Ulimit,
)
from composer.model.desired import (
    Attachment,
    Dependency,
    DesiredContainer,
    DesiredInterface,
    DesiredLink,
    DesiredNetwork,
    DesiredRoute,
    DesiredState,
    DesiredVolume,
    OutsideEnd,
    PublishedPort,
    canonical_hash,
)
from composer.model.health import HealthCheck, health_argv
from composer.model.ids import ResourceId, container_id, interface_id, network_id, route_id, volume_id
from composer.model.ipam import EndpointRequest, InUse, IpamConfig, NetworkAddressing, NetworkRequest
from composer.model.naming import bridge_name, container_name, signal_number

if TYPE_CHECKING:  # the models load pydantic: a no-op `up` from the cached desired state never needs them
    from composer.project.models import LinkSpec, NetworkSpec, ServiceSpec

DEFAULT_SHM = 64 * 1024 * 1024


class ImageLike(Protocol):
    """A resolved image: its id, its unpacked layers (bottom first) and its config."""

    @property
    def image_id(self) -> str: ...

    @property
    def layer_dirs(self) -> tuple[Path, ...]: ...

    @property
    def config(self) -> Any: ...


class LoadedLike(Protocol):
    """The loaded project (``composer.project.loader.LoadedProject`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def project_directory(self) -> Path: ...

    @property
    def environment(self) -> Mapping[str, str]: ...

    @property
    def spec(self) -> Any: ...

    def locate(self, path: str) -> tuple[str, int, int]: ...


class ProjectPaths(Protocol):
    """Where a project's host-side files go (``composer.store.layout.ProjectLayout`` is one)."""

    def container(self, name: str) -> ContainerFiles: ...

    def netns(self, name: str) -> Path: ...

    def volume(self, name: str) -> Path: ...


@dataclass(frozen=True)
class BuildInputs:
    """Facts from outside the project file that the desired state depends on."""

    paths: ProjectPaths
    images: Mapping[str, ImageLike]  # service -> resolved image (services with image:)
    service_hashes: Mapping[str, str]
    previous_addressing: Mapping[str, NetworkAddressing] = field(default_factory=dict)
    subnets_in_use: Sequence[InUse] = ()
    scale: Mapping[str, int] = field(default_factory=dict)
    services: Sequence[str] | None = None  # only these (and their dependencies); None = all
    rootfs_layers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # service -> lower dirs
    mount_images: Mapping[str, ImageLike] = field(default_factory=dict)  # type: image mounts' sources
    external_addresses: Mapping[str, Sequence[str]] = field(default_factory=dict)  # network -> bridge CIDRs
    elsewhere: frozenset[str] = frozenset()  # services another host of a split lab makes: no container here
    # network -> containers outside the file that hold addresses on it (`run`'s one-offs): they keep them
    reserved: Mapping[str, Sequence[str]] = field(default_factory=dict)


def build_desired(loaded: LoadedLike, inputs: BuildInputs) -> DesiredState:
    """Resolve the project into resources; raises SpecError for what only shows once resolved."""
    spec = loaded.spec
    project = loaded.name
    replicas = {name: inputs.scale.get(name, svc.replicas) for name, svc in spec.services.items()}
    names = {
        service: [_container_name(project, service, svc, n) for n in range(1, replicas[service] + 1)]
        for service, svc in spec.services.items()
    }
    addressing = _plan_addressing(spec, names, inputs)
    networks = _networks(project, spec.networks, addressing)
    hosts_by_container = _hosts_blocks(spec, names, addressing)
    ipc_owners = {_referenced_container(svc.ipc, names) for svc in spec.services.values()} - {""}
    containers: dict[ResourceId, DesiredContainer] = {}
    issues: list[SpecIssue] = []
    for service, svc in sorted(spec.services.items()):
        if service in inputs.elsewhere:
            continue
        for number, name in enumerate(names[service], start=1):
            try:
                container = _container(
                    loaded,
                    inputs,
                    service,
                    svc,
                    number,
                    name,
                    names,
                    addressing,
                    networks,
                    hosts_by_container,
                    ipc_owners,
                )
            except _Problem as problem:
                issues.append(problem.issue(loaded))
                continue
            containers[container.rid] = container
    links = _links(spec.links, names)
    volumes = _volumes(spec.volumes, inputs.paths)
    if issues:
        raise SpecError(issues)
    sysctls_of = {name: svc.sysctls for name, svc in spec.services.items()}
    impairments = {
        (name, net): attach.values()
        for name, svc in spec.services.items()
        for net, attach in svc.networks.items()
    }
    interfaces = {
        **_attachment_interfaces(containers, networks, sysctls_of, impairments),
        **_link_interfaces(spec, names, inputs.paths),
    }
    return DesiredState(
        project=project, networks=networks, containers=containers, links=links, volumes=volumes,
        interfaces=interfaces, routes=_routes(spec, containers, interfaces),
    )  # fmt: skip


class _Problem(Exception):
    def __init__(self, path: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.path, self.message, self.hint = path, message, hint

    def issue(self, loaded: LoadedLike) -> SpecIssue:
        file, line, column = loaded.locate(self.path)
        return SpecIssue(file, line, column, self.path, self.message, self.hint)


def _container_name(project: str, service: str, svc: ServiceSpec, number: int) -> str:
    if svc.container_name and number == 1:
        return svc.container_name
    return container_name(project, service, number)


def _plan_addressing(
    spec: Any, names: Mapping[str, list[str]], inputs: BuildInputs
) -> dict[str, NetworkAddressing]:
    from composer.model.ipam import plan_addressing

    requests: list[NetworkRequest] = []
    endpoints: dict[str, list[EndpointRequest]] = {}
    for net_name, net in sorted(spec.networks.items()):
        if net.external:
            # An existing bridge: containers take addresses in the subnet its own address names.
            bridge_cidrs = inputs.external_addresses.get(net_name, ())
            if not bridge_cidrs:
                continue
            configs = tuple(_external_config(cidr) for cidr in bridge_cidrs)
            requests.append(NetworkRequest(net_name, configs, any(":" in c for c in bridge_cidrs)))
            endpoints[net_name] = []
            continue
        configs = tuple(IpamConfig(c.subnet, c.ip_range, c.gateway) for c in net.ipam.config)
        requests.append(NetworkRequest(net_name, configs, bool(net.enable_ipv6)))
        endpoints[net_name] = []
    for service, svc in sorted(spec.services.items()):
        for net_name, attach in svc.networks.items():
            if net_name not in endpoints:
                continue
            for number, name in enumerate(names[service], start=1):
                static4 = attach.ipv4_address if number == 1 else None
                static6 = attach.ipv6_address if number == 1 else None
                endpoints[net_name].append(EndpointRequest(name, static4, static6))
    planned = {e.container for requests_of in endpoints.values() for e in requests_of}
    for net_name, holders in inputs.reserved.items():
        if net_name in endpoints:
            endpoints[net_name] += [EndpointRequest(n, None, None) for n in holders if n not in planned]
    external = {
        str(ipaddress.ip_interface(cidr).network)
        for cidrs in inputs.external_addresses.values()
        for cidr in cidrs
    }
    in_use = [u for u in inputs.subnets_in_use if u.network not in external]
    return plan_addressing(requests, endpoints, in_use, inputs.previous_addressing)


def _external_config(cidr: str) -> IpamConfig:
    interface = ipaddress.ip_interface(cidr)
    return IpamConfig(subnet=str(interface.network), gateway=str(interface.ip))


def _networks(
    project: str, specs: Mapping[str, NetworkSpec], addressing: Mapping[str, NetworkAddressing]
) -> dict[ResourceId, DesiredNetwork]:
    result: dict[ResourceId, DesiredNetwork] = {}
    for name, net in sorted(specs.items()):
        plan = addressing.get(name)
        bridge = (net.name or name) if net.external else bridge_name(project, name)
        fields = {
            "internal": net.internal,
            "mtu": net.mtu,
            "external": net.external,
            "bridge": bridge,
            "subnets": [f.subnet for f in plan.families()] if plan else [],
            "gateways": [f.gateway for f in plan.families()] if plan else [],
        }
        result[network_id(name)] = DesiredNetwork(
            rid=network_id(name),
            name=name,
            bridge=bridge,
            external=net.external,
            internal=net.internal,
            mtu=net.mtu,
            addressing=plan,
            config_hash=canonical_hash(fields),
        )
    return result


def _hosts_blocks(
    spec: Any, names: Mapping[str, list[str]], addressing: Mapping[str, NetworkAddressing]
) -> dict[str, list[str]]:
    """container -> the /etc/hosts lines (blocks of text) of every container sharing a network with it.

    Each network's block is rendered once and shared by its members: a file lists
    every peer, so N containers on one network are N^2 lines, and building them
    line by line per container was most of ``up``'s planning at N = 1000.  When
    two networks give the same address (overlapping subnets), that address's
    names are merged per container instead.
    """
    members: dict[str, list[tuple[str, str, list[str]]]] = {}  # network -> (container, address, names)
    for service, svc in sorted(spec.services.items()):
        for net_name, attach in svc.networks.items():
            plan = addressing.get(net_name)
            if plan is None or plan.ipv4 is None:
                continue
            for number, name in enumerate(names[service], start=1):
                address = plan.ipv4.addresses.get(name)
                if not address:
                    continue
                short = f"{service}-{number}"
                aliases = [service, name, short, *attach.aliases] if number == 1 else [name, short, service]
                members.setdefault(net_name, []).append((name, address, aliases))
    addresses = [address for entries in members.values() for _, address, _ in entries]
    if len(set(addresses)) != len(addresses):
        return _merged_blocks(members)
    blocks = {
        net: "\n".join(f"{address}\t{' '.join(dict.fromkeys(aliases))}" for _, address, aliases in entries)
        for net, entries in members.items()
    }
    result: dict[str, list[str]] = {}
    for net, entries in members.items():
        for container, _, _ in entries:
            result.setdefault(container, []).append(blocks[net])
    _add_link_aliases(spec, names, members, result)
    return result


def _add_link_aliases(
    spec: Any,
    names: Mapping[str, list[str]],
    members: Mapping[str, list[tuple[str, str, list[str]]]],
    result: dict[str, list[str]],
) -> None:
    """Legacy ``links: [db, "db:database"]``: the alias names db's first container on a shared network."""
    for service, svc in sorted(spec.services.items()):
        for link in svc.links:
            target, _, alias = link.partition(":")
            if not alias or target not in names or not names[target]:
                continue
            wanted = names[target][0]
            for container in names[service]:
                address = next(
                    (
                        addr
                        for entries in members.values()
                        if any(member == container for member, _, _ in entries)
                        for member, addr, _ in entries
                        if member == wanted
                    ),
                    None,
                )
                if address is not None:
                    result.setdefault(container, []).append(f"{address}\t{alias}")


def _merged_blocks(members: Mapping[str, list[tuple[str, str, list[str]]]]) -> dict[str, list[str]]:
    """The slow rule, for networks sharing addresses: one line per address, its names merged."""
    seen: dict[str, dict[str, dict[str, None]]] = {}  # container -> address -> names
    for entries in members.values():
        for container, _, _ in entries:
            mine = seen.setdefault(container, {})
            for _, address, aliases in entries:
                mine.setdefault(address, {}).update(dict.fromkeys(aliases))
    return {
        container: ["\n".join(f"{address}\t{' '.join(names)}" for address, names in lines.items())]
        for container, lines in seen.items()
    }


def _render_hosts(name: str, hostname: str, blocks: Sequence[str], extra: Sequence[tuple[str, str]]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", *blocks]
    if not blocks:
        lines.append(f"127.0.1.1\t{hostname} {name}" if hostname != name else f"127.0.1.1\t{hostname}")
    lines += [f"{address}\t{host}" for host, address in extra]
    return "\n".join(lines) + "\n"


HOST_NAMESPACE_FIELDS = ("cgroup", "ipc", "pid", "uts")


def host_namespaces(svc: ServiceSpec) -> tuple[str, ...]:
    """The namespace kinds the service keeps from composer (``pid: host``...), in a fixed order.

    Every other kind the container gets anew; capabilities, seccomp, masked paths
    and the device cgroup stay as they are, as Docker does.
    """
    return tuple(kind for kind in HOST_NAMESPACE_FIELDS if getattr(svc, kind) == "host")


JOINABLE_NAMESPACES = ("ipc", "pid")


def joined_namespaces(
    svc: ServiceSpec, names: Mapping[str, list[str]], base: str
) -> tuple[tuple[str, str], ...]:
    """``pid``/``ipc: service:NAME`` (NAME's first container, as Docker) or ``container:NAME`` (a
    container of the project): the kind and the container whose namespace of that kind is joined."""
    joins = []
    for kind in JOINABLE_NAMESPACES:
        target = _joined_container(getattr(svc, kind), names, f"{base}.{kind}")
        if target:
            joins.append((kind, target))
    return tuple(joins)


def _joined_container(value: str | None, names: Mapping[str, list[str]], path: str) -> str:
    """The container ``service:NAME`` or ``container:NAME`` names ("" for other values); an error
    at ``path`` when there is none."""
    kind, _, target = (value or "").partition(":")
    if kind == "service":
        if not names.get(target):
            field = path.rpartition(".")[2]
            raise _Problem(
                path, f"service `{target}` has no container whose namespace to join",
                f"scale `{target}` to at least 1, or remove `{field}:`",
            )  # fmt: skip
        return names[target][0]
    if kind == "container":
        if _service_of(target, names) is None:
            raise _Problem(
                path, f"`{target}` is not a container of this project",
                "composer joins only its own containers: name one (its container_name, or"
                " PROJECT-SERVICE-N), or use service:NAME",
            )  # fmt: skip
        return target
    return ""


def _referenced_container(value: str | None, names: Mapping[str, list[str]]) -> str:
    """Like _joined_container, without the errors (another service's reference, checked there)."""
    kind, _, target = (value or "").partition(":")
    if kind == "service":
        return names[target][0] if names.get(target) else ""
    return target if kind == "container" and _service_of(target, names) is not None else ""


def _service_of(container: str, names: Mapping[str, list[str]]) -> str | None:
    return next((service for service, containers in names.items() if container in containers), None)


def blkio_devices(svc: ServiceSpec) -> tuple[tuple[str, str, int], ...] | None:
    """``blkio_config``'s per-device settings as (setting, path, value), or None when it has none."""
    config = svc.blkio_config
    if config is None:
        return None
    found = [("weight", d.path, d.weight) for d in config.weight_device]
    for setting in ("read_bps", "write_bps", "read_iops", "write_iops"):
        found += [(setting, d.path, d.rate) for d in getattr(config, f"device_{setting}")]
    return tuple(found) or None


def shared_shm_path(
    svc: ServiceSpec,
    name: str,
    names: Mapping[str, list[str]],
    ipc_owners: AbstractSet[str],
    paths: ProjectPaths,
) -> str | None:
    """Where the shared /dev/shm of an ipc namespace lives: in its owner's folder, for owner and joiners.

    ``ipc_owners`` are the containers whose ipc namespace another one joins.
    """
    owner = _referenced_container(svc.ipc, names) or (name if name in ipc_owners else "")
    return str(paths.container(owner).folder / "shm") if owner else None


def _container(
    loaded: LoadedLike,
    inputs: BuildInputs,
    service: str,
    svc: ServiceSpec,
    number: int,
    name: str,
    names: Mapping[str, list[str]],
    addressing: Mapping[str, NetworkAddressing],
    networks: Mapping[ResourceId, DesiredNetwork],
    hosts_by_container: Mapping[str, list[str]],
    ipc_owners: AbstractSet[str],
) -> DesiredContainer:
    base = f"services.{service}"
    image = inputs.images.get(service)
    image_config = image.config if image is not None else None
    argv = _argv(svc, image_config, base)
    network_mode, netns_path = _network_mode(svc, names, inputs.paths, name, base)
    attachments = _attachments(svc, name, addressing, networks) if network_mode == "bridge" else ()
    hostname = svc.hostname or (service if len(names[service]) == 1 else f"{service}-{number}")
    gateway = _host_address(svc, network_mode, addressing)
    extra_hosts = [
        (host, gateway if address == "host-gateway" else address) for host, address in svc.extra_hosts
    ]
    hosts = _render_hosts(name, hostname, hosts_by_container.get(name, []), extra_hosts)
    userns = svc.userns_mode not in (None, "", "host")
    files, file_mounts = _projected(loaded, service, svc, inputs.paths.container(name), userns)
    config = ContainerConfig(
        project=loaded.name,
        service=service,
        name=name,
        number=number,
        argv=tuple(argv),
        env=tuple(_environment(svc, image_config, loaded.environment)),
        working_dir=svc.working_dir or (image_config.working_dir if image_config else "") or "/",
        user=svc.user if svc.user is not None else (image_config.user if image_config else ""),
        hostname=hostname,
        domainname=svc.domainname or "",
        rootfs_layers=_layers(service, svc, image, inputs, base),
        state_dir=str(inputs.paths.container(name).folder),
        read_only=svc.read_only,
        mounts=(
            *_mounts(svc, image_config, inputs.paths, name, loaded.project_directory, inputs.mount_images),
            *_mounts_from(loaded, svc, inputs.paths, names, base, inputs.mount_images),
            *file_mounts,
        ),
        shm_size=svc.shm_size or DEFAULT_SHM,
        netns_path=str(netns_path) if netns_path else None,
        host_namespaces=host_namespaces(svc),
        joins=joined_namespaces(svc, names, base),
        shm_path=shared_shm_path(svc, name, names, ipc_owners, inputs.paths),
        cgroup=CgroupLimits(
            memory=svc.memory_limit,
            memory_swap=svc.memswap_limit,
            memory_reservation=svc.mem_reservation or _reservation(svc),
            cpus=_cpus(svc),
            cpu_shares=svc.cpu_shares,
            cpuset=svc.cpuset,
            pids=svc.pids_max,
            memory_swappiness=svc.mem_swappiness,
            oom_kill_disable=True if svc.oom_kill_disable else None,  # false is the kernel's default
            blkio_weight=svc.blkio_config.weight if svc.blkio_config else None,
            blkio_devices=blkio_devices(svc),
        ),
        cap_add=tuple(svc.cap_add),
        cap_drop=tuple(svc.cap_drop),
        privileged=svc.privileged,
        no_new_privileges=_no_new_privileges(svc.security_opt),
        seccomp=_seccomp(svc.security_opt, loaded.project_directory),
        ulimits=tuple(Ulimit(k, u.soft, u.hard) for k, u in sorted(svc.ulimits.items())),
        sysctls=tuple(sorted(svc.sysctls.items())),
        init=bool(svc.init),
        stop_signal=_signal_number(
            svc.stop_signal or _image_stop_signal(image_config), f"{base}.stop_signal"
        ),
        stop_grace_period=svc.stop_grace_period,
        hosts=hosts,
        resolv_conf="".join(f"nameserver {server}\n" for server in svc.dns),
        dns_search=tuple(svc.dns_search),
        dns_options=tuple(svc.dns_opt),
        oom_score_adj=svc.oom_score_adj,
        group_add=tuple(svc.group_add),
        stdin_open=svc.stdin_open,
        tty=svc.tty,
        userns=userns,
        labels=tuple(sorted(svc.labels.items())),
        devices=tuple(DeviceMapping(d.source, d.target, d.permissions) for d in svc.devices),
        device_rules=tuple(DeviceRule.parse(rule) for rule in svc.device_cgroup_rules),
        projected_files=tuple(files),
        logging=_logging(svc),
        post_start=_hooks(svc.post_start, loaded.environment),
        pre_stop=_hooks(svc.pre_stop, loaded.environment),
    )
    ports = _published(svc, attachments, base)
    return DesiredContainer(
        rid=container_id(name),
        service=service,
        name=name,
        number=number,
        config=config,
        config_hash=inputs.service_hashes.get(service, ""),
        image_id=image.image_id if image is not None else "",
        network_mode=network_mode,
        attachments=attachments,
        ports=ports,
        depends_on=_dependencies(svc, names),
        restart=svc.restart,
        health=_health(svc, image_config),
    )


def _cpus(svc: ServiceSpec) -> float | None:
    """``cpus`` (or deploy's), else ``cpu_quota`` over ``cpu_period`` (default 100 ms): the same share of CPU.

    composer always uses a 100 ms period, so a quota written for another period keeps its ratio.
    """
    if svc.cpu_limit is not None or svc.cpu_quota is None or svc.cpu_quota <= 0:
        return svc.cpu_limit
    return svc.cpu_quota / (svc.cpu_period or 100_000)


def _host_address(svc: ServiceSpec, network_mode: str, addressing: Mapping[str, NetworkAddressing]) -> str:
    """What Docker's ``host-gateway`` means for this container: the host's address on its first network
    (the bridge's), or loopback when it shares the host's network namespace."""
    if network_mode == "host":
        return "127.0.0.1"
    for net_name in svc.networks:
        plan = addressing.get(net_name)
        if plan is not None and plan.ipv4 is not None:
            return str(plan.ipv4.gateway)
    return "127.0.0.1"


def _hooks(hooks: Sequence[Any], outer: Mapping[str, str]) -> tuple[HookConfig, ...]:
    """``post_start``/``pre_stop`` entries; an environment name without a value takes the outer one."""
    return tuple(
        HookConfig(
            argv=tuple(hook.command),
            user=hook.user or "",
            working_dir=hook.working_dir or "",
            env=tuple(
                (key, value if value is not None else outer[key])
                for key, value in hook.environment.items()
                if value is not None or key in outer
            ),
        )
        for hook in hooks
    )


# Docker's defaults for the local driver; json-file keeps composer's own unless max-size is given.
_LOCAL_DEFAULTS = (20 * 1024 * 1024, 5)


def _logging(svc: ServiceSpec) -> LogConfig:
    """``logging`` mapped onto composer's rotation (the model checked the options)."""
    spec = svc.logging
    if spec is None:
        return LogConfig()
    driver = spec.driver or "json-file"
    if driver == "none":
        return LogConfig(driver="none", max_size=None, max_files=1)
    size_text, count_text = spec.options.get("max-size"), spec.options.get("max-file")
    if driver == "local":
        size, count = _LOCAL_DEFAULTS
    elif driver == "json-file" and size_text is not None:
        size, count = None, 1  # Docker's json-file: max-file is 1 unless given
    else:
        return LogConfig()  # json-file without max-size, or a driver composer does not have
    if size_text is not None:
        from composer.model.units import parse_bytes

        size = None if size_text == "-1" else parse_bytes(size_text)
    if count_text is not None:
        count = int(count_text)
    return LogConfig(max_size=size, max_files=count if size is not None else 1)


def _projected(
    loaded: LoadedLike, service: str, svc: ServiceSpec, files: ContainerFiles, userns: bool
) -> tuple[list[ProjectedFile], list[MountConfig]]:
    if not (svc.secrets or svc.configs):
        return [], []
    from composer.model.projected import ProjectedError, projected_files

    shift = ContainerConfig.userns_base if userns else 0  # the container's root is this host uid
    try:
        return projected_files(loaded.spec, service, svc, files, loaded.environment, shift)
    except ProjectedError as error:
        raise _Problem(error.path, error.message, error.hint) from None


def _dependencies(svc: ServiceSpec, names: Mapping[str, list[str]]) -> dict[str, Dependency]:
    """``depends_on``, plus the services whose containers this one uses (compose-go infers these too).

    ``links``, ``volumes_from`` and ``network_mode: service:`` (or ``container:``) start them first; a
    joined pid or ipc namespace also restarts this container when its owner is recreated (the old
    namespace is gone).
    """
    found = {
        name: Dependency(dep.condition, dep.required, dep.restart) for name, dep in svc.depends_on.items()
    }
    implied = [link.partition(":")[0] for link in svc.links]
    implied += [entry.partition(":")[0] for entry in svc.volumes_from if not entry.startswith("container:")]
    implied += [_service_of(_referenced_container(svc.network_mode, names), names) or ""]
    for service in filter(None, implied):
        found.setdefault(service, Dependency("service_started", True, False))
    for kind in JOINABLE_NAMESPACES:
        owner = _service_of(_referenced_container(getattr(svc, kind), names), names)
        if owner:
            found.setdefault(owner, Dependency("service_started", True, True))
    return found


def _mounts_from(
    loaded: LoadedLike, svc: ServiceSpec, paths: ProjectPaths, names: Mapping[str, list[str]], base: str,
    images: Mapping[str, ImageLike],
) -> list[MountConfig]:  # fmt: skip
    """``volumes_from: [SERVICE[:ro|rw]]``: the mounts of the service's first container, the same folders.

    Its anonymous volumes are shared too (they live in that container's folder), as Docker shares them;
    ``container:NAME`` (outside the project) is refused at ``up``.
    """
    mounts: list[MountConfig] = []
    for index, entry in enumerate(svc.volumes_from):
        if entry.startswith("container:"):
            continue
        service, _, mode = entry.partition(":")
        other = loaded.spec.services.get(service)
        if other is None or not names.get(service):
            path = f"{base}.volumes_from.{index}"
            raise _Problem(path, f"unknown service `{service}`", "name a service of the file")
        for mount in _mounts(other, None, paths, names[service][0], loaded.project_directory, images):
            if mount.kind == "tmpfs":
                continue  # a tmpfs is its container's own: Docker does not share it either
            read_only = mount.read_only if mode in ("", "rw") else True
            mounts.append(dataclasses.replace(mount, read_only=read_only))
    return mounts


def _argv(svc: ServiceSpec, image_config: Any, base: str) -> list[str]:
    """Compose's rule: a service entrypoint replaces the image's and resets the image's Cmd."""
    if svc.entrypoint is not None:
        entrypoint = list(svc.entrypoint)
        command = list(svc.command) if svc.command is not None else []
    else:
        entrypoint = list(image_config.entrypoint or []) if image_config else []
        if svc.command is not None:
            command = list(svc.command)
        else:
            command = list(image_config.cmd or []) if image_config else []
    argv = entrypoint + command
    if not argv:
        raise _Problem(
            f"{base}.command",
            "no command to run: neither the service nor its image gives one",
            "set command: (for a rootfs, e.g. command: [sleep, infinity])",
        )
    return argv


def _environment(svc: ServiceSpec, image_config: Any, outer: Mapping[str, str]) -> list[tuple[str, str]]:
    env: dict[str, str] = {}
    if image_config is not None:
        for item in image_config.env or []:
            key, _, value = item.partition("=")
            env[key] = value
    else:
        env["PATH"] = DEFAULT_PATH
    for key, value in svc.environment.items():
        if value is None:
            inherited = outer.get(key)  # the loader's environment: the process's over .env
            if inherited is None:
                continue  # compose drops a variable that is named but set nowhere
            env[key] = inherited
        else:
            env[key] = value
    return list(env.items())


def _layers(
    service: str, svc: ServiceSpec, image: ImageLike | None, inputs: BuildInputs, base: str
) -> tuple[str, ...]:
    if service in inputs.rootfs_layers:
        return inputs.rootfs_layers[service]
    if image is not None:
        return tuple(str(p) for p in reversed(image.layer_dirs))
    if svc.rootfs is not None:
        return (str(svc.rootfs),)
    raise _Problem(base, "the service has neither image: nor rootfs:", "add image: NAME or rootfs: ./folder")


def limit_keys(svc: ServiceSpec) -> dict[str, str]:
    """The key of ``svc`` that set each limit field (:class:`CgroupLimits`), as the file says it.

    Where a plain key and its ``deploy`` twin can both give a limit, the one that won (as
    :meth:`ServiceSpec.memory_limit` and the others decide) is named, so that a message points
    at the line the user wrote.
    """
    keys = dict(LIMIT_KEYS)
    if svc.mem_limit is None:
        keys["memory"] = "deploy.resources.limits.memory"
    if svc.cpu_limit is None:
        keys["cpus"] = "cpu_quota"  # no cpus of either kind: a limit there is the quota's (_cpus)
    elif svc.cpus is None:
        keys["cpus"] = "deploy.resources.limits.cpus"
    if svc.pids_limit is None:
        keys["pids"] = "deploy.resources.limits.pids"
    if not svc.mem_reservation:
        keys["memory_reservation"] = "deploy.resources.reservations.memory"
    lists = dict.fromkeys(
        "weight_device" if setting == "weight" else f"device_{setting}"
        for setting, _, _ in blkio_devices(svc) or ()
    )
    if len(lists) == 1:
        keys["blkio_devices"] = f"blkio_config.{next(iter(lists))}"
    return keys


def _reservation(svc: ServiceSpec) -> int | None:
    resources = svc.deploy.resources if svc.deploy else None
    reservations = resources.reservations if resources else None
    return reservations.memory if reservations else None


def _mounts(
    svc: ServiceSpec, image_config: Any, paths: ProjectPaths, name: str, project_dir: Path,
    images: Mapping[str, ImageLike],
) -> list[MountConfig]:  # fmt: skip
    mounts: list[MountConfig] = []
    targets: set[str] = set()
    for volume in svc.volumes:
        targets.add(volume.target)
        if volume.type == "tmpfs":
            size = volume.tmpfs.size if volume.tmpfs else None
            mode = volume.tmpfs.mode if volume.tmpfs else None
            mounts.append(
                MountConfig(
                    "tmpfs", volume.target, read_only=volume.read_only, tmpfs_size=size, tmpfs_mode=mode
                )
            )
        elif volume.type == "bind":
            source = volume.source or ""  # the models made it absolute (and expanded ~)
            if not os.path.isabs(source):
                source = os.path.normpath(project_dir / source)
            create = volume.bind.create_host_path if volume.bind else True
            propagation = (volume.bind.propagation if volume.bind else None) or "rprivate"
            mounts.append(
                MountConfig(
                    "bind", volume.target, source, volume.read_only, create_host_path=create,
                    propagation=propagation,
                )
            )  # fmt: skip
        elif volume.type == "image":
            mounts.append(_image_mount(volume, images))
        else:
            folder = str(_volume_dir(paths, name, volume))
            mounts.append(
                MountConfig(
                    "volume",
                    volume.target,
                    folder,
                    volume.read_only,
                    seed_from_image=_seeded(volume),
                )
            )
    for entry in svc.tmpfs:
        target, _, options = entry.partition(":")
        if target not in targets:
            mounts.append(MountConfig("tmpfs", target, tmpfs_size=_tmpfs_size(options)))
            targets.add(target)
    for target in (image_config.volumes or []) if image_config else []:
        if target not in targets:  # the image's anonymous volumes, as Docker makes them
            folder = str(paths.container(name).anonymous_volume(target))
            mounts.append(MountConfig("volume", target, folder, seed_from_image=True))
    return mounts


def _image_mount(volume: Any, images: Mapping[str, ImageLike]) -> MountConfig:
    """``type: image``: the image's layers at the target, read-only (``image.subpath`` a folder of it)."""
    image = images.get(volume.source or "")
    if image is None:  # prepare resolves every image mount's source before planning
        raise ValueError(f"image {volume.source} of a type: image mount was not resolved")
    subpath = (volume.image.subpath if volume.image else None) or ""
    layers = tuple(str(p) for p in reversed(image.layer_dirs))
    return MountConfig("image", volume.target, volume.source or "", True, layers=layers, subpath=subpath)


def _seeded(volume: Any) -> bool:
    """Docker copies the image's files into an empty volume unless ``nocopy``; a ``subpath`` is left as is."""
    options = volume.volume
    return options is None or not (options.nocopy or options.subpath)


def _volume_dir(paths: ProjectPaths, container: str, volume: Any) -> Path:
    """The volume's folder, or ``volume.subpath`` below it (made when missing, as the mount needs it)."""
    if volume.source is None:
        folder = paths.container(container).anonymous_volume(volume.target)
    else:
        folder = paths.volume(volume.source)
    subpath = volume.volume.subpath if volume.volume is not None else None
    if subpath:
        return Path(os.path.normpath(folder / subpath.lstrip("/")))
    return folder


def _tmpfs_size(options: str) -> int | None:
    from composer.model.units import parse_bytes

    for option in options.split(","):
        key, _, value = option.partition("=")
        if key == "size" and value:
            return int(parse_bytes(value))
    return None


def _no_new_privileges(options: Sequence[str]) -> bool:
    for option in options:
        key, _, value = option.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges":
            return value.lower() not in ("false", "0")
    return True


def _seccomp(options: Sequence[str], project_dir: Path) -> str:
    for option in options:
        key, _, value = option.replace("=", ":", 1).partition(":")
        if key == "seccomp" and value:
            if value == "unconfined":
                return "unconfined"
            return os.path.normpath(project_dir / value)
    return "default"


def _image_stop_signal(image_config: Any) -> str | None:
    return getattr(image_config, "stop_signal", None) if image_config is not None else None


def _signal_number(name: str | None, path: str) -> int:
    if not name:
        return int(signal.SIGTERM)
    number = signal_number(name)
    if number is None:
        raise _Problem(path, f"unknown signal {name!r}", "use a name like SIGTERM or SIGINT")
    return number


def _network_mode(
    svc: ServiceSpec, names: Mapping[str, list[str]], paths: ProjectPaths, name: str, base: str
) -> tuple[str, Path | None]:
    mode = svc.network_mode
    if mode is None or mode == "bridge":
        return "bridge", paths.netns(name)
    if mode == "none":
        return "none", paths.netns(name)
    if mode == "host":
        return "host", None
    owner = _joined_container(mode, names, f"{base}.network_mode")
    if owner:
        return f"container:{owner}", paths.netns(owner)
    raise _Problem(
        f"{base}.network_mode", f"unsupported network_mode {mode!r}", "use none, host, or service:NAME"
    )


def _attachments(
    svc: ServiceSpec,
    name: str,
    addressing: Mapping[str, NetworkAddressing],
    networks: Mapping[ResourceId, DesiredNetwork],
) -> tuple[Attachment, ...]:
    result: list[Attachment] = []
    ifnames = svc.interface_names()
    for index, (net_name, attach) in enumerate(svc.networks.items()):
        network = networks[network_id(net_name)]
        plan = addressing.get(net_name)
        # The service's own mac_address is its first network's (compose's rule); a network's wins.
        mac = attach.mac_address or (svc.mac_address if index == 0 else None)
        addresses: list[str] = []
        gateway4 = gateway6 = None
        if plan is not None:
            for family in plan.families():
                cidr = family.cidr(name)
                if cidr:
                    addresses.append(cidr)
            if not network.internal:
                gateway4 = plan.ipv4.gateway if plan.ipv4 else None
                gateway6 = plan.ipv6.gateway if plan.ipv6 else None
        result.append(
            Attachment(
                net_name, ifnames[net_name], tuple(addresses), gateway4, gateway6, tuple(attach.aliases), mac
            )
        )
    # Only the first network's gateway becomes the default route, as Docker does.
    return tuple(a if i == 0 else _without_gateway(a) for i, a in enumerate(result))


def _without_gateway(attachment: Attachment) -> Attachment:
    return dataclasses.replace(attachment, gateway4=None, gateway6=None)


def _published(svc: ServiceSpec, attachments: Sequence[Attachment], base: str) -> tuple[PublishedPort, ...]:
    if not svc.ports:
        return ()
    address = next(
        (a.addresses[0].split("/")[0] for a in attachments if a.addresses and ":" not in a.addresses[0]), None
    )
    if address is None:
        raise _Problem(
            f"{base}.ports",
            "published ports need the service on a network with IPv4",
            "attach the service to a bridge network, or remove ports:",
        )
    result: list[PublishedPort] = []
    for port in svc.ports:
        if port.published is None:
            continue  # compose would pick a random host port; composer needs one written
        first, _, last = port.published.partition("-")
        host_ports = range(int(first), int(last or first) + 1)
        target_count = len(host_ports)
        for offset, host_port in enumerate(host_ports):
            target = port.target + offset if target_count > 1 else port.target
            result.append(PublishedPort(port.host_ip or "0.0.0.0", host_port, target, port.protocol, address))
    return tuple(result)


def _health(svc: ServiceSpec, image_config: Any) -> HealthCheck | None:
    spec = svc.healthcheck
    raw = getattr(image_config, "healthcheck", None) if image_config is not None else None
    if spec is not None and not spec.test and raw and raw.get("Test"):
        # Compose keeps the image's test when the file only changes the timings.
        return _health_from_test(
            list(raw["Test"]),
            spec.interval,
            spec.timeout,
            spec.retries,
            spec.start_period,
            spec.start_interval,
        )
    if spec is not None:
        return _health_from_test(
            list(spec.test), spec.interval, spec.timeout, spec.retries, spec.start_period, spec.start_interval
        )
    if not raw or not raw.get("Test"):
        return None
    ns = 1e9
    return _health_from_test(
        list(raw["Test"]),
        raw.get("Interval", 30 * ns) / ns or 30.0,
        raw.get("Timeout", 30 * ns) / ns or 30.0,
        int(raw.get("Retries", 3) or 3),
        raw.get("StartPeriod", 0) / ns,
        raw.get("StartInterval", 5 * ns) / ns or 5.0,
    )


def _health_from_test(
    test: list[str], interval: float, timeout: float, retries: int, start_period: float, start_interval: float
) -> HealthCheck | None:
    try:
        argv = health_argv(test)
    except ValueError:  # only an image's test gets here (the file's was checked): Docker skips it too
        return None
    if argv is None:
        return None
    return HealthCheck(argv, interval, timeout, retries, start_period, start_interval)


def _links(specs: Sequence[LinkSpec], names: Mapping[str, list[str]]) -> dict[ResourceId, DesiredLink]:
    result: dict[ResourceId, DesiredLink] = {}
    for link in specs:
        rid = ResourceId(link.resource_id)
        # Only the ends make the pair what it is: addresses, MTU and shaping change in place.
        config_hash = canonical_hash(sorted(str(end) for end in link.endpoints))
        outside = link.outside_side
        if outside is not None:
            inside, far = link.endpoints[1 - outside], link.endpoints[outside]
            end = OutsideEnd(
                host_ifname=far.host or "", bridge=far.bridge or "", macvlan=far.macvlan or "",
                mode=far.mode or "bridge",
            )  # fmt: skip
            result[rid] = DesiredLink(
                rid, names[inside.service][0], inside.interface, "", "",
                canonical_hash([config_hash, end.bridge, end.mode]), outside=end,
            )  # fmt: skip
            continue
        a, b = link.endpoints
        result[rid] = DesiredLink(
            rid=rid,
            a_container=names[a.service][0],
            a_ifname=a.interface,
            b_container=names[b.service][0],
            b_ifname=b.interface,
            config_hash=config_hash,
        )
    return result


def _link_interfaces(
    spec: Any, names: Mapping[str, list[str]], paths: ProjectPaths
) -> dict[ResourceId, DesiredInterface]:
    """The ends of every link in containers, with their addresses, MTU, shaping and per-interface sysctls."""
    result: dict[ResourceId, DesiredInterface] = {}
    for link in spec.links:
        carrier = ResourceId(link.resource_id)
        for side, end in enumerate(link.endpoints):
            if end.outside:
                continue  # composer configures nothing of an end outside the project once it is made
            addresses: tuple[str, ...] = (link.ipv4[side],) if link.ipv4 else ()
            if link.ipv6:
                addresses += (link.ipv6[side],)
            container = names[end.service][0]
            rid = interface_id(container, end.interface)
            result[rid] = DesiredInterface(
                rid=rid, container=container, netns=str(paths.netns(container)), ifname=end.interface,
                carrier=carrier, addresses=addresses, mtu=link.mtu, up=link.state == "up",
                addresses_managed=link.addressing == "file",
                sysctls=interface_sysctls(spec.services[end.service].sysctls, end.interface),
                **link.direction(side),  # what leaves this end: egress is where tc acts
            )  # fmt: skip
    return result


def _attachment_interfaces(
    containers: Mapping[ResourceId, DesiredContainer],
    networks: Mapping[ResourceId, DesiredNetwork],
    sysctls_of: Mapping[str, Mapping[str, str]],
    impairments: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[ResourceId, DesiredInterface]:
    """Each container's interface on each network, with what its sending side suffers."""
    result: dict[ResourceId, DesiredInterface] = {}
    for container in containers.values():
        netns = container.config.netns_path
        if not container.owns_netns or not netns:
            continue
        for attachment in container.attachments:
            rid = interface_id(container.name, attachment.ifname)
            result[rid] = DesiredInterface(
                rid=rid, container=container.name, netns=netns, ifname=attachment.ifname,
                carrier=container.rid, addresses=attachment.addresses,
                mtu=networks[network_id(attachment.network)].mtu,
                sysctls=interface_sysctls(sysctls_of[container.service], attachment.ifname),
                **impairments.get((container.service, attachment.network), {}),
            )  # fmt: skip
    return result


def interface_sysctls(sysctls: Mapping[str, str], ifname: str) -> tuple[tuple[str, str], ...]:
    """The sysctls of one interface (``net.ipv4.conf.IFNAME.*``, ``net.ipv6.conf.IFNAME.*``)."""
    prefixes = (f"net.ipv4.conf.{ifname}.", f"net.ipv6.conf.{ifname}.")
    return tuple(sorted((k, str(v)) for k, v in sysctls.items() if k.startswith(prefixes)))


def _routes(
    spec: Any,
    containers: Mapping[ResourceId, DesiredContainer],
    interfaces: Mapping[ResourceId, DesiredInterface],
) -> dict[ResourceId, DesiredRoute]:
    """Declared routes, and the default route through a network's gateway (made with the attachment)."""
    result: dict[ResourceId, DesiredRoute] = {}
    for container in containers.values():
        netns = container.config.netns_path
        if not container.owns_netns or not netns:
            continue
        own = [i for i in interfaces.values() if i.container == container.name]
        for attachment in container.attachments:
            for gateway in (attachment.gateway4, attachment.gateway6):
                if gateway:
                    destination = "::/0" if ":" in gateway else "0.0.0.0/0"
                    route = _route(
                        container, netns, destination, gateway, attachment.ifname, container.rid, True
                    )
                    result[route.rid] = route
        for declared in spec.services[container.service].routes:
            destination = _destination(declared.to, declared.via)
            through = _interface_for(declared.via, own)
            carrier = through.carrier if through else container.rid
            route = _route(container, netns, destination, declared.via, through.ifname if through else "",
                           carrier, False)  # fmt: skip
            result[route.rid] = route  # a declared default replaces the network's
    return result


def _route(
    container: DesiredContainer, netns: str, destination: str, gateway: str, device: str,
    carrier: ResourceId, made_by_carrier: bool,
) -> DesiredRoute:  # fmt: skip
    return DesiredRoute(
        route_id(container.name, destination), container.name, netns, destination, gateway, device, carrier,
        made_by_carrier, canonical_hash([destination, gateway, device]),
    )  # fmt: skip


def _destination(to: str, via: str) -> str:
    if to == "default":
        return "::/0" if ":" in via else "0.0.0.0/0"
    return str(ipaddress.ip_network(to, strict=False))


def _interface_for(gateway: str, interfaces: Sequence[DesiredInterface]) -> DesiredInterface | None:
    """The interface whose subnet holds ``gateway`` (the route leaves through it)."""
    address = ipaddress.ip_address(gateway)
    for interface in sorted(interfaces, key=lambda i: i.ifname):
        for cidr in interface.addresses:
            if address in ipaddress.ip_interface(cidr).network:
                return interface
    return None


def _volumes(specs: Mapping[str, Any], paths: ProjectPaths) -> dict[ResourceId, DesiredVolume]:
    return {
        volume_id(name): DesiredVolume(volume_id(name), name, paths.volume(name), bool(spec.external))
        for name, spec in sorted(specs.items())
    }
