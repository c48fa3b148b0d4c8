"""The host's routed networks, read from /proc (cheap: no netlink socket, no pyroute2 import).

IPAM must not pick a subnet the host already routes somewhere.  Routes through
composer's own bridges are left out: other projects' subnets come from their
state, and this project's previous subnets must stay usable by itself.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from composer.model.naming import BRIDGE_PREFIX


def _ipv4_routes() -> list[tuple[str, str]]:
    routes: list[tuple[str, str]] = []
    try:
        with open("/proc/thread-self/net/route") as handle:
            next(handle, None)
            for line in handle:
                fields = line.split()
                if len(fields) < 8:
                    continue
                iface, dest, mask = fields[0], int(fields[1], 16), int(fields[7], 16)
                if mask == 0:
                    continue  # the default route says nothing about which subnets are taken
                address = socket.inet_ntoa(struct.pack("<I", dest))
                netmask = socket.inet_ntoa(struct.pack("<I", mask))
                network = ipaddress.ip_network(f"{address}/{netmask}", strict=False)
                routes.append((iface, str(network)))
    except FileNotFoundError:
        pass
    return routes


def _ipv6_routes() -> list[tuple[str, str]]:
    routes: list[tuple[str, str]] = []
    try:
        with open("/proc/thread-self/net/ipv6_route") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 10:
                    continue
                dest, prefix, iface = fields[0], int(fields[1], 16), fields[9]
                if prefix == 0 or iface == "lo":
                    continue
                address = ipaddress.IPv6Address(bytes.fromhex(dest))
                if address.is_link_local or address.is_multicast:
                    continue
                routes.append((iface, str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))))
    except FileNotFoundError:
        pass
    return routes


def host_routed_networks() -> list[tuple[str, str]]:
    """(interface, network) of every non-default route of the host's main table, minus composer's bridges."""
    return [
        (iface, net) for iface, net in _ipv4_routes() + _ipv6_routes() if not iface.startswith(BRIDGE_PREFIX)
    ]
