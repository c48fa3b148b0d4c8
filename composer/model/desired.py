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
from composer.model.ids import ResourceId, firewall_id
from composer.model.ipam import NetworkAddressing


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
    routes: tuple[tuple[str, str], ...]
    ports: tuple[PublishedPort, ...]
    depends_on: Mapping[str, Dependency]
    restart: str
    health: HealthCheck | None

    @property
    def owns_netns(self) -> bool:
        return self.network_mode in ("bridge", "none")

    @property
    def netns_owner(self) -> str:
        """The container whose network namespace this one joins, or "" when it has its own."""
        return self.network_mode.partition(":")[2] if self.network_mode.startswith("container:") else ""


@dataclass(frozen=True)
class DesiredLink:
    rid: ResourceId
    a_container: str
    a_ifname: str
    b_container: str
    b_ifname: str
    a_addresses: tuple[str, ...]
    b_addresses: tuple[str, ...]
    mtu: int | None
    rate: int | None
    delay: float | None
    jitter: float | None
    loss: float | None
    config_hash: str

    @property
    def ends(self) -> tuple[ResourceId, ResourceId]:
        """The containers at both ends."""
        return (ResourceId.of("container", self.a_container), ResourceId.of("container", self.b_container))

    @property
    def needs_netem(self) -> bool:
        return any(v is not None for v in (self.delay, self.jitter, self.loss))


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

    @property
    def needs_firewall(self) -> bool:
        view = self.firewall_view
        nat = any(not n.internal and not n.external for n in view.networks.values())
        return nat or any(c.ports for c in view.containers.values())


def canonical_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data``: the config hash of a resource."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
