"""Packet capture inside a container's network namespace, without tcpdump in the image.

An ``AF_PACKET``/``SOCK_RAW`` socket is opened by the calling thread inside the
namespace (:func:`composer.kernel.net.netns.in_netns`); like a netlink socket it
stays bound to that namespace, so the capture loop runs back in ours.  The socket
is made with protocol 0 (it sees nothing), the filter is attached, and only then is
it bound to ``ETH_P_ALL``: no unfiltered packet slips in before the filter.

Frames are written as classic pcap (libpcap format, linktype 1 Ethernet) by the
pure :func:`pcap_header`/:func:`pcap_record`, or summarised one line each by
:func:`summary`.  A FILTER is compiled by the host's ``tcpdump -ddd`` into classic
BPF (composer has no filter compiler of its own).
"""

from __future__ import annotations

import ipaddress
import select
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from composer.errors import HostError
from composer.kernel.net.netns import in_netns

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_TIMESTAMP = 29
PACKET_OUTGOING = 4
SNAPLEN = 262144
LINKTYPE_ETHERNET = 1
PCAP_MAGIC = 0xA1B2C3D4

_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")
_BPF_INSN = struct.Struct("=HBBI")
_TIMEVAL = struct.Struct("=qq")
_IP_PROTOCOLS = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 89: "OSPF", 132: "SCTP"}
_ICMP_TYPES = {0: "echo reply", 3: "unreachable", 8: "echo request", 11: "time exceeded"}
_ICMP6_TYPES = {128: "echo request", 129: "echo reply", 135: "neighbor solicitation", 136: "neighbor advert"}


# --------------------------------------------------------------------------- pure: pcap and summaries


