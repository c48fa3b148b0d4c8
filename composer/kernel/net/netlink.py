"""Bridges, veth pairs, addresses and routes over netlink (pyroute2, in-process).

"Host" below means the network namespace of the calling thread; a container side
is named by the path of its bind-mounted netns (see :mod:`composer.kernel.net.netns`).

Shortcuts taken on purpose, each one netlink request fewer per container:

* the container end of a veth is created *directly* inside the container's netns
  with its final name (``IFLA_NET_NS_FD`` on the peer), so there is no
  move-then-rename step and no window where a temporary name could clash;
* the host end is created already enslaved to the bridge, with its MTU and up.

Every interface composer creates carries an ifalias ``composer:<project>:<id>``
(:func:`composer.model.naming.ifalias`); :func:`list_owned_links` finds them by it.
A link's host end is named by the file, not by composer's prefix: it is born
under a prefixed name, marked, then renamed, and :func:`delete_marked_link`
removes it only while it carries the marker (a user's interface of that name stays).
Netlink errors are translated by their errno (``NetlinkError.code``) into
:class:`~composer.errors.HostError`.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from composer.errors import HostError
from composer.kernel.net.netns import netns_iproute
from composer.model import naming

# IFA_F_NODAD: an IPv6 address usable at once, without duplicate address detection
# (the subnet is ours, so a duplicate is a planning bug, not something to detect).
_IFA_F_NODAD = 0x02


@dataclass(frozen=True)
class OwnedLink:
    """A host interface carrying composer's ifalias marker."""

    name: str
    alias: str
    project: str
    resource_id: str
    kind: str  # "bridge", "veth", ...


@contextlib.contextmanager
def _netlink(action: str) -> Iterator[None]:
    """Translate a netlink or OS failure of ``action`` into a HostError with its errno."""
    try:
        yield
    except NetlinkError as exc:
        raise HostError(action, errno=exc.code) from exc
    except OSError as exc:
        raise HostError(action, errno=exc.errno) from exc


@contextlib.contextmanager
def _iproute(netns_path: str | None = None, reuse: IPRoute | None = None) -> Iterator[IPRoute]:
    if reuse is not None:  # the caller's socket, the caller closes it
        yield reuse
        return
    ipr = netns_iproute(netns_path)
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def _require_index(ipr: IPRoute, name: str, where: str = "the host") -> int:
    index = _index(ipr, name)
    if index is None:
        raise HostError(f"interface {name} does not exist in {where}", errno=errno.ENODEV)
    return index


def _link_kind(link: Any) -> str:
    info = link.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    return str(kind) if kind else ""


def _add_address(ipr: IPRoute, index: int, cidr: str) -> None:
    iface = ipaddress.ip_interface(cidr)
    extra: dict[str, Any] = {}
    if iface.version == 6:
        extra["IFA_FLAGS"] = _IFA_F_NODAD
    try:
        ipr.addr("add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen, **extra)
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:  # already there: ensure is idempotent
            raise


def _default_route(ipr: IPRoute, gateway: str) -> None:
    if ipaddress.ip_address(gateway).version == 6:
        ipr.route("replace", dst="::/0", gateway=gateway, family=socket.AF_INET6)
    else:
        ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, family=socket.AF_INET)


def link_index(name: str, ipr: IPRoute | None = None) -> int | None:
    """The index of interface ``name`` in the host netns (or ``ipr``'s), None when it does not exist."""
    with _iproute(reuse=ipr) as handle, _netlink(f"looking up interface {name}"):
        return _index(handle, name)


def link_exists(name: str, netns_path: str | None = None) -> bool:
    with _iproute(netns_path) as ipr, _netlink(f"looking up interface {name}"):
        return _index(ipr, name) is not None


