"""Link shaping with tc over netlink: a rate (TBF) and delay/jitter/loss (netem).

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
"""

from __future__ import annotations

import errno
import functools
import os
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from composer.errors import HostError, PlanError
from composer.kernel import syscalls
from composer.kernel.net import netns

_MIN_BURST = 64 * 1024
_TC_H_ROOT = 0xFFFFFFFF
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

    def needs_netem(self) -> bool:
        return bool(self.delay_ms or self.jitter_ms or self.loss_percent)


def tbf_parameters(rate_bps: int) -> dict[str, Any]:
    """TBF options for pyroute2 (rate in bytes per second); see the module docstring."""
    rate_bytes = max(rate_bps // 8, 1)
    burst = max(_MIN_BURST, rate_bytes // 100)
    return {"rate": rate_bytes, "burst": burst, "latency": f"{_LATENCY_MS}ms"}


def _index(ipr: IPRoute, ifname: str) -> int:
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
            with IPRoute() as ipr:
                ipr.tc("add", "netem", _index(ipr, "lo"), handle="1:", delay=1000)
        except NetlinkError as exc:
            if exc.code in _NETEM_MISSING:
                return False
            raise HostError("probing the netem qdisc", errno=exc.code) from exc
        finally:
            # The probe namespace has no other reference: it disappears here.
            syscalls.setns(original, syscalls.CLONE_NEWNET)
        return True
    finally:
        os.close(original)


def require_netem() -> None:
    """Raise the plan error ``up`` shows when a link asks for netem on a kernel without it."""
    if not netem_available():
        raise PlanError(
            NETEM_MISSING_MESSAGE,
            hint="remove delay/jitter/loss from the links, or use a kernel built with CONFIG_NET_SCH_NETEM",
        )


def _netem_options(shaping: Shaping) -> dict[str, Any]:
    # pyroute2 takes netem times in microseconds and loss in percent.
    return {
        "delay": int(shaping.delay_ms * 1000),
        "jitter": int(shaping.jitter_ms * 1000),
        "loss": shaping.loss_percent,
    }


def apply_shaping(netns_path: str | None, ifname: str, shaping: Shaping) -> None:
    """Replace the root qdisc of ``ifname`` in the netns with what ``shaping`` asks."""
    if shaping.needs_netem():
        require_netem()
    if not shaping.needs_netem() and shaping.rate_bps is None:
        return
    with netns.netns_iproute(netns_path) as ipr:
        try:
            index = _index(ipr, ifname)
            _delete_root(ipr, index)  # replacing: drop what a previous run (or a hand) set
            if shaping.needs_netem():
                ipr.tc("add", "netem", index, handle="1:", **_netem_options(shaping))
                if shaping.rate_bps is not None:
                    ipr.tc(
                        "add", "tbf", index, handle="10:", parent="1:1", **tbf_parameters(shaping.rate_bps)
                    )
            elif shaping.rate_bps is not None:
                ipr.tc("add", "tbf", index, handle="1:", **tbf_parameters(shaping.rate_bps))
        except NetlinkError as exc:
            raise HostError(f"shaping {ifname}", errno=exc.code) from exc


def clear_shaping(netns_path: str | None, ifname: str) -> None:
    """Remove the root qdisc of ``ifname`` (composer's, or one set by hand): back to the default."""
    with netns.netns_iproute(netns_path) as ipr:
        try:
            _delete_root(ipr, _index(ipr, ifname))
        except NetlinkError as exc:
            raise HostError(f"unshaping {ifname}", errno=exc.code) from exc


def _delete_root(ipr: IPRoute, index: int) -> None:
    """Delete the root qdisc when it is not the default one (the kernel wants parent and handle)."""
    for qdisc in ipr.get_qdiscs(index=index):
        if qdisc.get("parent") == _TC_H_ROOT and qdisc.get("handle"):
            try:
                ipr.tc("del", index=index, handle=qdisc.get("handle"), parent=_TC_H_ROOT)
            except NetlinkError as exc:
                if exc.code not in (errno.ENOENT, errno.EINVAL):
                    raise


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
