"""The desired state: the project file resolved into the resources composer will make.

Pure values, computed by :func:`composer.model.build.build_desired` from the
loaded project, the images' configs and a few facts read beforehand; nothing
here touches the host.  Every map is keyed by the resource's
:class:`~composer.model.ids.ResourceId`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.model.container import ContainerConfig
from composer.model.health import HealthCheck
from composer.model.ids import ResourceId, firewall_id, interface_id
from composer.model.ipam import NetworkAddressing


@dataclass(frozen=True)
class Segment:
    """A network whose members run on several hosts: its bridge joins a VXLAN segment to the others.

    Only the first host (by name) holds the gateway address: one address on one
    Ethernet segment; the other hosts' containers reach it across the tunnel.
    """

    vni: int
    local: str  # this host's underlay address
    remotes: tuple[str, ...]  # the other hosts' (the flood list)
    gateway_here: bool
    port: int = 4789


@dataclass(frozen=True)
class DesiredNetwork:
    rid: ResourceId
    name: str
    bridge: str
    external: bool
    internal: bool
    mtu: int | None
    addressing: NetworkAddressing | None
    config_hash: str
    segment: Segment | None = None

    @property
    def bridge_addresses(self) -> list[str]:
        """What the bridge holds: the gateways, unless another host of the segment does."""
        return self.gateways if self.segment is None or self.segment.gateway_here else []

    @property
    def gateways(self) -> list[str]:
        if self.addressing is None:
            return []
        return [family.gateway_cidr() for family in self.addressing.families()]

    @property
    def subnets(self) -> list[str]:
        if self.addressing is None:
            return []
        return [family.subnet for family in self.addressing.families()]


@dataclass(frozen=True)
class Attachment:
    """A container's interface on a project network."""

    network: str
    ifname: str
    addresses: tuple[str, ...]  # with prefix length
    gateway4: str | None
    gateway6: str | None
    aliases: tuple[str, ...]
    mac_address: str | None = None  # the container end's; None: the kernel picks one


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str
    host_port: int
    container_port: int
    protocol: str
    container_address: str  # the IPv4 address the DNAT points at


@dataclass(frozen=True)
class Dependency:
    """One ``depends_on`` entry, resolved."""

    condition: str = "service_started"
    required: bool = True
    restart: bool = False


@dataclass(frozen=True)
class DesiredContainer:
    rid: ResourceId
    service: str
    name: str
    number: int
    config: ContainerConfig
    config_hash: str  # the service's config hash (`composer config --hash`)
    image_id: str
    network_mode: str  # "bridge", "host", "none", or "container:<name>"
    attachments: tuple[Attachment, ...]
    ports: tuple[PublishedPort, ...]
    depends_on: Mapping[str, Dependency]
    restart: str
    health: HealthCheck | None
    oneoff: bool = False  # a `composer run` container of ``service``

    @property
    def owns_netns(self) -> bool:
        return self.network_mode in ("bridge", "none")

    @property
    def netns_owner(self) -> str:
        """The container whose network namespace this one joins, or "" when it has its own."""
        return self.network_mode.partition(":")[2] if self.network_mode.startswith("container:") else ""


VXLAN_PORT = 4789  # IANA's
VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8


@dataclass(frozen=True)
class Tunnel:
    """The far side of a link whose other end runs on another host: a VXLAN tunnel to it."""

    local: str  # this host's underlay address
    remote: str  # the other host's
    vni: int
    remote_end: str  # SERVICE:IFNAME on the other host, for messages
    port: int = VXLAN_PORT


@dataclass(frozen=True)
class OutsideEnd:
    """The end of a link outside the project's containers.

    Either a veth end named ``host_ifname`` in the host's network namespace (the
    one composer runs in), up, and a port of the existing ``bridge`` when one is
    named; or (``macvlan``) no second end at all: the container's end is a
    macvlan interface on the host's interface ``macvlan``, in ``mode``, born in
    the container.  Both carry composer's ifalias marker: only a marked
    interface is ever removed, and neither the bridge nor the parent is.
    """

    host_ifname: str = ""
    bridge: str = ""
    macvlan: str = ""
    mode: str = "bridge"

    def describe(self) -> str:
        if self.macvlan:
            return f"macvlan ({self.mode}) on {self.macvlan}"
        return f"host end {self.host_ifname}" + (f" on bridge {self.bridge}" if self.bridge else "")


