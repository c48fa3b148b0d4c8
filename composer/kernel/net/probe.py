"""Reachability probes from inside a container's network namespace, without tools in its image.

The probing thread enters the namespace only to open its socket (a socket
stays bound to the namespace it was made in), then works from composer's own
process: an ICMP echo on a raw socket (composer runs as root; a new namespace
allows no unprivileged ping sockets) or a TCP connect.  A refused connection
is an answer (the address is reached, the port closed): it counts as not
reached, as ``nc -z`` says.
"""

from __future__ import annotations

import contextlib
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


def icmp_echo(netns: str | None, address: str, timeout: float, interval: float = 0.2) -> float | None:
    """Seconds from the first echo request until a reply from ``address``, or None within ``timeout``.

    A request goes out every ``interval`` (as ``ping -i`` does): right after a link
    comes up the kernel may still drop the first packets while it activates the
    interface's qdisc, and one lost packet is not unreachability.
    """
    v6 = ipaddress.ip_address(address).version == 6
    family = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    with in_netns(netns):
        sock = socket.socket(family, socket.SOCK_RAW | socket.SOCK_CLOEXEC, proto)
    identifier = os.getpid() & 0xFFFF
    first = int(time.monotonic() * 1000) & 0xFFFF
    with sock:
        began = time.monotonic()
        deadline = began + timeout
        sequence, next_send = first, began
        while (now := time.monotonic()) < deadline:
            if now >= next_send:
                _send_echo(sock, address, identifier, sequence, v6)
                sequence, next_send = (sequence + 1) & 0xFFFF, now + interval
            ready, _, _ = select.select([sock], [], [], max(0.0, min(deadline, next_send) - time.monotonic()))
            if ready and _is_reply(sock, address, identifier, first, sequence, v6):
                return time.monotonic() - began
    return None


def _send_echo(sock: socket.socket, address: str, identifier: int, sequence: int, v6: bool) -> None:
    packet = echo_request(identifier, sequence)
    if v6:  # the kernel fills in the ICMPv6 checksum
        packet = struct.pack("!BBHHH", _ECHO6_REQUEST, 0, 0, identifier, sequence) + packet[8:]
    with contextlib.suppress(OSError):  # no route, network unreachable (a link down): not this time
        sock.sendto(packet, (address, 0))


def _is_reply(sock: socket.socket, address: str, identifier: int, first: int, after: int, v6: bool) -> bool:
    data, peer = sock.recvfrom(2048)
    icmp = data if v6 else data[(data[0] & 0x0F) * 4 :]  # IPv4 raw sockets include the IP header
    kind, _code, _sum, got_id, got_seq = struct.unpack_from("!BBHHH", icmp)
    ours = (got_seq - first) & 0xFFFF < (after - first) & 0xFFFF  # one of the requests sent
    reply = _ECHO6_REPLY if v6 else _ECHO_REPLY
    return bool(kind == reply and got_id == identifier and ours and str(peer[0]) == address)


def tcp_connect(netns: str | None, address: str, port: int, timeout: float) -> float | None:
    """Seconds to complete a TCP handshake with ``address:port``, or None (refused, unreachable, timeout).

    A connection refused is final; one that fails otherwise (no route yet, a SYN
    lost while a link comes up) is tried again until ``timeout``.
    """
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    began = time.monotonic()
    deadline = began + timeout
    while (left := deadline - time.monotonic()) > 0:
        with in_netns(netns):
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        with sock:
            sock.settimeout(min(left, 0.5))
            try:
                sock.connect((address, port))
                return time.monotonic() - began
            except ConnectionRefusedError:
                return None
            except OSError:
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    return None


def udp_echo(netns: str | None, address: str, port: int, timeout: float) -> float | None:
    """Seconds until any datagram comes back from ``address:port`` (an echo service), or None."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with in_netns(netns):
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    with sock:
        sock.settimeout(timeout)
        began = time.monotonic()
        try:
            sock.connect((address, port))  # connected: an ICMP port-unreachable fails the recv at once
            sock.send(b"composer probe\n")
            sock.recv(2048)
        except OSError:
            return None
        return time.monotonic() - began


def http_status(netns: str | None, address: str, port: int, path: str, timeout: float) -> int | None:
    """The status code of ``GET path`` on ``address:port`` (HTTP/1.0), or None when no answer came."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with in_netns(netns):
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    host = f"[{address}]" if family == socket.AF_INET6 else address
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: composer-test\r\n\r\n".encode())
            head = sock.recv(1024).split(b"\r\n", 1)[0].split()
        except OSError:
            return None
    if len(head) >= 2 and head[0].startswith(b"HTTP/") and head[1].isdigit():
        return int(head[1])
    return None


def throughput(
    source: str | None, target: str | None, address: str, size: int, timeout: float, port: int = 47001
) -> float | None:
    """Bits per second of a bulk TCP transfer of ``size`` bytes from ``source``'s netns to ``address``.

    The receiver listens inside ``target``'s namespace, the sender sends from
    ``source``'s; both are threads of composer's process.  The time runs from the
    first byte received to the last, so the handshake does not count.
    """
    import threading

    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with in_netns(target):
        server = socket.create_server((address, port), family=family)
    with in_netns(source):
        client = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    marks: dict[str, float] = {}

    def receive() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(timeout)
            total = 0
            try:
                while chunk := conn.recv(65536):
                    marks.setdefault("first", time.monotonic())
                    total += len(chunk)
            except OSError:
                return
            marks["last"], marks["bytes"] = time.monotonic(), total

    server.settimeout(timeout)
    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    with client, server:
        client.settimeout(timeout)
        try:
            client.connect((address, port))
            client.sendall(b"\0" * size)
            client.shutdown(socket.SHUT_WR)
        except OSError:
            return None
        receiver.join(timeout)
    if marks.get("bytes") != size or marks["last"] <= marks["first"]:
        return None
    return size * 8 / (marks["last"] - marks["first"])
