"""IP address management: subnets for networks, addresses for containers.  Pure.

Subnets
    A network's subnet is the one its ``ipam.config`` names, else the subnet it had
    before (when still free), else the first free block of the pool.  The default
    IPv4 pool is Docker's: ``172.17.0.0/16`` .. ``172.31.0.0/16`` in /16 blocks, then
    ``192.168.0.0/16`` in /20 blocks.  The IPv6 pool (for ``enable_ipv6`` without a
    subnet) is composer's ULA prefix ``fd6d:636f:6d70::/48`` in /64 blocks.  "Free"
    means overlapping nothing in ``in_use`` (the host's routes, other composer
    projects' networks) nor another network of this project.  Networks with a
    configured subnet are placed first, then the others in sorted name order, so
    the same input always gives the same answer.  Callers hold the state-store
    lock while planning so that two projects planned at once cannot collide.

Addresses
    The gateway is the subnet's first host address unless configured.  Static
    ``ipv4_address``/``ipv6_address`` are placed first; then every other container,
    in sorted name order, keeps its previous address when it is still valid and
    free, else takes the lowest free address of ``ip_range`` (the whole subnet by
    default), skipping the gateway and the statics.  ``up`` after ``down`` gives the
    same addresses when the previous assignment is passed back in.

Errors found from the project file alone (an address outside its subnet, a
duplicate, a gateway outside the subnet) come back as :class:`SpecIssue` from
:func:`check_ipam` (and :func:`plan_addressing` raises them all as one
:class:`SpecError`); conflicts with the host or other projects, and an exhausted
pool, raise :class:`PlanError`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from composer.errors import PlanError, SpecError, SpecIssue

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class PoolBlock:
    """A base network cut into subnets of ``prefixlen`` bits."""

    base: str
    prefixlen: int


DEFAULT_POOL4: tuple[PoolBlock, ...] = (
    *(PoolBlock(f"172.{second}.0.0/16", 16) for second in range(17, 32)),
    PoolBlock("192.168.0.0/16", 20),
)
DEFAULT_POOL6: tuple[PoolBlock, ...] = (PoolBlock("fd6d:636f:6d70::/48", 64),)


@dataclass(frozen=True)
class IpamConfig:
    """One entry of a network's ``ipam.config``."""

    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None


@dataclass(frozen=True)
class NetworkRequest:
    """What the project asks for one network."""

    name: str
    config: tuple[IpamConfig, ...] = ()
    enable_ipv6: bool = False


@dataclass(frozen=True)
class EndpointRequest:
    """A container on a network, with its static addresses if any."""

    container: str
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    path: str = ""  # where the statics were written, e.g. services.web.networks.front (for messages)


@dataclass(frozen=True)
class InUse:
    """A network already taken, and by whom (for the error message)."""

    network: str
    owner: str  # "host route", "project shop network backend", ...


@dataclass(frozen=True)
class FamilyPlan:
    """The addressing of one address family on one network."""

    subnet: str
    gateway: str
    ip_range: str | None = None
    addresses: Mapping[str, str] = field(default_factory=dict)  # container -> address (no prefix)

    def cidr(self, container: str) -> str | None:
        """``"172.18.0.2/16"`` for the container, None when it has no address here."""
        address = self.addresses.get(container)
        return f"{address}/{ipaddress.ip_network(self.subnet).prefixlen}" if address else None

    def gateway_cidr(self) -> str:
        return f"{self.gateway}/{ipaddress.ip_network(self.subnet).prefixlen}"