@dataclass(frozen=True)
class DesiredLink:
    """A veth pair between two containers, or (``tunnel``) one end and a VXLAN tunnel to another host,
    or (``outside``) one end and an end outside the project (the host, a macvlan).

    What is configured on each end is its DesiredInterface.  A tunnel or outside
    link has its container's end as ``a``; ``b_container`` and ``b_ifname`` are empty.
    """

    rid: ResourceId
    a_container: str
    a_ifname: str
    b_container: str
    b_ifname: str
    config_hash: str  # of what makes the pair itself: its ends (settings are the interfaces')
    tunnel: Tunnel | None = None
    outside: OutsideEnd | None = None

    @property
    def one_ended(self) -> bool:
        """Only ``a`` is a container of this host's part: a tunnel, or an end outside the project."""
        return self.tunnel is not None or self.outside is not None

    @property
    def ends(self) -> tuple[ResourceId, ...]:
        """The containers at both ends (the local one only, for a tunnel or an outside end)."""
        if self.one_ended:
            return (ResourceId.of("container", self.a_container),)
        return (ResourceId.of("container", self.a_container), ResourceId.of("container", self.b_container))

    @property
    def interfaces(self) -> tuple[ResourceId, ...]:
        if self.one_ended:
            return (interface_id(self.a_container, self.a_ifname),)
        return (interface_id(self.a_container, self.a_ifname), interface_id(self.b_container, self.b_ifname))


@dataclass(frozen=True)
class DesiredInterface:
    """An interface composer configures in a container, and what carries it (a link or the container).

    The carrier's creation makes the interface with all of this applied; later,
    what the kernel shows is compared with it and only the differences change.
    """

    rid: ResourceId
    container: str
    netns: str
    ifname: str
    carrier: ResourceId  # link:... for a link end, container:... for a network attachment
    addresses: tuple[str, ...] = ()  # with prefix length
    mtu: int | None = None
    rate: int | None = None  # bits per second (TBF on egress)
    addresses_managed: bool = True  # False: the node sets its own (a link with addressing: node)
    delay: float | None = None  # seconds (netem on egress)
    jitter: float | None = None
    loss: float | None = None  # percent
    corrupt: float | None = None  # percent
    duplicate: float | None = None  # percent
    reorder: float | None = None  # percent sent at once, the rest delayed
    up: bool = True
    sysctls: tuple[tuple[str, str], ...] = ()  # net.ipv4.conf.IFNAME.* and net.ipv6.conf.IFNAME.*

    @property
    def needs_netem(self) -> bool:
        return any(v is not None for v in self.netem_values())

    def netem_values(self) -> tuple[float | None, ...]:
        return (self.delay, self.jitter, self.loss, self.corrupt, self.duplicate, self.reorder)

    @property
    def shaped(self) -> bool:
        return self.rate is not None or self.needs_netem


@dataclass(frozen=True)
class DesiredRoute:
    """A route in a container, through the interface that carries its gateway."""

    rid: ResourceId
    container: str
    netns: str
    destination: str  # a normalised CIDR: 0.0.0.0/0 or ::/0 for a default route
    gateway: str
    device: str  # the interface it leaves through
    carrier: ResourceId  # what makes that interface: a link, or the container (attachments)
    made_by_carrier: bool  # installed when the carrier is made (a network's default gateway)
    config_hash: str

    def describe(self) -> str:
        return f"{self.destination} via {self.gateway}"


@dataclass(frozen=True)
class DesiredVolume:
    rid: ResourceId
    name: str
    path: Path
    external: bool


@dataclass(frozen=True)
class DesiredState:
    project: str
    networks: Mapping[ResourceId, DesiredNetwork] = field(default_factory=dict)
    containers: Mapping[ResourceId, DesiredContainer] = field(default_factory=dict)
    links: Mapping[ResourceId, DesiredLink] = field(default_factory=dict)
    volumes: Mapping[ResourceId, DesiredVolume] = field(default_factory=dict)
    interfaces: Mapping[ResourceId, DesiredInterface] = field(default_factory=dict)
    routes: Mapping[ResourceId, DesiredRoute] = field(default_factory=dict)
    untouched_services: frozenset[str] = frozenset()  # in the file, but left out of this `up SERVICE...`
    whole: DesiredState | None = None  # the whole project, when this is a part of it (firewall rules)

    @property
    def firewall_view(self) -> DesiredState:
        """Published ports and NAT cover every service, not only the ones this `up` names."""
        return self.whole or self

    @classmethod
    def empty(cls, project: str) -> DesiredState:
        return cls(project=project)

    def containers_of(self, service: str) -> list[DesiredContainer]:
        return sorted((c for c in self.containers.values() if c.service == service), key=lambda c: c.number)

    @property
    def firewall_rid(self) -> ResourceId:
        return firewall_id(self.project)

    def network_named(self, name: str) -> DesiredNetwork | None:
        return self.networks.get(ResourceId.of("network", name))

    def interfaces_of(self, container: str) -> list[DesiredInterface]:
        return sorted(
            (i for i in self.interfaces.values() if i.container == container), key=lambda i: i.ifname
        )

    def routes_of(self, container: str) -> list[DesiredRoute]:
        return sorted((r for r in self.routes.values() if r.container == container), key=lambda r: r.rid)

    @property
    def needs_netem(self) -> bool:
        return any(i.needs_netem for i in self.interfaces.values())

    @property
    def needs_firewall(self) -> bool:
        view = self.firewall_view
        nat = any(not n.internal and not n.external for n in view.networks.values())
        return nat or any(c.ports for c in view.containers.values())


def canonical_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data``: the config hash of a resource."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