def ensure_bridge(name: str, alias: str, mtu: int | None, addresses: Sequence[str]) -> None:
    """Create (or keep) the bridge ``name`` with its marker, MTU and addresses, and set it up."""
    with _iproute() as ipr, _netlink(f"setting up bridge {name}"):
        index = _index(ipr, name)
        if index is None:
            options: dict[str, Any] = {"mtu": mtu} if mtu else {}
            ipr.link("add", ifname=name, kind="bridge", **options)
            index = _require_index(ipr, name)
        else:
            kind = _link_kind(ipr.get_links(index)[0])
            if kind != "bridge":
                raise HostError(
                    f"interface {name} exists and is a {kind or 'non-bridge'}", errno=errno.EEXIST
                )
            if mtu:
                ipr.link("set", index=index, mtu=mtu)
        ipr.link("set", index=index, IFLA_IFALIAS=alias)
        for cidr in addresses:
            _add_address(ipr, index, cidr)
        ipr.link("set", index=index, state="up")


def _configure_inside(
    netns_path: str, ifname: str, addresses: Sequence[str], gateways: Sequence[str | None]
) -> None:
    with _iproute(netns_path) as ipr:
        index = _require_index(ipr, ifname, netns_path)
        for cidr in addresses:
            _add_address(ipr, index, cidr)
        ipr.link("set", index=index, state="up")
        for gateway in gateways:
            if gateway:
                _default_route(ipr, gateway)


def _open_netns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise HostError(f"cannot open network namespace {path}", errno=exc.errno) from exc


def attach_to_bridge(
    bridge: str,
    host_ifname: str,
    alias: str,
    netns_path: str,
    ifname: str,
    addresses: Sequence[str],
    mtu: int | None = None,
    gateway4: str | None = None,
    gateway6: str | None = None,
    *,
    host_ipr: IPRoute | None = None,
    bridge_index: int | None = None,
    mac_address: str | None = None,
) -> None:
    """Plug the netns at ``netns_path`` into ``bridge`` through a veth pair.

    The host end ``host_ifname`` joins the bridge; the other end appears in the
    netns as ``ifname`` with ``addresses`` (CIDR strings), up, and default routes
    via the gateways given.  On any failure after the pair exists it is deleted.
    ``host_ipr``: an ``IPRoute`` of the host netns to reuse when attaching many;
    ``bridge_index``: the bridge's index when the caller knows it (one lookup less);
    ``mac_address``: the container end's hardware address (else the kernel's random one).
    """
    nsfd = _open_netns(netns_path)
    try:
        with _iproute(reuse=host_ipr) as ipr, _netlink(f"attaching {netns_path} to bridge {bridge}"):
            master = bridge_index if bridge_index is not None else _require_index(ipr, bridge)
            options: dict[str, Any] = {"mtu": mtu} if mtu else {}
            peer: dict[str, Any] = {"ifname": ifname, "net_ns_fd": nsfd, **options}
            if mac_address:
                peer["address"] = mac_address
            ipr.link("add", ifname=host_ifname, kind="veth", peer=peer, master=master, state="up", **options)
            try:
                ipr.link("set", ifname=host_ifname, IFLA_IFALIAS=alias)
                _configure_inside(netns_path, ifname, addresses, (gateway4, gateway6))
            except BaseException:
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", ifname=host_ifname)
                raise
    finally:
        os.close(nsfd)


def create_p2p_link(
    a_netns: str,
    a_ifname: str,
    b_netns: str,
    b_ifname: str,
    alias: str,
    addresses_a: Sequence[str] = (),
    addresses_b: Sequence[str] = (),
    mtu: int | None = None,
) -> None:
    """A veth pair between two netns, ends named as given, addressed and up.

    The pair is created from inside ``a_netns`` with the peer born in ``b_netns``
    under its final name, so no temporary host name is ever needed.
    """
    nsfd = _open_netns(b_netns)
    try:
        with _iproute(a_netns) as ipr, _netlink(f"creating link {a_ifname} -- {b_ifname}"):
            options: dict[str, Any] = {"mtu": mtu} if mtu else {}
            peer: dict[str, Any] = {"ifname": b_ifname, "net_ns_fd": nsfd, **options}
            ipr.link("add", ifname=a_ifname, kind="veth", peer=peer, **options)
            try:
                ipr.link("set", index=_require_index(ipr, a_ifname, a_netns), IFLA_IFALIAS=alias)
                _configure_inside(a_netns, a_ifname, addresses_a, ())
                _configure_inside(b_netns, b_ifname, addresses_b, ())
                with _iproute(b_netns) as peer_ipr:
                    peer_ipr.link(
                        "set", index=_require_index(peer_ipr, b_ifname, b_netns), IFLA_IFALIAS=alias
                    )
            except BaseException:
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", ifname=a_ifname)
                raise
    finally:
        os.close(nsfd)