@dataclass(frozen=True)
class NetworkAddressing:
    """The addressing of one network: the state store keeps it between runs."""

    name: str
    ipv4: FamilyPlan | None = None
    ipv6: FamilyPlan | None = None

    def families(self) -> tuple[FamilyPlan, ...]:
        return tuple(plan for plan in (self.ipv4, self.ipv6) if plan is not None)

    def to_dict(self) -> dict[str, Any]:
        def family(plan: FamilyPlan | None) -> dict[str, Any] | None:
            if plan is None:
                return None
            return {
                "subnet": plan.subnet,
                "gateway": plan.gateway,
                "ip_range": plan.ip_range,
                "addresses": dict(sorted(plan.addresses.items())),
            }

        return {"name": self.name, "ipv4": family(self.ipv4), "ipv6": family(self.ipv6)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkAddressing:
        def family(raw: Mapping[str, Any] | None) -> FamilyPlan | None:
            if not raw:
                return None
            return FamilyPlan(raw["subnet"], raw["gateway"], raw.get("ip_range"), dict(raw["addresses"]))

        return cls(str(data["name"]), family(data.get("ipv4")), family(data.get("ipv6")))


# ----------------------------------------------------------------------------- checks


def _parse_network(text: str) -> Network | str:
    """The network, or the reason it is not one."""
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"{text!r} is not a subnet in CIDR form (like 172.28.0.0/16)"
    return f"{text!r} has host bits set; the subnet is {loose}"


def _parse_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _usable(network: Network, address: Address) -> bool:
    """Inside the network and, for IPv4 subnets wider than /31, not network/broadcast."""
    if address not in network:
        return False
    if network.version == 4:
        return network.prefixlen >= 31 or address not in (network.network_address, network.broadcast_address)
    return address != network.network_address  # the subnet-router anycast address


def _inside(inner: Network, outer: Network) -> bool:
    # Written with addresses because subnet_of() is typed per IP version.
    return inner.network_address in outer and inner.broadcast_address in outer


def _issue(source: str, path: str, message: str, hint: str = "") -> SpecIssue:
    return SpecIssue(file=source, line=0, column=0, path=path, message=message, hint=hint)


def _check_config(entry: IpamConfig, path: str, source: str) -> list[SpecIssue]:
    if entry.subnet is None:
        if entry.ip_range or entry.gateway:
            return [_issue(source, path, "ip_range and gateway need a subnet")]
        return []
    subnet = _parse_network(entry.subnet)
    if isinstance(subnet, str):
        return [_issue(source, f"{path}.subnet", subnet)]
    issues: list[SpecIssue] = []
    if entry.ip_range is not None:
        ip_range = _parse_network(entry.ip_range)
        if isinstance(ip_range, str):
            issues.append(_issue(source, f"{path}.ip_range", ip_range))
        elif not _inside(ip_range, subnet):
            issues.append(_issue(source, f"{path}.ip_range", f"{ip_range} is not inside the subnet {subnet}"))
    if entry.gateway is not None:
        gateway = _parse_address(entry.gateway)
        if gateway is None:
            issues.append(_issue(source, f"{path}.gateway", f"{entry.gateway!r} is not an IP address"))
        elif not _usable(subnet, gateway):
            issues.append(
                _issue(source, f"{path}.gateway", f"{gateway} is not a usable address of the subnet {subnet}")
            )
    return issues


def _configured_subnets(request: NetworkRequest) -> dict[int, IpamConfig]:
    """The first valid config entry of each IP version."""
    found: dict[int, IpamConfig] = {}
    for entry in request.config:
        parsed = _parse_network(entry.subnet) if entry.subnet else None
        if parsed is not None and not isinstance(parsed, str):
            found.setdefault(parsed.version, entry)
    return found


def _check_static(
    request: NetworkRequest, endpoint: EndpointRequest, version: int, path: str, source: str
) -> list[SpecIssue]:
    text = endpoint.ipv4_address if version == 4 else endpoint.ipv6_address
    if text is None:
        return []
    key = "ipv4_address" if version == 4 else "ipv6_address"
    where = f"{path}.{key}"
    address = _parse_address(text)
    if address is None or address.version != version:
        return [_issue(source, where, f"{text!r} is not an IPv{version} address")]
    entry = _configured_subnets(request).get(version)
    if entry is None or entry.subnet is None:
        return [
            _issue(
                source,
                where,
                f"a static address needs a configured IPv{version} subnet on network {request.name}",
                hint=f"set networks.{request.name}.ipam.config[].subnet",
            )
        ]
    subnet = ipaddress.ip_network(entry.subnet)
    if not _usable(subnet, address):
        return [_issue(source, where, f"{address} is outside the subnet {subnet} of network {request.name}")]
    if address == _gateway(subnet, entry):
        return [_issue(source, where, f"{address} is the gateway of network {request.name}")]
    return []


def _endpoint_path(request: NetworkRequest, endpoint: EndpointRequest) -> str:
    return endpoint.path or f"networks.{request.name}.endpoints.{endpoint.container}"


def _check_duplicates(
    request: NetworkRequest, endpoints: Sequence[EndpointRequest], source: str
) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    for version in (4, 6):
        owners: dict[Address, str] = {}
        for endpoint in sorted(endpoints, key=lambda e: e.container):
            text = endpoint.ipv4_address if version == 4 else endpoint.ipv6_address
            address = _parse_address(text) if text else None
            if address is None:
                continue
            if address in owners:
                issues.append(
                    _issue(
                        source,
                        _endpoint_path(request, endpoint),
                        f"address {address} on network {request.name} is also given to {owners[address]}",
                    )
                )
            owners.setdefault(address, endpoint.container)
    return issues


def check_ipam(
    request: NetworkRequest, endpoints: Sequence[EndpointRequest] = (), *, source: str = ""
) -> list[SpecIssue]:
    """Every problem of one network's ipam config and static addresses, found purely.

    Paths are ``networks.<name>.ipam.config[<i>]...`` and, for statics, the
    endpoint's ``path`` (default ``networks.<name>.endpoints.<container>``) plus
    ``.ipv4_address``/``.ipv6_address``; callers with line information may re-place them.
    """
    issues: list[SpecIssue] = []
    base = f"networks.{request.name}.ipam.config"
    seen: dict[int, int] = {}
    for position, entry in enumerate(request.config):
        issues.extend(_check_config(entry, f"{base}[{position}]", source))
        parsed = _parse_network(entry.subnet) if entry.subnet else None
        if parsed is not None and not isinstance(parsed, str):
            if parsed.version in seen:
                issues.append(
                    _issue(
                        source,
                        f"{base}[{position}].subnet",
                        f"a second IPv{parsed.version} subnet is not supported",
                    )
                )
            seen.setdefault(parsed.version, position)
    if 6 in seen and not request.enable_ipv6:
        issues.append(
            _issue(source, f"networks.{request.name}.enable_ipv6", "an IPv6 subnet needs enable_ipv6: true")
        )
    for endpoint in endpoints:
        for version in (4, 6):
            issues.extend(
                _check_static(request, endpoint, version, _endpoint_path(request, endpoint), source)
            )
    issues.extend(_check_duplicates(request, endpoints, source))
    return sorted(issues)


# ----------------------------------------------------------------------------- subnets


def _pool_subnets(pool: Sequence[PoolBlock]) -> Iterator[Network]:
    for block in pool:
        yield from ipaddress.ip_network(block.base).subnets(new_prefix=block.prefixlen)


def _overlap(candidate: Network, taken: Sequence[tuple[Network, str]]) -> str | None:
    for network, owner in taken:
        if network.version == candidate.version and candidate.overlaps(network):
            return f"{owner} ({network})"
    return None


def _pick_from_pool(pool: Sequence[PoolBlock], taken: Sequence[tuple[Network, str]]) -> Network | None:
    for candidate in _pool_subnets(pool):
        if _overlap(candidate, taken) is None:
            return candidate
    return None


def _previous_subnet(previous: NetworkAddressing | None, version: int) -> Network | None:
    if previous is None:
        return None
    plan = previous.ipv4 if version == 4 else previous.ipv6
    return ipaddress.ip_network(plan.subnet) if plan else None


def _choose_subnet(
    request: NetworkRequest,
    version: int,
    taken: list[tuple[Network, str]],
    previous: NetworkAddressing | None,
    pool: Sequence[PoolBlock],
) -> Network:
    entry = _configured_subnets(request).get(version)
    if entry is not None and entry.subnet is not None:
        subnet = ipaddress.ip_network(entry.subnet)
        clash = _overlap(subnet, taken)
        if clash is not None:
            raise PlanError(
                f"network {request.name}: subnet {subnet} overlaps {clash}",
                hint="choose another ipam subnet, or leave it out to get a free one",
            )
        return subnet
    kept = _previous_subnet(previous, version)
    if kept is not None and _overlap(kept, taken) is None:
        return kept
    chosen = _pick_from_pool(pool, taken)
    if chosen is None:
        raise PlanError(
            f"network {request.name}: no free IPv{version} subnet left in the address pool",
            hint="remove unused networks or configure a subnet with ipam.config",
        )
    return chosen


def plan_network_subnets(
    requests: Sequence[NetworkRequest],
    in_use: Sequence[InUse] = (),
    previous: Mapping[str, NetworkAddressing] | None = None,
    *,
    pool4: Sequence[PoolBlock] = DEFAULT_POOL4,
    pool6: Sequence[PoolBlock] = DEFAULT_POOL6,
) -> dict[str, dict[int, Network]]:
    """``{network: {4: subnet, 6: subnet}}`` for every request; see the module docstring."""
    previous = previous or {}
    taken: list[tuple[Network, str]] = [
        (ipaddress.ip_network(u.network, strict=False), u.owner) for u in in_use
    ]
    result: dict[str, dict[int, Network]] = {name: {} for name in sorted(r.name for r in requests)}
    # Configured subnets first so that pool picks go around them.
    ordered = sorted(requests, key=lambda r: (not _configured_subnets(r), r.name))
    for version in (4, 6):
        for request in ordered:
            if version == 6 and not request.enable_ipv6:
                continue
            subnet = _choose_subnet(
                request, version, taken, previous.get(request.name), pool4 if version == 4 else pool6
            )
            taken.append((subnet, f"network {request.name} of this project"))
            result[request.name][version] = subnet
    return result


# ----------------------------------------------------------------------------- addresses


def _hosts(network: Network) -> Iterator[Address]:
    if network.version == 4 and network.prefixlen >= 31:
        yield from network
        return
    first = int(network.network_address) + 1
    last = int(network.broadcast_address) - (1 if network.version == 4 else 0)
    for value in range(first, last + 1):
        yield ipaddress.ip_address(value)


def _gateway(subnet: Network, entry: IpamConfig | None) -> Address:
    if entry is not None and entry.gateway:
        return ipaddress.ip_address(entry.gateway)
    return next(_hosts(subnet))


def _static(endpoint: EndpointRequest, version: int) -> Address | None:
    text = endpoint.ipv4_address if version == 4 else endpoint.ipv6_address
    return ipaddress.ip_address(text) if text else None


def assign_family(
    network_name: str,
    subnet: Network,
    entry: IpamConfig | None,
    endpoints: Sequence[EndpointRequest],
    previous: FamilyPlan | None = None,
) -> FamilyPlan:
    """Gateway and one address per endpoint for one family of one network."""
    version = subnet.version
    gateway = _gateway(subnet, entry)
    ip_range = ipaddress.ip_network(entry.ip_range) if entry and entry.ip_range else subnet
    used: set[Address] = {gateway}
    assigned: dict[str, Address] = {}
    for endpoint in sorted(endpoints, key=lambda e: e.container):
        static = _static(endpoint, version)
        if static is None:
            continue
        if static in used:
            raise PlanError(
                f"network {network_name}: address {static} of {endpoint.container} is already taken"
            )
        used.add(static)
        assigned[endpoint.container] = static
    old = dict(previous.addresses) if previous and previous.subnet == str(subnet) else {}
    dynamic = sorted(e.container for e in endpoints if e.container not in assigned)
    # Previous addresses first (all of them), so that a new container cannot take an old one's.
    for container in dynamic:
        kept = _parse_address(old.get(container, ""))
        if kept is not None and kept not in used and _usable(subnet, kept):
            used.add(kept)
            assigned[container] = kept
    free = (address for address in ip_range if _usable(subnet, address) and address not in used)
    for container in dynamic:
        if container in assigned:
            continue
        address = next(free, None)
        if address is None:
            raise PlanError(f"network {network_name}: no free address left in {ip_range} for {container}")
        used.add(address)
        assigned[container] = address
    return FamilyPlan(
        subnet=str(subnet),
        gateway=str(gateway),
        ip_range=str(ip_range) if ip_range != subnet else None,
        addresses={name: str(assigned[name]) for name in sorted(assigned)},
    )


def plan_addressing(
    requests: Sequence[NetworkRequest],
    endpoints: Mapping[str, Sequence[EndpointRequest]],
    in_use: Sequence[InUse] = (),
    previous: Mapping[str, NetworkAddressing] | None = None,
    *,
    pool4: Sequence[PoolBlock] = DEFAULT_POOL4,
    pool6: Sequence[PoolBlock] = DEFAULT_POOL6,
) -> dict[str, NetworkAddressing]:
    """Subnets, gateways and container addresses of every network of a project.

    ``endpoints`` maps a network name to the containers on it.  Raises
    :class:`SpecError` with every :func:`check_ipam` issue of every network first,
    then :class:`PlanError` for conflicts with ``in_use`` or an exhausted pool.
    """
    issues = [i for r in requests for i in check_ipam(r, endpoints.get(r.name, ()))]
    if issues:
        raise SpecError(issues)
    previous = previous or {}
    subnets = plan_network_subnets(requests, in_use, previous, pool4=pool4, pool6=pool6)
    result: dict[str, NetworkAddressing] = {}
    for request in sorted(requests, key=lambda r: r.name):
        configs = _configured_subnets(request)
        before = previous.get(request.name)
        families: dict[int, FamilyPlan] = {}
        for version, subnet in subnets[request.name].items():
            earlier = (before.ipv4 if version == 4 else before.ipv6) if before else None
            families[version] = assign_family(
                request.name, subnet, configs.get(version), endpoints.get(request.name, ()), earlier
            )
        result[request.name] = NetworkAddressing(request.name, families.get(4), families.get(6))
    return result
