"""Link shaping with tc over netlink: a rate (TBF) and delay, jitter, loss, corrupt, ... (netem).

Rate
    A Token Bucket Filter on the sending side of an interface.  The bucket
    (``burst``) must hold at least one GSO super-packet, else TBF splits or drops
    it and TCP never reaches the rate; the queue (``latency``) must hold a few
    round-trips of data, else TCP backs off below the rate.  :func:`tbf_parameters`
    chooses: burst = max(64 KiB, 10 ms at the rate), latency = 100 ms.
    A bulk TCP transfer over a veth then runs within a few percent of the rate.

netem
    Delay, jitter and loss need the kernel's netem qdisc (``sch_netem``), which is
    optional.  :func:`netem_available` probes it without side effects on the
    host: it adds netem to the loopback of a throwaway network namespace that
    exists only for the probe.  :func:`require_netem` turns a missing netem into a
    :class:`PlanError` so that ``up`` stops before creating anything.
    With both a rate and netem, netem is the root qdisc and TBF its child.

Messages
    composer builds the qdisc messages itself (:mod:`composer.kernel.net.qdiscmsg`,
    unit-tested against the bytes iproute2 sends) and sends them on one plain
    netlink socket opened in the container's namespace: no pyroute2 on this
    path, about a millisecond per link end.

Changing a link live
    A change replaces the root qdisc the way ``tc qdisc replace`` does, never
    delete-then-add (which would pass packets unshaped in between): a qdisc of
    the same kind is changed in place under its own handle (the kernel keeps the
    qdisc, its queue and counters); one of another kind is made under the other
    handle (``1:`` or ``2:``) with ``NLM_F_REPLACE``, and the kernel swaps it in
    as the root in one step.  Only "no shaping at all" deletes the root qdisc.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from composer.errors import HostError, PlanError
from composer.kernel import syscalls
from composer.kernel.net import netns, qdiscmsg
from composer.model.netstate import NetemState

_MIN_BURST = 64 * 1024
_TC_H_ROOT = 0xFFFFFFFF
_HANDLES = (0x10000, 0x20000)  # 1: and 2:, alternated when the root qdisc changes kind
_LATENCY_MS = 100
_NETEM_MISSING = (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL)
NETEM_MISSING_MESSAGE = (
    "the kernel lacks the netem qdisc (sch_netem): delay, jitter and loss cannot be emulated on this host"
)


@dataclass(frozen=True)
class Shaping:
    """What a link end asks for; every field optional."""

    rate_bps: int | None = None  # bits per second
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_percent: float = 0.0
    more: NetemState = field(default_factory=NetemState)  # corrupt, duplicate, reorder (percent)

    def netem(self) -> NetemState:
        return NetemState(
            delay=self.delay_ms / 1000 or None, jitter=self.jitter_ms / 1000 or None,
            loss=self.loss_percent or None, corrupt=self.more.corrupt, duplicate=self.more.duplicate,
            reorder=self.more.reorder,
        )  # fmt: skip

    def needs_netem(self) -> bool:
        return any(v for v in self.netem().values().values())


def tbf_parameters(rate_bps: int) -> dict[str, Any]:
    """TBF options for pyroute2 (rate in bytes per second); see the module docstring."""
    rate_bytes = max(rate_bps // 8, 1)
    burst = max(_MIN_BURST, rate_bytes // 100)
    return {"rate": rate_bytes, "burst": burst, "latency": f"{_LATENCY_MS}ms"}


def _index(ipr: Any, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise HostError(f"interface {ifname} does not exist", errno=errno.ENODEV)
    return int(found[0])


@functools.cache
def netem_available() -> bool:
    """Can this kernel run netem?  Probed once, in a namespace made for the probe."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            syscalls.unshare(syscalls.CLONE_NEWNET)
        except OSError as exc:
            raise HostError("unshare(CLONE_NEWNET) for the netem probe", errno=exc.errno) from exc
        try:
            with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0) as sock:
                sock.bind((0, 0))
                code = _send(
                    sock, qdiscmsg.netem_request(socket.if_nametoindex("lo"), NetemState(delay=0.001))
                )
        finally:
            # The probe namespace has no other reference: it disappears here.
            syscalls.setns(original, syscalls.CLONE_NEWNET)
        if code in _NETEM_MISSING:
            return False
        if code:
            raise HostError("probing the netem qdisc", errno=code)
        return True
    finally:
        os.close(original)


def require_netem() -> None:
    """Raise the plan error ``up`` shows when a link asks for netem on a kernel without it."""
    if not netem_available():
        raise PlanError(
            NETEM_MISSING_MESSAGE,
            hint="keep only rate and state on the links, or use a kernel built with CONFIG_NET_SCH_NETEM",
        )


Root = tuple[int, str] | None  # (handle, kind) of a root qdisc; None: the kernel's default one
_UNKNOWN: Any = object()
_CHILD_HANDLE = 0x100000  # 10:, the TBF under a root netem