def underlay_mtu(address: str) -> int | None:
    """The MTU of the host interface that holds ``address`` (None when no interface has it)."""
    with _iproute() as ipr, _netlink(f"reading the interface of {address}"):
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        for message in ipr.get_addr(family=family):
            if message.get_attr("IFA_ADDRESS") == address:
                link = ipr.get_links(message["index"])[0]
                return int(link.get_attr("IFLA_MTU"))
    return None


def create_vxlan_end(
    temp_name: str,
    vni: int,
    local: str,
    remote: str,
    port: int,
    netns_path: str,
    ifname: str,
    alias: str,
    addresses: Sequence[str] = (),
    mtu: int | None = None,
) -> None:
    """A unicast VXLAN device to ``remote``, made here (its UDP socket stays in this netns, the
    underlay) and moved into ``netns_path`` as ``ifname``, addressed and up.

    It is born under ``temp_name`` (composer's prefix, marked with ``alias``) so
    that a run killed before the move leaves a device cleanup can find.
    """
    nsfd = _open_netns(netns_path)
    try:
        with _iproute() as ipr, _netlink(f"creating VXLAN {vni} to {remote} for {ifname}"):
            options: dict[str, Any] = {"mtu": mtu} if mtu else {}
            ipr.link(
                "add", ifname=temp_name, kind="vxlan", vxlan_id=vni, vxlan_local=local, vxlan_group=remote,
                vxlan_port=port, vxlan_learning=0, **options,
            )  # fmt: skip
            index = _require_index(ipr, temp_name)
            try:
                ipr.link("set", index=index, IFLA_IFALIAS=alias)
                ipr.link("set", index=index, net_ns_fd=nsfd)
            except BaseException:
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", index=index)
                raise
        with _iproute(netns_path) as inside, _netlink(f"naming {ifname} in {netns_path}"):
            inside.link("set", index=_require_index(inside, temp_name, netns_path), ifname=ifname)
        _configure_inside(netns_path, ifname, addresses, ())
    finally:
        os.close(nsfd)


def create_host_end(
    temp_name: str,
    host_ifname: str,
    alias: str,
    netns_path: str,
    ifname: str,
    mtu: int | None = None,
    bridge: str | None = None,
) -> None:
    """A veth pair between the host (this netns) and ``netns_path``: ``ifname`` there, ``host_ifname``
    here, both marked with ``alias`` and up; the host end a port of ``bridge`` when one is given.

    The host end is born under ``temp_name`` (composer's prefix) and named
    ``host_ifname`` only once it carries the marker, so a run killed in between
    leaves nothing under the user's name that cleanup could not tell apart from
    the user's own interface.  The container end is born inside, final.
    """
    nsfd = _open_netns(netns_path)
    try:
        with _iproute() as ipr, _netlink(f"creating host end {host_ifname} of {ifname}"):
            options: dict[str, Any] = {"mtu": mtu} if mtu else {}
            peer: dict[str, Any] = {"ifname": ifname, "net_ns_fd": nsfd, **options}
            ipr.link("add", ifname=temp_name, kind="veth", peer=peer, **options)
            index = _require_index(ipr, temp_name)
            try:
                ipr.link("set", index=index, IFLA_IFALIAS=alias)
                ipr.link("set", index=index, ifname=host_ifname)  # still down: a rename needs that
                if bridge:
                    ipr.link("set", index=index, master=_require_index(ipr, bridge))
                ipr.link("set", index=index, state="up")
                _configure_inside(netns_path, ifname, (), ())
                with _iproute(netns_path) as inside:
                    inside.link("set", index=_require_index(inside, ifname, netns_path), IFLA_IFALIAS=alias)
            except BaseException:
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", index=index)  # takes the container end along
                raise
    finally:
        os.close(nsfd)


