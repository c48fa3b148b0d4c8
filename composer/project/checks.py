"""Cross-checks of a validated project: what no single field can know alone.

The models check each value; here we check how values refer to each other,
all in one pass, so that a user sees every problem at once:

* references: ``depends_on``, service ``networks``, named volumes,
  ``network_mode: service:X``, link endpoints;
* ``depends_on`` cycles, printed ``a -> b -> a`` (a small DFS: networkx is
  deliberately not imported on the ``config`` path, which must start fast);
* addresses: valid, inside their network's subnet, not used twice; subnets
  valid and not overlapping; link addresses on one subnet per link;
* interfaces: valid names of at most 15 bytes, none used twice in a
  container (network attachments and links together); a host end's interface
  made by one link only;
* names: RFC 1123 host names (labels of at most 63 bytes), container names;
* host ports published twice by the project;
* routes whose gateway no interface of the container can reach.

What depends on the host (a port already taken, a subnet used by another
project, netem support) is checked at plan time, not here.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from composer.errors import SpecIssue
from composer.model.naming import is_valid_ifname
from composer.project.models import LinkEndpoint, LinkSpec, PortSpec, ProjectSpec, ServiceSpec

Locator = Callable[[str], tuple[str, int, int]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_HOST_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_NAMESPACED_SYSCTLS = ("net.", "kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.")
_ULIMITS = frozenset(
    {
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    }
)


@dataclass
class _Checker:
    project: ProjectSpec
    locate: Locator
    issues: list[SpecIssue] = field(default_factory=list)

    def add(self, path: str, message: str, hint: str = "") -> None:
        where, line, column = self.locate(path)
        self.issues.append(SpecIssue(where, line, column, path, message, hint))

    def suggest(self, name: str, choices: list[str], what: str) -> str:
        close = difflib.get_close_matches(name, choices, n=1)
        return f"did you mean `{close[0]}`?" if close else f"define it under top-level `{what}:`"


def check(project: ProjectSpec, locate: Locator) -> list[SpecIssue]:
    """Every cross-reference problem of ``project``, each located with ``locate``."""
    checker = _Checker(project, locate)
    for name, service in project.services.items():
        _check_service(checker, name, service)
    _check_cycles(checker)
    _check_networks(checker)
    _check_links(checker)
    _check_interfaces(checker)
    _check_addresses(checker)
    _check_ports(checker)
    _check_routes(checker)
    _check_hosts(checker)
    return checker.issues


# --------------------------------------------------------------------------- one service


def _check_devices(c: _Checker, base: str, service: ServiceSpec) -> None:
    for index, device in enumerate(service.devices):
        if not device.target.startswith("/dev/"):
            c.add(
                f"{base}.devices.{index}",
                f"device target {device.target} is not under /dev",
                "give a target under /dev: the container's root filesystem is mounted nodev",
            )


def _check_service(c: _Checker, name: str, service: ServiceSpec) -> None:
    base = f"services.{name}"
    _check_devices(c, base, service)
    if not _SERVICE_NAME.match(name):
        c.add(base, f"invalid service name `{name}`", "use letters, digits, '.', '_' and '-'")
    # A provider service is valid compose; `up` refuses it (refusals) with the reason.
    if (
        service.image is None
        and service.rootfs is None
        and service.build is None
        and service.provider is None
    ):
        c.add(base, f"service `{name}` has neither `image`, `build` nor `rootfs`", "set one of them")
    if service.image is not None and service.rootfs is not None:
        c.add(f"{base}.rootfs", "`image` and `rootfs` exclude each other", "keep only one")
    _check_depends_on(c, name, service)
    _check_network_mode(c, name, service)
    _check_joined_namespaces(c, name, service)
    _check_service_networks(c, name, service)
    _check_volumes(c, name, service)
    _check_names(c, name, service)
    _check_limits(c, name, service)
    _check_secrets_and_configs(c, name, service)
    _check_service_references(c, name, service)
    _check_mac_addresses(c, name, service)


_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def _check_mac_addresses(c: _Checker, name: str, service: ServiceSpec) -> None:
    """Unicast, well-formed, and one container only: two with one MAC on a bridge would fight over it."""
    given = [(f"services.{name}.mac_address", service.mac_address)]
    given += [
        (f"services.{name}.networks.{net}.mac_address", attachment.mac_address)
        for net, attachment in service.networks.items()
    ]
    for path, mac in given:
        if mac is None:
            continue
        if not _MAC.match(mac) or int(mac[:2], 16) & 1:
            hint = "use six hex pairs of a unicast address, e.g. 02:42:ac:11:00:02"
            c.add(path, f"invalid MAC address {mac!r}", hint)
        elif service.replicas > 1:
            message = f"`{name}` has {service.replicas} replicas: they cannot share one MAC address"
            c.add(path, message, "use one replica")


def _check_service_references(c: _Checker, name: str, service: ServiceSpec) -> None:
    """``links`` and ``volumes_from`` name services of the project (compose-go's rule)."""
    services = list(c.project.services)
    for key, entries in (("links", service.links), ("volumes_from", service.volumes_from)):
        for index, entry in enumerate(entries):
            target = entry.partition(":")[0]
            if key == "volumes_from" and entry.startswith("container:"):
                continue
            if target == name:
                c.add(f"services.{name}.{key}.{index}", f"`{name}` names itself in `{key}`")
            elif target not in c.project.services:
                c.add(
                    f"services.{name}.{key}.{index}",
                    f"unknown service `{target}`",
                    c.suggest(target, services, "services"),
                )


def _check_secrets_and_configs(c: _Checker, name: str, service: ServiceSpec) -> None:
    """Each one names a top-level definition; two never land on one target (nor on a volume's)."""
    targets = {volume.target: f"services.{name}.volumes" for volume in service.volumes}
    for kind, folder in (("secrets", "/run/secrets"), ("configs", "")):
        defined = list(getattr(c.project, kind))
        for index, use in enumerate(getattr(service, kind)):
            path = f"services.{name}.{kind}.{index}"
            if use.source not in defined:
                hint = c.suggest(use.source, defined, kind) or f"declare it under the top-level `{kind}:`"
                c.add(path, f"unknown {kind[:-1]} `{use.source}`", hint)
                continue
            target = use.path(folder)
            if target in targets:
                c.add(path, f"{target} is already mounted by {targets[target]}", "give a different `target`")
            targets[target] = path


def _check_depends_on(c: _Checker, name: str, service: ServiceSpec) -> None:
    services = list(c.project.services)
    for dependency, options in service.depends_on.items():
        path = f"services.{name}.depends_on.{dependency}"
        if dependency == name:
            c.add(path, f"`{name}` depends on itself")
        elif dependency not in c.project.services:
            if options.required:  # required: false only warns when the service is missing (at up)
                c.add(path, f"unknown service `{dependency}`", c.suggest(dependency, services, "services"))
        elif options.condition == "service_healthy" and not _may_be_healthy(c.project.services[dependency]):
            c.add(
                path,
                f"condition service_healthy, but `{dependency}` has no healthcheck",
                f"add a healthcheck to `{dependency}` or use condition: service_started",
            )


def _may_be_healthy(service: ServiceSpec) -> bool:
    """False when no healthcheck can exist: disabled, or a rootfs (no image config) without one."""
    check = service.healthcheck
    if check is not None and check.disabled:
        return False
    return service.image is not None or (check is not None and bool(check.test))


def _check_network_mode(c: _Checker, name: str, service: ServiceSpec) -> None:
    mode = service.network_mode
    if mode is None:
        return
    path = f"services.{name}.network_mode"
    if service.networks:
        c.add(path, "`network_mode` and `networks` exclude each other", "keep only one")
    kind, _, target = mode.partition(":")
    if kind == "container" and target:
        return  # a container of the project: planning knows their names and checks it
    if kind == "service":
        if target not in c.project.services:
            c.add(
                path, f"unknown service `{target}`", c.suggest(target, list(c.project.services), "services")
            )
        elif target == name:
            c.add(path, f"`{name}` cannot share its own network namespace")
    elif mode not in ("none", "host"):
        c.add(path, f"unsupported network_mode `{mode}`", "use none, host, service:NAME or container:NAME")


# what pid: and ipc: may say besides service:NAME and container:NAME (planning checks the latter)
_NAMESPACE_MODES = {"pid": ("host",), "ipc": ("host", "private", "shareable")}


def _check_joined_namespaces(c: _Checker, name: str, service: ServiceSpec) -> None:
    """``pid: service:NAME`` and ``ipc: service:NAME`` name another service of the file."""
    for kind, modes in _NAMESPACE_MODES.items():
        value = getattr(service, kind)
        if value is None or value in modes or value.startswith("container:"):
            continue
        path = f"services.{name}.{kind}"
        prefix, _, target = value.partition(":")
        if prefix != "service" or not target:
            c.add(
                path,
                f"unsupported {kind} `{value}`",
                f"use {', '.join(modes)}, service:NAME or container:NAME",
            )
        elif target == name:
            c.add(path, f"`{name}` cannot join its own {kind} namespace", f"remove `{kind}:`")
        elif target not in c.project.services:
            hint = c.suggest(target, list(c.project.services), "services")
            c.add(path, f"unknown service `{target}`", hint)


def _check_service_networks(c: _Checker, name: str, service: ServiceSpec) -> None:
    known = list(c.project.networks)
    for network, attachment in service.networks.items():
        path = f"services.{name}.networks.{network}"
        if network not in c.project.networks:
            c.add(path, f"unknown network `{network}`", c.suggest(network, known, "networks"))
        for alias in attachment.aliases:
            if not _is_hostname(alias):
                c.add(f"{path}.aliases", f"invalid alias `{alias}`", "use an RFC 1123 host name")
        static = attachment.ipv4_address or attachment.ipv6_address
        if static and service.replicas > 1:
            c.add(
                path, f"a static address cannot be shared by {service.replicas} replicas", "use one replica"
            )


def _check_volumes(c: _Checker, name: str, service: ServiceSpec) -> None:
    targets: set[str] = set()
    for index, volume in enumerate(service.volumes):
        path = f"services.{name}.volumes.{index}"
        if volume.type == "volume" and volume.source and volume.source not in c.project.volumes:
            c.add(
                path,
                f"unknown volume `{volume.source}`",
                c.suggest(volume.source, list(c.project.volumes), "volumes"),
            )
        if volume.target in targets:
            c.add(path, f"two mounts on `{volume.target}`", "keep one mount per target")
        targets.add(volume.target)
    for index, entry in enumerate(service.tmpfs):
        target = entry.partition(":")[0]
        if target in targets:  # compose-go refuses it too: which of the two would the container see?
            c.add(
                f"services.{name}.tmpfs.{index}",
                f"`{target}` is both a tmpfs and a mount in `volumes`",
                "keep one of them; a tmpfs can also be written in volumes: as type: tmpfs",
            )


def _is_hostname(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return 0 < len(name) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def _check_names(c: _Checker, name: str, service: ServiceSpec) -> None:
    base = f"services.{name}"
    if service.hostname is not None and not _is_hostname(service.hostname):
        c.add(
            f"{base}.hostname",
            f"invalid host name `{service.hostname}`",
            "RFC 1123: letters, digits and '-', labels of 1-63 characters separated by dots",
        )
    if service.domainname is not None and not _is_hostname(service.domainname):
        c.add(f"{base}.domainname", f"invalid domain name `{service.domainname}`", "use an RFC 1123 name")
    if service.container_name is not None:
        if not _CONTAINER_NAME.match(service.container_name):
            c.add(
                f"{base}.container_name",
                f"invalid container name `{service.container_name}`",
                "use letters, digits, '.', '_' and '-'",
            )
        if service.replicas > 1:
            c.add(
                f"{base}.container_name",
                "a fixed container_name allows only one replica",
                "remove it or scale to 1",
            )
    for index, (host, address) in enumerate(service.extra_hosts):
        if not _is_hostname(host):
            c.add(f"{base}.extra_hosts.{index}", f"invalid host name `{host}`", "use an RFC 1123 name")
        if address != "host-gateway" and not _is_ip(address):
            c.add(f"{base}.extra_hosts.{index}", f"invalid IP address `{address}` for `{host}`")
    for index, server in enumerate(service.dns):
        if not _is_ip(server):
            c.add(f"{base}.dns.{index}", f"invalid DNS server address `{server}`")


def _check_limits(c: _Checker, name: str, service: ServiceSpec) -> None:
    base = f"services.{name}"
    for key in service.sysctls:
        if not key.startswith(_NAMESPACED_SYSCTLS):
            c.add(
                f"{base}.sysctls.{key}",
                f"sysctl `{key}` is not namespaced: it would change the host",
                "only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set per container",
            )
        elif key.startswith("net.") and service.network_mode == "host":
            c.add(
                f"{base}.sysctls.{key}",
                f"`{key}` cannot be set with network_mode: host",
                "it would change the host",
            )
    for key in service.ulimits:
        if key not in _ULIMITS:
            c.add(
                f"{base}.ulimits.{key}",
                f"unknown ulimit `{key}`",
                f"use one of {', '.join(sorted(_ULIMITS))}",
            )
    limit, swap = service.memory_limit, service.memswap_limit
    if limit is not None and swap is not None and swap != -1 and swap < limit:
        c.add(
            f"{base}.memswap_limit",
            "memswap_limit is below the memory limit",
            "memswap_limit counts memory + swap",
        )
    if service.cpu_limit is not None and service.cpu_limit < 0:
        c.add(f"{base}.cpus", "cpus cannot be negative")


# --------------------------------------------------------------------------- dependency cycles


def find_dependency_cycles(project: ProjectSpec) -> list[list[str]]:
    """Every elementary cycle found by a DFS, each as [a, b, a], rotated to start at its smallest name."""
    graph = {
        name: sorted(d for d in s.depends_on if d in project.services) for name, s in project.services.items()
    }
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :]
                start = cycle.index(min(cycle))
                key = tuple(cycle[start:] + cycle[:start])
                if key not in seen:
                    seen.add(key)
                    cycles.append([*key, key[0]])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def _check_cycles(c: _Checker) -> None:
    for cycle in find_dependency_cycles(c.project):
        c.add(
            f"services.{cycle[0]}.depends_on.{cycle[1]}",
            "dependency cycle: " + " -> ".join(cycle),
            "remove one of these depends_on entries",
        )


# --------------------------------------------------------------------------- networks and addresses


def _parse_network(text: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def network_subnets(project: ProjectSpec) -> dict[str, list[IPNetwork]]:
    """The valid subnets declared for each network."""
    result: dict[str, list[IPNetwork]] = {}
    for name, network in project.networks.items():
        parsed = (_parse_network(pool.subnet) for pool in network.ipam.config if pool.subnet)
        result[name] = [subnet for subnet in parsed if subnet is not None]
    return result


def _check_networks(c: _Checker) -> None:
    declared: list[tuple[str, IPNetwork]] = []
    for name, network in c.project.networks.items():
        for index, pool in enumerate(network.ipam.config):
            path = f"networks.{name}.ipam.config.{index}"
            subnet = _check_pool(c, path, pool.subnet, pool.ip_range, pool.gateway)
            if subnet is None:
                continue
            for other_name, other in declared:
                if subnet.version == other.version and subnet.overlaps(other):
                    c.add(
                        f"{path}.subnet",
                        f"subnet {subnet} overlaps {other} of network `{other_name}`",
                        "give each network its own subnet",
                    )
            declared.append((name, subnet))


def _check_pool(
    c: _Checker, path: str, subnet_text: str | None, ip_range: str | None, gateway: str | None
) -> IPNetwork | None:
    if subnet_text is None:
        if ip_range or gateway:
            c.add(path, "ip_range and gateway need a subnet", "add subnet: e.g. 172.28.0.0/16")
        return None
    subnet = _parse_network(subnet_text)
    if subnet is None:
        try:
            fixed = ipaddress.ip_network(subnet_text, strict=False)
            hint = f"did you mean {fixed}?"
        except ValueError:
            hint = "write it as ADDRESS/PREFIX, e.g. 172.28.0.0/16"
        c.add(f"{path}.subnet", f"invalid subnet `{subnet_text}`", hint)
        return None
    if ip_range is not None:
        sub_range = _parse_network(ip_range)
        if sub_range is None or sub_range.version != subnet.version or not sub_range.subnet_of(subnet):  # type: ignore[arg-type]
            c.add(f"{path}.ip_range", f"ip_range `{ip_range}` is not a subnet of {subnet}")
    if gateway is not None and not _address_in(gateway, [subnet]):
        c.add(f"{path}.gateway", f"gateway `{gateway}` is not a host address of {subnet}")
    return subnet


def _address_in(text: str, subnets: list[IPNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    for subnet in subnets:
        if address.version != subnet.version or address not in subnet:
            continue
        if subnet.prefixlen >= subnet.max_prefixlen - 1:
            return True  # /31, /32: every address is a host address
        return address not in (subnet.network_address, subnet.broadcast_address)
    return False


def _check_addresses(c: _Checker) -> None:
    """Static addresses inside their subnet, and no address used twice in the project."""
    subnets = network_subnets(c.project)
    owners: dict[str, str] = {}
    for network_name, network_spec in c.project.networks.items():
        for pool in network_spec.ipam.config:
            if pool.gateway:
                owners[pool.gateway] = f"the gateway of `{network_name}`"
    for name, service in c.project.services.items():
        for network, attachment in service.networks.items():
            path = f"services.{name}.networks.{network}"
            for key, address in (
                ("ipv4_address", attachment.ipv4_address),
                ("ipv6_address", attachment.ipv6_address),
            ):
                if address is None:
                    continue
                _check_static(c, f"{path}.{key}", address, network, subnets.get(network))
                if (
                    key == "ipv6_address"
                    and network in c.project.networks
                    and not c.project.networks[network].enable_ipv6
                ):
                    c.add(
                        f"{path}.{key}",
                        f"network `{network}` does not enable IPv6",
                        f"set networks.{network}.enable_ipv6: true",
                    )
                _claim(c, f"{path}.{key}", address, f"`{name}` on `{network}`", owners)
    for index, link in enumerate(c.project.links):
        for family in ("ipv4", "ipv6"):
            pair = getattr(link, family)
            for side, text in enumerate(pair or ()):
                address = text.partition("/")[0]
                _claim(
                    c, f"links.{index}.{family}.{side}", address, f"link end {link.endpoints[side]}", owners
                )


def _check_static(
    c: _Checker, path: str, address: str, network: str, subnets: list[IPNetwork] | None
) -> None:
    if not _is_ip(address):
        c.add(path, f"invalid IP address `{address}`")
    elif subnets is not None and not subnets:
        if not c.project.networks.get(network, None) or not c.project.networks[network].external:
            c.add(
                path,
                f"a static address needs a subnet on network `{network}`",
                f"add networks.{network}.ipam.config: [{{subnet: ...}}]",
            )
    elif subnets and not _address_in(address, subnets):
        c.add(
            path, f"{address} is not a host address of {', '.join(map(str, subnets))} (network `{network}`)"
        )


def _claim(c: _Checker, path: str, address: str, who: str, owners: dict[str, str]) -> None:
    try:
        key = str(ipaddress.ip_address(address))
    except ValueError:
        return
    if key in owners:
        c.add(path, f"address {key} is already used by {owners[key]}", "each address may be used once")
    else:
        owners[key] = who


# --------------------------------------------------------------------------- links and interfaces


def _check_links(c: _Checker) -> None:
    host_ends: dict[str, str] = {}  # host interface -> the link end that makes it
    for index, link in enumerate(c.project.links):
        path = f"links.{index}"
        for side, end in enumerate(link.endpoints):
            if end.outside:
                _check_outside_end(c, f"{path}.endpoints.{side}", end, host_ends)
            else:
                _check_endpoint(c, f"{path}.endpoints.{side}", end.service)
        if str(link.endpoints[0]) == str(link.endpoints[1]):
            c.add(
                f"{path}.endpoints",
                f"both ends are {link.endpoints[0]}",
                "a link joins two different interfaces",
            )
        for family in ("ipv4", "ipv6"):
            _check_link_pair(c, f"{path}.{family}", link, family)
        if link.jitter is not None and link.delay is None:
            c.add(f"{path}.jitter", "jitter needs a delay", "add delay: e.g. 10ms")


def _check_outside_end(c: _Checker, path: str, end: LinkEndpoint, host_ends: dict[str, str]) -> None:
    """Host interface names valid, and each host interface made by one link end only."""
    hint = "use at most 15 bytes of letters, digits, '_', '-', '.'"
    for key, name in (("host", end.host), ("bridge", end.bridge), ("macvlan", end.macvlan)):
        if name is not None and (name == "lo" or not is_valid_ifname(name)):
            c.add(f"{path}.{key}", f"invalid host interface name `{name}`", hint)
    if end.host is None:
        return
    if end.host in host_ends:
        c.add(
            f"{path}.host",
            f"host interface {end.host} is already made by {host_ends[end.host]}",
            "give each host end its own interface name",
        )
    elif end.host == end.bridge:
        c.add(f"{path}.host", f"host interface {end.host} is the name of the bridge it joins")
    else:
        host_ends[end.host] = path


def _check_endpoint(c: _Checker, path: str, service_name: str) -> None:
    service = c.project.services.get(service_name)
    if service is None:
        c.add(
            path,
            f"unknown service `{service_name}`",
            c.suggest(service_name, list(c.project.services), "services"),
        )
        return
    mode = service.network_mode or ""
    if mode == "host" or mode.startswith("service:"):
        c.add(
            path,
            f"`{service_name}` has network_mode {mode}: it has no network namespace of its own for a link",
        )
    if service.replicas > 1:
        c.add(
            path,
            f"`{service_name}` has {service.replicas} replicas: a link joins exactly one container each side",
        )


def _check_link_pair(c: _Checker, path: str, link: LinkSpec, family: str) -> None:
    pair = getattr(link, family)
    if pair is None:
        return
    version = 4 if family == "ipv4" else 6
    parsed: list[IPInterface] = []
    for side, text in enumerate(pair):
        try:
            interface = ipaddress.ip_interface(text)
        except ValueError:
            c.add(f"{path}.{side}", f"invalid address `{text}`", "write ADDRESS/PREFIX, e.g. 10.0.0.1/30")
            continue
        if interface.version != version or "/" not in text:
            c.add(f"{path}.{side}", f"`{text}` is not an IPv{version} ADDRESS/PREFIX")
            continue
        parsed.append(interface)
    if len(parsed) == 2 and parsed[0].network != parsed[1].network:
        c.add(
            path,
            f"the two ends are on different subnets ({parsed[0].network} and {parsed[1].network})",
            "give both ends addresses in one subnet, e.g. 10.0.0.1/30 and 10.0.0.2/30",
        )


def container_interfaces(project: ProjectSpec) -> dict[str, list[tuple[str, str]]]:
    """Service -> [(interface, dotted path that makes it)], from networks then links."""
    result: dict[str, list[tuple[str, str]]] = {name: [] for name in project.services}
    for name, service in project.services.items():
        for network, interface in service.interface_names().items():
            explicit = service.networks[network].interface_name is not None
            path = f"services.{name}.networks.{network}" + (".interface_name" if explicit else "")
            result[name].append((interface, path))
    for index, link in enumerate(project.links):
        for side, end in enumerate(link.endpoints):
            if end.service in result:
                result[end.service].append((end.interface, f"links.{index}.endpoints.{side}"))
    return result


def _check_interfaces(c: _Checker) -> None:
    for service, interfaces in container_interfaces(c.project).items():
        seen: dict[str, str] = {}
        for interface, path in interfaces:
            if interface == "lo" or not is_valid_ifname(interface):
                c.add(
                    path,
                    f"invalid interface name `{interface}`",
                    "use at most 15 bytes of letters, digits, '_', '-', '.'; not lo",
                )
            elif interface in seen:
                c.add(
                    path,
                    f"interface {interface} of `{service}` is already made by {seen[interface]}",
                    "give each network attachment and link end its own interface name",
                )
            else:
                seen[interface] = path


# --------------------------------------------------------------------------- ports


def _bindings(service: ServiceSpec) -> Iterator[tuple[int, PortSpec]]:
    for index, port in enumerate(service.ports):
        if port.published:
            yield index, port


def _check_ports(c: _Checker) -> None:
    taken: list[tuple[str, str, int, int, str]] = []  # protocol, host_ip, first, last, owner
    for name, service in c.project.services.items():
        for index, port in _bindings(service):
            path = f"services.{name}.ports.{index}"
            first, last = port.published_range or (0, 0)
            if service.replicas > 1 and first == last:
                c.add(
                    path,
                    f"host port {first} is published by {service.replicas} replicas",
                    "publish a range (e.g. 8000-8003:80) or use one replica",
                )
            for protocol, host_ip, low, high, owner in taken:
                same_ip = not host_ip or not port.host_ip or host_ip == port.host_ip
                if protocol == port.protocol and same_ip and low <= last and first <= high and first == last:
                    c.add(
                        path,
                        f"host port {port.protocol}/{first} is already published by {owner}",
                        "publish a different host port",
                    )
                    break
            taken.append((port.protocol, port.host_ip, first, last, f"`{name}`"))


# --------------------------------------------------------------------------- routes


def _service_subnets(project: ProjectSpec, name: str) -> list[IPNetwork] | None:
    """Subnets reachable from the container's interfaces; None when one is chosen at run time."""
    service = project.services[name]
    subnets: list[IPNetwork] = []
    declared = network_subnets(project)
    for network in service.networks:
        if not declared.get(network):
            return None
        subnets.extend(declared[network])
    for link in project.links:
        for side, end in enumerate(link.endpoints):
            for pair in (link.ipv4, link.ipv6):
                if end.service == name and pair is not None:
                    with contextlib.suppress(ValueError):
                        subnets.append(ipaddress.ip_interface(pair[side]).network)
    return subnets


def _check_routes(c: _Checker) -> None:
    for name, service in c.project.services.items():
        reachable = _service_subnets(c.project, name) if service.routes else None
        for index, route in enumerate(service.routes):
            path = f"services.{name}.routes.{index}"
            if route.to != "default" and _parse_network(route.to) is None:
                c.add(
                    f"{path}.to",
                    f"invalid destination `{route.to}`",
                    "write PREFIX/LENGTH (e.g. 10.0.3.0/24) or default",
                )
            if not _is_ip(route.via):
                c.add(f"{path}.via", f"invalid gateway `{route.via}`")
                continue
            via = ipaddress.ip_address(route.via)
            if reachable is not None and not any(via.version == s.version and via in s for s in reachable):
                c.add(
                    f"{path}.via",
                    f"gateway {via} is not on any subnet of `{name}`",
                    "use the address of a neighbour on one of its links or networks",
                )


# --------------------------------------------------------------------------- hosts (split labs)


def network_hosts(project: ProjectSpec) -> dict[str, list[str]]:
    """Network -> the hosts its members run on, sorted (the first holds the gateway)."""
    found: dict[str, set[str]] = {}
    for service in project.services.values():
        for network in service.networks:
            if service.host in project.hosts:
                found.setdefault(network, set()).add(service.host)
    return {network: sorted(machines) for network, machines in found.items()}


def _check_hosts(c: _Checker) -> None:
    """``host:`` names a top-level host; once hosts are given every service has one.

    A network whose members run on several hosts becomes one VXLAN segment: every
    host must plan the same addresses, so its subnet is given; an external bridge
    is one machine's.  A shared network namespace cannot cross machines.
    """
    hosts = c.project.hosts
    for name, service in sorted(c.project.services.items()):
        path = f"services.{name}.host"
        if service.host is not None and service.host not in hosts:
            c.add(path, f"unknown host `{service.host}`", c.suggest(service.host, list(hosts), "hosts"))
        elif service.host is None and hosts:
            c.add(f"services.{name}", f"service `{name}` has no `host:`", f"give one of {', '.join(hosts)}")
    if not hosts:
        return
    placed = {n: s.host for n, s in c.project.services.items() if s.host in hosts}
    for network, machines in sorted(network_hosts(c.project).items()):
        if len(machines) < 2:
            continue
        spec = c.project.networks[network]
        if spec.external:
            c.add(
                f"networks.{network}",
                f"external network `{network}` has members on hosts {', '.join(machines)}",
                "an external bridge is one machine's: keep its members on one host",
            )
        elif not any(pool.subnet for pool in spec.ipam.config):
            c.add(
                f"networks.{network}",
                f"network `{network}` spans hosts {', '.join(machines)}: its subnet must be given",
                "add ipam: {config: [{subnet: ...}]}, so that every host plans the same addresses",
            )
    for name, service in sorted(c.project.services.items()):
        mode = service.network_mode or ""
        owner = mode.partition(":")[2]
        if mode.startswith("service:") and owner in placed and placed.get(name) != placed[owner]:
            c.add(
                f"services.{name}.network_mode",
                f"`{name}` shares the network namespace of `{owner}`, which is on another host",
                f"put it on host {placed[owner]}",
            )