def pcap_header(snaplen: int = SNAPLEN, linktype: int = LINKTYPE_ETHERNET) -> bytes:
    """The 24-byte pcap global header: version 2.4, microsecond timestamps, UTC."""
    return _PCAP_HEADER.pack(PCAP_MAGIC, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(timestamp: float, frame: bytes, original_length: int | None = None) -> bytes:
    """One pcap record: its 16-byte header (seconds, microseconds, saved and wire lengths) and the frame."""
    seconds = int(timestamp)
    micros = min(round((timestamp - seconds) * 1_000_000), 999_999)
    wire = len(frame) if original_length is None else original_length
    return _PCAP_RECORD.pack(seconds, micros, len(frame), wire) + frame


def parse_bpf(text: str) -> list[tuple[int, int, int, int]]:
    """``tcpdump -ddd`` output (a count line, then ``code jt jf k`` lines) as instructions."""
    lines = [line.split() for line in text.strip().splitlines()]
    if not lines or len(lines[0]) != 1:
        raise ValueError("not tcpdump -ddd output")
    program = [(int(c), int(t), int(f), int(k)) for c, t, f, k in lines[1:]]
    if len(program) != int(lines[0][0]):
        raise ValueError(f"tcpdump announced {lines[0][0]} instructions and gave {len(program)}")
    return program


def summary(timestamp: float, ifname: str, frame: bytes, outgoing: bool = False) -> str:
    """One line for a frame: time, interface and direction, length, source -> destination, protocol."""
    clock = time.strftime("%H:%M:%S", time.localtime(timestamp)) + f".{int(timestamp % 1 * 1e6):06d}"
    arrow = "Out" if outgoing else "In "
    return f"{clock} {ifname} {arrow} {len(frame)} {_describe(frame)}"


def _describe(frame: bytes) -> str:
    if len(frame) < 14:
        return "truncated frame"
    ethertype, offset = struct.unpack_from("!H", frame, 12)[0], 14
    while ethertype in (0x8100, 0x88A8) and len(frame) >= offset + 4:  # VLAN tags
        ethertype, offset = struct.unpack_from("!H", frame, offset + 2)[0], offset + 4
    payload = frame[offset:]
    if ethertype == 0x0800 and len(payload) >= 20:
        return _ipv4(payload)
    if ethertype == 0x86DD and len(payload) >= 40:
        return _ipv6(payload)
    if ethertype == 0x0806 and len(payload) >= 28:
        return _arp(payload)
    source, destination = _mac(frame[6:12]), _mac(frame[0:6])
    return f"{source} -> {destination} ethertype 0x{ethertype:04x}"


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _ipv4(packet: bytes) -> str:
    header = (packet[0] & 0x0F) * 4
    protocol = packet[9]
    source, destination = ipaddress.IPv4Address(packet[12:16]), ipaddress.IPv4Address(packet[16:20])
    return _transport(str(source), str(destination), protocol, packet[header:], _ICMP_TYPES, 1)


def _ipv6(packet: bytes) -> str:
    source, destination = ipaddress.IPv6Address(packet[8:24]), ipaddress.IPv6Address(packet[24:40])
    return _transport(str(source), str(destination), packet[6], packet[40:], _ICMP6_TYPES, 58)


def _transport(
    source: str, destination: str, protocol: int, rest: bytes, icmp: dict[int, str], icmp_number: int
) -> str:
    name = _IP_PROTOCOLS.get(protocol, f"proto {protocol}")
    if protocol in (6, 17, 132) and len(rest) >= 4:
        sport, dport = struct.unpack_from("!HH", rest)
        return f"{source}.{sport} -> {destination}.{dport} {name}"
    if protocol == icmp_number and rest:
        return f"{source} -> {destination} {name} {icmp.get(rest[0], f'type {rest[0]}')}"
    return f"{source} -> {destination} {name}"


def _arp(packet: bytes) -> str:
    operation = struct.unpack_from("!H", packet, 6)[0]
    sender, target = ipaddress.IPv4Address(packet[14:18]), ipaddress.IPv4Address(packet[24:28])
    if operation == 1:
        return f"{sender} -> {target} ARP who-has {target}"
    return f"{sender} -> {target} ARP {sender} is-at {_mac(packet[8:14])}"


# --------------------------------------------------------------------------- the host: filter, socket, loop


def compile_filter(expression: Sequence[str]) -> list[tuple[int, int, int, int]]:
    """The classic BPF program of a tcpdump filter, compiled by the host's tcpdump."""
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise HostError(
            "a capture filter needs tcpdump on the host to compile it, and there is none in PATH",
            hint="install it (apt-get install tcpdump), or capture everything by leaving the filter out",
        )
    result = subprocess.run(
        [tcpdump, "-ddd", "-y", "EN10MB", *expression],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()[-1:] or ["tcpdump failed"]
        raise HostError(f"bad capture filter {' '.join(expression)!r}: {message[0]}")
    try:
        return parse_bpf(result.stdout)
    except ValueError as error:
        raise HostError(f"cannot read tcpdump's compiled filter: {error}") from error


def open_socket(
    netns: str | None, ifname: str | None, program: Sequence[tuple[int, int, int, int]] = ()
) -> socket.socket:
    """A packet socket in the netns at ``netns`` on ``ifname`` (None: every interface), filter attached."""
    # Bound to one interface, the socket sees nothing until bind(); on every interface
    # (no bind by index 0 in Python) it sees packets at once, so those queued before
    # the filter was attached are drained.
    protocol = 0 if ifname else socket.htons(ETH_P_ALL)
    with in_netns(netns):
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol)
        except OSError as error:
            raise HostError(
                "cannot open a packet socket", errno=error.errno, hint="capture needs root (CAP_NET_RAW)"
            ) from error
        try:
            if program:
                _attach(sock, program)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            if ifname:
                sock.bind((ifname, ETH_P_ALL))
            elif program:
                _drain(sock)
        except OSError as error:
            sock.close()
            where = f"interface {ifname}" if ifname else "every interface"
            raise HostError(f"cannot capture on {where}", errno=error.errno) from error
    return sock


def _drain(sock: socket.socket) -> None:
    while select.select([sock], [], [], 0)[0]:
        sock.recv(SNAPLEN)


def _attach(sock: socket.socket, program: Sequence[tuple[int, int, int, int]]) -> None:
    import ctypes

    code = b"".join(_BPF_INSN.pack(*insn) for insn in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack(
        "HxxxxxxP" if struct.calcsize("P") == 8 else "HxxP", len(program), ctypes.addressof(buffer)
    )
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


@dataclass(frozen=True)
class Packet:
    timestamp: float
    ifname: str
    outgoing: bool
    frame: bytes


@dataclass(frozen=True)
class Totals:
    captured: int
    dropped: int  # by the kernel: the socket's queue was full


def run(
    sock: socket.socket,
    handle: Callable[[Packet], None],
    stop: Callable[[], bool],
    count: int | None = None,
    duration: float | None = None,
) -> Totals:
    """Hand every packet to ``handle`` until ``stop()``, ``count`` packets or ``duration`` seconds."""
    deadline = None if duration is None else time.monotonic() + duration
    captured = 0
    while not stop() and (count is None or captured < count):
        wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
        if wait <= 0:
            break
        try:
            ready, _, _ = select.select([sock], [], [], wait)
        except InterruptedError:
            continue
        if not ready:
            continue
        handle(_receive(sock))
        captured += 1
    return Totals(captured, _dropped(sock))


def _receive(sock: socket.socket) -> Packet:
    frame, ancillary, _flags, address = sock.recvmsg(SNAPLEN, socket.CMSG_SPACE(_TIMEVAL.size))
    stamp = time.time()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(data) >= _TIMEVAL.size:
            seconds, micros = _TIMEVAL.unpack_from(data)
            stamp = seconds + micros / 1e6
    return Packet(stamp, str(address[0]), address[2] == PACKET_OUTGOING, frame)


def _dropped(sock: socket.socket) -> int:
    try:
        _packets, drops = struct.unpack("=II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    except OSError:
        return 0
    return int(drops)