def create_macvlan_end(
    parent: str, mode: str, alias: str, netns_path: str, ifname: str, mtu: int | None = None
) -> None:
    """A macvlan interface on the host's ``parent``, born inside ``netns_path`` as ``ifname``, marked, up.

    It never exists in the host's namespace (``IFLA_NET_NS_FD`` on creation): the
    parent stays as it was, and the interface goes with the container's namespace.
    """
    nsfd = _open_netns(netns_path)
    try:
        with _iproute() as ipr, _netlink(f"creating macvlan {ifname} on {parent}"):
            options: dict[str, Any] = {"mtu": mtu} if mtu else {}
            ipr.link(
                "add", ifname=ifname, kind="macvlan", link=_require_index(ipr, parent), macvlan_mode=mode,
                net_ns_fd=nsfd, **options,
            )  # fmt: skip
        with _iproute(netns_path) as inside, _netlink(f"marking {ifname} in {netns_path}"):
            inside.link("set", index=_require_index(inside, ifname, netns_path), IFLA_IFALIAS=alias)
        _configure_inside(netns_path, ifname, (), ())
    finally:
        os.close(nsfd)


def host_interface(name: str) -> tuple[str, str] | None:
    """(kind, ifalias) of the host's interface ``name`` ("" when it has none), None when there is none."""
    with _iproute() as ipr, _netlink(f"looking up interface {name}"):
        index = _index(ipr, name)
        if index is None:
            return None
        link = ipr.get_links(index)[0]
        return _link_kind(link), str(link.get_attr("IFLA_IFALIAS") or "")


def delete_marked_link(name: str, alias: str, netns_path: str | None = None) -> None:
    """Delete ``name`` only while it carries ``alias``: an interface of that name that is not ours stays."""
    with _iproute(netns_path) as ipr, _netlink(f"deleting interface {name}"):
        index = _index(ipr, name)
        if index is None or ipr.get_links(index)[0].get_attr("IFLA_IFALIAS") != alias:
            return
        try:
            ipr.link("del", index=index)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise


def create_segment_port(
    bridge: str,
    name: str,
    alias: str,
    vni: int,
    local: str,
    remotes: Sequence[str],
    port: int,
    mtu: int | None = None,
) -> None:
    """A VXLAN device enslaved to ``bridge``, flooding unknown and broadcast frames to ``remotes``
    (an all-zero FDB entry per remote host) and learning the rest, as one Ethernet segment."""
    with _iproute() as ipr, _netlink(f"creating the VXLAN port {name} of {bridge}"):
        if _index(ipr, name) is not None:
            ipr.link("del", index=_index(ipr, name))  # a leftover of an interrupted run
        options: dict[str, Any] = {"mtu": mtu} if mtu else {}
        ipr.link(
            "add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local, vxlan_port=port,
            vxlan_learning=1, **options,
        )  # fmt: skip
        index = _require_index(ipr, name)
        try:
            ipr.link("set", index=index, IFLA_IFALIAS=alias)
            for remote in remotes:
                ipr.fdb("append", ifindex=index, lladdr="00:00:00:00:00:00", dst=remote)
            ipr.link("set", index=index, master=_require_index(ipr, bridge), state="up")
        except BaseException:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", index=index)
            raise


def add_route(netns_path: str | None, to: str, via: str) -> None:
    """Add (or replace) a route to ``to`` via the neighbour ``via`` in the netns."""
    network = ipaddress.ip_network(to, strict=False)
    with _iproute(netns_path) as ipr, _netlink(f"adding route {to} via {via}"):
        family = socket.AF_INET6 if network.version == 6 else socket.AF_INET
        ipr.route("replace", dst=str(network), gateway=via, family=family)


