"""Reachability probes from inside a container's network namespace, without tools in its image.

The probing thread enters the namespace only to open its socket (a socket
stays bound to the namespace it was made in), then works from composer's own
process: an ICMP echo on a raw socket (composer runs as root; a new namespace
allows no unprivileged ping sockets) or a TCP connect.  A refused connection
is an answer (the address is reached, the port closed): it counts as not
reached, as ``nc -z`` says.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time

from composer.kernel.net.netns import in_netns

_ECHO_REQUEST, _ECHO_REPLY = 8, 0
_ECHO6_REQUEST, _ECHO6_REPLY = 128, 129


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def echo_request(identifier: int, sequence: int, payload: bytes = b"composer") -> bytes:
    """An ICMPv4 echo request with its checksum."""
    header = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, identifier, sequence)
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", _ECHO_REQUEST, 0, checksum, identifier, sequence) + payload


def icmp_echo(netns: str | None, address: str, timeout: float) -> float | None:
    """Seconds until the echo reply from ``address``, or None when none came in ``timeout``."""
    v6 = ipaddress.ip_address(address).version == 6
    family = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    with in_netns(netns):
        sock = socket.socket(family, socket.SOCK_RAW | socket.SOCK_CLOEXEC, proto)
    identifier, sequence = os.getpid() & 0xFFFF, int(time.monotonic() * 1000) & 0xFFFF
    packet = echo_request(identifier, sequence)
    if v6:  # the kernel fills in the ICMPv6 checksum
        packet = struct.pack("!BBHHH", _ECHO6_REQUEST, 0, 0, identifier, sequence) + packet[8:]
    with sock:
        sent = time.monotonic()
        try:
            sock.sendto(packet, (address, 0))
        except OSError:  # no route, network unreachable: not reached, which a check may expect
            return None
        deadline = sent + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                break
            data, peer = sock.recvfrom(2048)
            icmp = data if v6 else data[(data[0] & 0x0F) * 4 :]  # IPv4 raw sockets include the IP header
            kind, _code, _sum, got_id, got_seq = struct.unpack_from("!BBHHH", icmp)
            reply = _ECHO6_REPLY if v6 else _ECHO_REPLY
            if kind == reply and (got_id, got_seq) == (identifier, sequence) and peer[0] == address:
                return time.monotonic() - sent
    return None


def tcp_connect(netns: str | None, address: str, port: int, timeout: float) -> float | None:
    """Seconds to complete a TCP handshake with ``address:port``, or None (refused, unreachable, timeout)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with in_netns(netns):
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with sock:
        sock.settimeout(timeout)
        began = time.monotonic()
        try:
            sock.connect((address, port))
        except OSError:
            return None
        return time.monotonic() - began
