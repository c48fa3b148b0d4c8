"""A lab split across hosts: the part of the desired state one host makes.

The file places each service on a host (top-level ``hosts:`` with each one's
underlay address, ``host:`` on the services).  ``composer up --host NAME`` on a
machine makes that host's part, computed here from the whole desired state:

* the containers of the services on NAME (and their interfaces and routes);
* the links with both ends on NAME, as they are, and those whose one container
  runs on NAME and whose other end is outside the project (the host, a macvlan);
* each link with one end on NAME as a *tunnel link*: the local end, whose
  interface is a VXLAN device towards the other host's address instead of a
  veth, named, addressed and shaped as the file says.  Its VNI is derived
  from the project and the link, so both hosts compute the same one without
  talking; its MTU is the link's, or 1500 less the VXLAN overhead;
* networks where a member runs here; a network whose members run on several
  hosts is one Ethernet segment: each host's bridge gets a VXLAN port flooding
  to the other hosts (VNI from the project and the network), MTU 1500 less the
  overhead unless given, and only the first host (by name) holds the gateway
  address (the checks make the subnet explicit, so every host plans the same
  addresses);
* no dependency on a service of another host (it cannot be waited for from here).

Without ``--host`` the whole file runs on one machine, ``hosts:`` ignored: the
same lab can be tried locally before it is split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from composer.model.desired import (
    VXLAN_OVERHEAD,
    DesiredContainer,
    DesiredInterface,
    DesiredLink,
    DesiredNetwork,
    DesiredState,
    Segment,
    Tunnel,
)
from composer.model.ids import ResourceId, network_id

DEFAULT_MTU = 1500


def vni_of(project: str, link: ResourceId) -> int:
    """A VXLAN network identifier (1 .. 2**24 - 1) from the project and the link: the same on every host."""
    digest = hashlib.sha256(f"{project}/{link}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**24 - 1) + 1


def host_part(
    desired: DesiredState,
    placement: Mapping[str, str],
    addresses: Mapping[str, str],
    link_services: Mapping[ResourceId, tuple[str, str]],
    host: str,
    network_hosts: Mapping[str, Sequence[str]] | None = None,
) -> DesiredState:
    """What ``host`` makes.

    ``placement`` is service -> host, ``addresses`` host -> underlay address, and
    ``link_services`` link -> the services at its a and b ends, ``network_hosts``
    network -> the hosts of its members, sorted.  The desired state may hold the
    containers of every service or only those of ``host``.
    """
    containers = {
        rid: _without_remote_dependencies(c, placement, host)
        for rid, c in desired.containers.items()
        if placement.get(c.service) == host
    }
    local = {c.name: c for c in containers.values()}
    links: dict[ResourceId, DesiredLink] = {}
    interfaces: dict[ResourceId, DesiredInterface] = {
        rid: i for rid, i in desired.interfaces.items() if i.container in local
    }
    for rid, link in desired.links.items():
        a_service, b_service = link_services[rid]
        if link.outside is not None:  # its other end is the host of its container
            if link.a_container in local:
                links[rid] = link
            continue
        a_here, b_here = placement.get(a_service) == host, placement.get(b_service) == host
        if a_here and b_here:
            links[rid] = link
        elif a_here or b_here:
            remote = b_service if a_here else a_service
            tunnel_link, end = _tunnel(
                desired, link, a_here, remote, addresses[placement[remote]], addresses[host]
            )
            links[rid] = tunnel_link
            interfaces[end.rid] = end
    networks = {
        rid: _segment(n, network_hosts or {}, addresses, host, desired.project)
        for rid, n in desired.networks.items()
        if any(a.network == n.name for c in containers.values() for a in c.attachments)
    }
    for rid, interface in list(interfaces.items()):
        network = _attached_network(containers, interface)
        if network is not None and networks[network_id(network)].segment is not None:
            interfaces[rid] = replace(interface, mtu=networks[network_id(network)].mtu)
    routes = {rid: r for rid, r in desired.routes.items() if r.container in local}
    return DesiredState(desired.project, networks, containers, links, desired.volumes, interfaces, routes)


def _segment(
    network: DesiredNetwork,
    network_hosts: Mapping[str, Sequence[str]],
    addresses: Mapping[str, str],
    host: str,
    project: str,
) -> DesiredNetwork:
    machines = list(network_hosts.get(network.name, ()))
    if len(machines) < 2:
        return network
    segment = Segment(
        vni=vni_of(project, network.rid),
        local=addresses[host],
        remotes=tuple(addresses[m] for m in machines if m != host),
        gateway_here=machines[0] == host,
    )
    mtu = network.mtu or DEFAULT_MTU - VXLAN_OVERHEAD
    digest = f"{network.config_hash}:{segment}:{mtu}"
    return replace(network, segment=segment, mtu=mtu, config_hash=hashlib.sha256(digest.encode()).hexdigest())


def _attached_network(
    containers: Mapping[ResourceId, DesiredContainer], interface: DesiredInterface
) -> str | None:
    if interface.carrier.kind != "container":
        return None
    container = containers.get(interface.carrier)
    if container is None:
        return None
    return next((a.network for a in container.attachments if a.ifname == interface.ifname), None)


def _tunnel(
    desired: DesiredState, link: DesiredLink, a_here: bool, remote_service: str, remote: str, local: str
) -> tuple[DesiredLink, DesiredInterface]:
    here, here_if, there_if = (
        (link.a_container, link.a_ifname, link.b_ifname)
        if a_here
        else (link.b_container, link.b_ifname, link.a_ifname)
    )
    tunnel = Tunnel(
        local=local,
        remote=remote,
        vni=vni_of(desired.project, link.rid),
        remote_end=f"{remote_service}:{there_if}",
    )
    end = next(i for i in desired.interfaces.values() if i.container == here and i.ifname == here_if)
    end = replace(end, mtu=end.mtu or DEFAULT_MTU - VXLAN_OVERHEAD)
    made = DesiredLink(
        link.rid,
        here,
        here_if,
        "",
        "",
        f"{link.config_hash}:{tunnel.local}>{tunnel.remote}:{tunnel.vni}",
        tunnel,
    )
    return made, end


def _without_remote_dependencies(
    container: DesiredContainer, placement: Mapping[str, str], host: str
) -> DesiredContainer:
    kept = {name: d for name, d in container.depends_on.items() if placement.get(name) == host}
    return container if len(kept) == len(container.depends_on) else replace(container, depends_on=kept)