def delete_route(netns_path: str | None, to: str, via: str) -> None:
    """Remove the route to ``to`` via ``via``; one already gone is fine."""
    network = ipaddress.ip_network(to, strict=False)
    with _iproute(netns_path) as ipr, _netlink(f"removing route {to} via {via}"):
        family = socket.AF_INET6 if network.version == 6 else socket.AF_INET
        try:
            ipr.route("del", dst=str(network), gateway=via, family=family)
        except NetlinkError as exc:
            if exc.code not in (errno.ESRCH, errno.ENOENT):
                raise


def set_interface(
    netns_path: str,
    ifname: str,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    mtu: int | None = None,
    up: bool | None = None,
) -> None:
    """Change an existing interface in place: addresses added and removed, MTU, administrative state."""
    with _iproute(netns_path) as ipr, _netlink(f"changing interface {ifname} in {netns_path}"):
        index = _require_index(ipr, ifname, netns_path)
        for cidr in remove:
            iface = ipaddress.ip_interface(cidr)
            try:
                ipr.addr("del", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)
            except NetlinkError as exc:
                if exc.code != errno.EADDRNOTAVAIL:
                    raise
        for cidr in add:
            _add_address(ipr, index, cidr)
        if mtu is not None:
            ipr.link("set", index=index, mtu=mtu)
        if up is not None:
            ipr.link("set", index=index, state="up" if up else "down")


def delete_link(name: str, netns_path: str | None = None) -> None:
    """Delete an interface (a veth takes its peer along); a missing one is fine."""
    with _iproute(netns_path) as ipr, _netlink(f"deleting interface {name}"):
        index = _index(ipr, name)
        if index is None:
            return
        try:
            ipr.link("del", index=index)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:  # gone meanwhile (its peer's netns died)
                raise


def list_owned_links(project: str | None = None) -> list[OwnedLink]:
    """Interfaces of the host netns marked by composer (of ``project``, or of any)."""
    owned: list[OwnedLink] = []
    with _iproute() as ipr, _netlink("listing interfaces"):
        for link in ipr.get_links():
            alias = link.get_attr("IFLA_IFALIAS")
            owner = naming.owner_of_ifalias(alias)
            if owner is None or (project is not None and owner[0] != project):
                continue
            name = str(link.get_attr("IFLA_IFNAME"))
            owned.append(OwnedLink(name, str(alias), owner[0], owner[1], _link_kind(link)))
    return sorted(owned, key=lambda item: item.name)


def interface_addresses(netns_path: str | None = None) -> dict[str, list[str]]:
    """``{ifname: ["10.0.0.2/24", ...]}`` of a netns, loopback left out (for ``ps``)."""
    result: dict[str, list[str]] = {}
    with _iproute(netns_path) as ipr, _netlink("listing addresses"):
        names = {int(link["index"]): str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}
        for addr in ipr.get_addr():
            name = names.get(int(addr["index"]), "")
            if not name or name == "lo":
                continue
            if (
                addr["family"] == socket.AF_INET6
                and ipaddress.ip_address(addr.get_attr("IFA_ADDRESS")).is_link_local
            ):
                continue
            result.setdefault(name, []).append(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}")
    return result


def routed_networks(netns_path: str | None = None) -> list[str]:
    """Destinations of the netns's routes (default routes excluded): subnets in use."""
    found: set[str] = set()
    with _iproute(netns_path) as ipr, _netlink("listing routes"):
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in ipr.get_routes(family=family, table=254):
                dst = route.get_attr("RTA_DST")
                if dst is None or route["dst_len"] == 0:
                    continue
                network = ipaddress.ip_network(f"{dst}/{route['dst_len']}", strict=False)
                if network.version == 6 and network.is_link_local:
                    continue
                found.add(str(network))
    return sorted(found)
