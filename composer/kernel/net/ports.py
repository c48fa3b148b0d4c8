"""Is a host port already taken?  Read from the kernel's socket tables, no side effect.

A published port that collides with a listening host socket would be silently
shadowed by DNAT (or the other way round), so the planner asks here first and
fails before creating anything.  The tables ``/proc/thread-self/net/{tcp,udp}{,6}``
list the sockets of the calling thread's network namespace (``/proc/net`` would
follow the process's main thread instead).  A TCP socket counts when listening;
a UDP socket when bound.  A wildcard address on either side collides with any
address, and an IPv6 wildcard socket (dual-stack by default) with IPv4 too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from composer.errors import PlanError

Protocol = Literal["tcp", "udp"]
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"
_PROC = Path("/proc/thread-self/net")


def _decode_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    # The kernel prints each 32-bit word in host (little-endian) byte order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def _bound_sockets(protocol: Protocol) -> Iterator[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    wanted = _TCP_LISTEN if protocol == "tcp" else _UDP_UNCONNECTED
    for suffix in ("", "6"):
        try:
            lines = (_PROC / f"{protocol}{suffix}").read_text().splitlines()[1:]
        except FileNotFoundError:  # no IPv6 in this kernel
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != wanted:
                continue
            address, _, port = local.partition(":")
            yield _decode_address(address), int(port, 16)


def _collides(host_ip: str | None, socket_ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if socket_ip.is_unspecified or not host_ip:
        return True
    wanted = ipaddress.ip_address(host_ip)
    if wanted.is_unspecified:
        return True
    if isinstance(socket_ip, ipaddress.IPv6Address) and socket_ip.ipv4_mapped is not None:
        socket_ip = socket_ip.ipv4_mapped
    return socket_ip == wanted


def ports_in_use(protocol: Protocol, host_ip: str | None, ports: Iterable[int]) -> list[int]:
    """Those of ``ports`` already bound on ``host_ip`` (None: any address), sorted."""
    wanted = set(ports)
    taken = {port for ip, port in _bound_sockets(protocol) if port in wanted and _collides(host_ip, ip)}
    return sorted(taken)


def ensure_ports_free(protocol: Protocol, host_ip: str | None, ports: Iterable[int]) -> None:
    """Raise a PlanError naming the ports a host socket already holds."""
    taken = ports_in_use(protocol, host_ip, ports)
    if taken:
        where = host_ip or "0.0.0.0"
        listed = ", ".join(str(port) for port in taken)
        raise PlanError(
            f"{protocol} port{'s' if len(taken) > 1 else ''} {listed} on {where} already in use on the host",
            hint="stop the program listening there or publish another host port",
        )
