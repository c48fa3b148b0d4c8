"""What a network namespace holds, read in one netlink conversation: links, addresses, routes, qdiscs.

``observe()`` runs on every command, the no-op ``up`` included, so this reader
is small and cheap: a plain ``AF_NETLINK`` socket from the standard library
(no pyroute2 import), opened by the calling thread inside the namespace
(:func:`composer.kernel.net.netns.in_netns`; the socket stays bound to it), four
dump requests on it, and the replies decoded with :mod:`struct`.  The
per-interface sysctls asked for are read in the same visit, through
``/proc/sys/net`` (which resolves against the calling thread's namespace).

The message layouts are the kernel's UAPI (``linux/netlink.h``,
``linux/rtnetlink.h``, ``linux/if_link.h``, ``linux/if_addr.h``,
``linux/pkt_sched.h``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import replace

from composer.errors import HostError
from composer.kernel.net.netns import in_netns
from composer.kernel.net.qdiscmsg import decode_netem_options
from composer.model.netstate import LinkState, NetnsState, RouteState

NETLINK_ROUTE = 0
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
RTM_NEWQDISC, RTM_GETQDISC = 36, 38
IFLA_IFNAME, IFLA_MTU, IFLA_OPERSTATE = 3, 4, 16
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_TBF_PARMS, TCA_TBF_RATE64 = 1, 4
IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
RT_TABLE_MAIN = 254
SOL_NETLINK = 270
NETLINK_GET_STRICT_CHK = 12  # Linux 4.20: dumps honour the request's filters (the route table here)
RTN_UNICAST = 1
TC_H_ROOT = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")
_RTATTR = struct.Struct("=HH")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_TCMSG = struct.Struct("=BxxxiIII")
_TC_RATESPEC = struct.Struct("=BBHhHI")


def read_netns(path: str | None, sysctl_keys: Sequence[str] = ()) -> NetnsState:
    """The links, addresses, main-table routes and root qdiscs of the netns at ``path`` (None: ours)."""
    with in_netns(path):
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        except OSError as error:
            raise HostError("cannot open a netlink socket", errno=error.errno) from error
        with sock:
            sock.bind((0, 0))
            with contextlib.suppress(OSError):  # older kernels: the table is filtered below anyway
                sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
            links = {index: state for index, state in _links(sock)}
            addresses = _addresses(sock, links)
            routes = tuple(_routes(sock, links))
            links = _with_qdiscs(sock, links)
        sysctls = _sysctls(sysctl_keys)
    by_name = {state.name: state for state in links.values()}
    return NetnsState(by_name, addresses, routes, sysctls)


# --------------------------------------------------------------------------- the conversation


def _dump(sock: socket.socket, msg_type: int, body: bytes, seq: int) -> Iterator[tuple[int, bytes]]:
    """Send one dump request; yield (message type, payload) of each answer until NLMSG_DONE."""
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    sock.send(header + body)
    while True:
        data = sock.recv(1 << 16)
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size:
                return
            payload = data[offset + _NLMSGHDR.size : offset + length]
            offset += (length + 3) & ~3
            if kind == NLMSG_DONE:
                return
            if kind == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", payload)
                if code:
                    raise HostError("netlink dump", errno=-code)
                continue
            yield kind, payload


def _attributes(data: bytes, offset: int, wanted: frozenset[int] | None = None) -> dict[int, bytes]:
    """The attributes from ``offset`` on (only the ``wanted`` types, when given: a link has ~50)."""
    found: dict[int, bytes] = {}
    unpack, end = _RTATTR.unpack_from, len(data)
    while offset + 4 <= end:
        length, kind = unpack(data, offset)
        if length < 4:
            break
        kind &= 0x3FFF  # without the NLA_F_NESTED bits
        if wanted is None or kind in wanted:
            found[kind] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


_ZERO_80 = bytes(10)


def _address(family: int, raw: bytes) -> str:
    """The text of an address as ``ipaddress`` writes it; inet_ntop is ten times faster and the same
    except for addresses that start with 80 zero bits (``::ffff:1.2.3.4``), left to ``ipaddress``."""
    if family == socket.AF_INET6:
        if raw[:10] == _ZERO_80:
            return str(ipaddress.IPv6Address(raw[:16]))
        return socket.inet_ntop(socket.AF_INET6, raw[:16])
    return socket.inet_ntop(socket.AF_INET, raw[:4])


def _u32(raw: bytes) -> int:
    return int(struct.unpack_from("=I", raw)[0])


_LINK_ATTRIBUTES = frozenset((IFLA_IFNAME, IFLA_MTU))
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3
_SKIP_STATS = _RTATTR.pack(8, IFLA_EXT_MASK) + struct.pack("=I", RTEXT_FILTER_SKIP_STATS)  # smaller replies


def _links(sock: socket.socket) -> Iterator[tuple[int, LinkState]]:
    request = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _SKIP_STATS
    for kind, payload in _dump(sock, RTM_GETLINK, request, 1):
        if kind != RTM_NEWLINK:
            continue
        _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(payload)
        attrs = _attributes(payload, _IFINFOMSG.size, _LINK_ATTRIBUTES)
        name = _text(attrs.get(IFLA_IFNAME, b""))
        mtu = _u32(attrs[IFLA_MTU]) if IFLA_MTU in attrs else 0
        yield index, LinkState(name, index, mtu, bool(flags & IFF_UP), carrier=bool(flags & IFF_LOWER_UP))


def _addresses(sock: socket.socket, links: dict[int, LinkState]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    request = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    for kind, payload in _dump(sock, RTM_GETADDR, request, 2):
        if kind != RTM_NEWADDR:
            continue
        family, prefix, _flags, _scope, index = _IFADDRMSG.unpack_from(payload)
        attrs = _attributes(payload, _IFADDRMSG.size)
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)  # IPv4's own address is IFA_LOCAL
        link = links.get(index)
        if raw is None or link is None:
            continue
        found.setdefault(link.name, []).append(f"{_address(family, raw)}/{prefix}")
    return {name: tuple(cidrs) for name, cidrs in found.items()}


def _routes(sock: socket.socket, links: dict[int, LinkState]) -> Iterator[RouteState]:
    request = _RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, RT_TABLE_MAIN, 0, 0, 0, 0)  # the table: strict dumps
    for kind, payload in _dump(sock, RTM_GETROUTE, request, 3):
        if kind != RTM_NEWROUTE:
            continue
        family, dst_len, _src, _tos, table, _proto, _scope, rtype, _flags = _RTMSG.unpack_from(payload)
        attrs = _attributes(payload, _RTMSG.size)
        if RTA_TABLE in attrs:
            table = _u32(attrs[RTA_TABLE])
        if table != RT_TABLE_MAIN or rtype != RTN_UNICAST:
            continue
        destination = _address(family, attrs.get(RTA_DST, bytes(16)))  # the kernel keeps it masked
        gateway = _address(family, attrs[RTA_GATEWAY]) if RTA_GATEWAY in attrs else ""
        link = links.get(_u32(attrs[RTA_OIF])) if RTA_OIF in attrs else None
        yield RouteState(f"{destination}/{dst_len}", gateway, link.name if link else "")


def _with_qdiscs(sock: socket.socket, links: dict[int, LinkState]) -> dict[int, LinkState]:
    """The root qdisc of each link; under a root netem, the rate of its TBF child."""
    request = _TCMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    result = dict(links)
    children: dict[tuple[int, int], int | None] = {}  # (ifindex, parent) -> a TBF's rate
    for kind, payload in _dump(sock, RTM_GETQDISC, request, 4):
        if kind != RTM_NEWQDISC:
            continue
        _family, index, handle, parent, _info = _TCMSG.unpack_from(payload)
        if index not in result:
            continue
        attrs = _attributes(payload, _TCMSG.size)
        qdisc = _text(attrs.get(TCA_KIND, b""))
        options = attrs.get(TCA_OPTIONS, b"")
        if parent != TC_H_ROOT:
            if qdisc == "tbf":
                children[(index, parent & 0xFFFF0000)] = _tbf_rate(options)
            continue
        rate = _tbf_rate(options) if qdisc == "tbf" else None
        netem = decode_netem_options(options) if qdisc == "netem" and options else None
        result[index] = replace(result[index], qdisc=qdisc, rate_bps=rate, netem=netem, root_handle=handle)
    for (index, parent), rate in children.items():
        link = result[index]
        if link.qdisc == "netem" and link.root_handle == parent:
            result[index] = replace(link, rate_bps=rate)
    return result


def _tbf_rate(options: bytes) -> int | None:
    nested = _attributes(options, 0)
    if TCA_TBF_RATE64 in nested:
        return int(struct.unpack_from("=Q", nested[TCA_TBF_RATE64])[0]) * 8
    if TCA_TBF_PARMS in nested:
        return int(_TC_RATESPEC.unpack_from(nested[TCA_TBF_PARMS])[5]) * 8
    return None


def _sysctls(keys: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key in keys:
        relative = key if "/" in key else key.replace(".", "/")
        try:
            with open(os.path.join("/proc/sys", relative)) as handle:
                values[key] = handle.read().strip()
        except OSError:
            continue  # the interface (or the key) does not exist in this namespace
    return values