def apply_shaping(netns_path: str | None, ifname: str, shaping: Shaping, root: Root = _UNKNOWN) -> None:
    """Make the root qdisc of ``ifname`` in the netns what ``shaping`` asks, replacing it in one step.

    ``root``: what the caller already read of the current root qdisc (else it is read here).
    """
    if shaping.needs_netem():
        require_netem()
    if root is _UNKNOWN:
        root = current_root(netns_path, ifname)
    with netns.in_netns(netns_path):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        try:
            index = socket.if_nametoindex(ifname)
        except OSError:
            sock.close()
            raise HostError(f"interface {ifname} does not exist", errno=errno.ENODEV) from None
    with sock:
        sock.bind((0, 0))
        if not shaping.needs_netem() and shaping.rate_bps is None:
            if root is not None:
                _request(sock, qdiscmsg.delete_request(index, handle=root[0]), f"unshaping {ifname}",
                         ignore=(errno.ENOENT, errno.EINVAL))  # fmt: skip
            return
        kind = "netem" if shaping.needs_netem() else "tbf"
        handle = _handle_for(root, kind)
        if kind == "tbf":
            _request(sock, _tbf(index, shaping.rate_bps or 0, handle, _TC_H_ROOT), f"shaping {ifname}")
            return
        code = _send(sock, qdiscmsg.netem_request(index, shaping.netem(), handle=handle))
        if code in _NETEM_MISSING:
            raise PlanError(NETEM_MISSING_MESSAGE, hint="use a kernel built with CONFIG_NET_SCH_NETEM")
        if code:
            raise HostError(f"netem on {ifname}", errno=code)
        child = handle | 1  # netem's rate is a TBF child of it, changed in place like the root
        if shaping.rate_bps is not None:
            _request(sock, _tbf(index, shaping.rate_bps, _CHILD_HANDLE, child), f"shaping {ifname}")
        else:
            _request(sock, qdiscmsg.delete_request(index, handle=_CHILD_HANDLE, parent=child),
                     f"unshaping {ifname}", ignore=(errno.ENOENT, errno.EINVAL))  # fmt: skip


def _tbf(index: int, rate_bps: int, handle: int, parent: int) -> bytes:
    params = tbf_parameters(rate_bps)
    limit = params["rate"] * _LATENCY_MS // 1000 + params["burst"]
    return qdiscmsg.tbf_request(index, params["rate"], params["burst"], limit, handle=handle, parent=parent)


def current_root(netns_path: str | None, ifname: str) -> Root:
    from composer.kernel.net.dump import read_netns

    link = read_netns(netns_path).links.get(ifname)
    if link is None:
        raise HostError(f"interface {ifname} does not exist", errno=errno.ENODEV)
    return (link.root_handle, link.qdisc) if link.root_handle else None


def _handle_for(root: Root, kind: str) -> int:
    """The root's own handle to change it in place, the other one to swap a new kind in."""
    if root is None:
        return _HANDLES[0]
    handle, current = root
    if current == kind:
        return handle
    return _HANDLES[1] if handle == _HANDLES[0] else _HANDLES[0]


def _send(sock: socket.socket, request: bytes) -> int:
    """Send one request and return the errno of its acknowledgement (0: done)."""
    sock.send(request)
    reply = sock.recv(65536)
    _length, kind = struct.unpack_from("=IH", reply)
    if kind != 2:  # NLMSG_ERROR carries the acknowledgement too
        raise HostError("unexpected netlink reply to a qdisc request", errno=errno.EPROTO)
    (error,) = struct.unpack_from("=i", reply, 16)
    return -int(error)


def _request(sock: socket.socket, request: bytes, what: str, ignore: tuple[int, ...] = ()) -> None:
    code = _send(sock, request)
    if code and code not in ignore:
        raise HostError(what, errno=code)


def clear_shaping(netns_path: str | None, ifname: str) -> None:
    """Remove the root qdisc of ``ifname`` (composer's, or one set by hand): back to the default."""
    apply_shaping(netns_path, ifname, Shaping())


def apply_rate(netns_path: str | None, ifname: str, rate_bps: int) -> None:
    """A TBF of ``rate_bps`` bits per second on ``ifname`` (outgoing traffic)."""
    apply_shaping(netns_path, ifname, Shaping(rate_bps=rate_bps))


def apply_netem(
    netns_path: str | None,
    ifname: str,
    delay_ms: float = 0.0,
    jitter_ms: float = 0.0,
    loss_percent: float = 0.0,
    rate_bps: int | None = None,
) -> None:
    """Delay/jitter/loss (and an optional rate) on ``ifname``; PlanError without netem."""
    apply_shaping(netns_path, ifname, Shaping(rate_bps, delay_ms, jitter_ms, loss_percent))


def qdisc_kinds(netns_path: str | None, ifname: str) -> list[str]:
    """Kinds of the qdiscs on ``ifname`` (for tests and ``ps``)."""
    with netns.netns_iproute(netns_path) as ipr:
        index = _index(ipr, ifname)
        return [str(q.get_attr("TCA_KIND")) for q in ipr.get_qdiscs(index=index)]
