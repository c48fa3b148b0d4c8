"""What a container's network namespace holds, as the kernel reports it: links, addresses, routes.

Read by ``composer.kernel.net.dump`` (or made up by the fake host) and compared
by ``reconcile()`` with the interfaces and routes the project file declares.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from composer.model.desired import DesiredInterface


@dataclass(frozen=True)
class LinkState:
    name: str
    index: int
    mtu: int
    up: bool  # administratively up (IFF_UP)
    qdisc: str = ""  # the root qdisc's kind: "tbf", "netem", "noqueue", ...
    rate_bps: int | None = None  # a root TBF's rate in bits per second


@dataclass(frozen=True)
class RouteState:
    destination: str  # a CIDR; 0.0.0.0/0 or ::/0 for a default route
    gateway: str  # "" when the route has none
    device: str


@dataclass(frozen=True)
class NetnsState:
    links: dict[str, LinkState] = field(default_factory=dict)
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)  # interface -> CIDRs
    routes: tuple[RouteState, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict)  # the keys asked for that exist

    def has_route(self, destination: str, gateway: str) -> bool:
        return any(r.destination == destination and r.gateway == gateway for r in self.routes)


def interface_changes(want: DesiredInterface, state: NetnsState) -> list[str]:
    """What differs between the interface the file declares and what the kernel shows (``[]``: nothing)."""
    link = state.links[want.ifname]
    changes: list[str] = []
    have = {a for a in state.addresses.get(want.ifname, ()) if not _link_local(a)}
    wanted = {str(ipaddress.ip_interface(a)) for a in want.addresses}
    changes += [f"address {a} missing" for a in sorted(wanted - have)]
    changes += [f"address {a} not in the file" for a in sorted(have - wanted)]
    if want.mtu is not None and link.mtu != want.mtu:
        changes.append(f"mtu {link.mtu} -> {want.mtu}")
    if link.up != want.up:
        changes.append("down -> up" if want.up else "up -> down")
    changes += shaping_changes(want, link.qdisc, link.rate_bps)
    for key, value in want.sysctls:
        current = state.sysctls.get(key)
        if current is not None and current != value:
            changes.append(f"{key} {current} -> {value}")
    return changes


def shaping_changes(want: DesiredInterface, qdisc: str, rate: int | None) -> list[str]:
    if want.needs_netem:
        return [] if qdisc == "netem" else [f"netem missing (root qdisc {qdisc or 'none'})"]
    if want.rate is None:
        return [f"rate {_rate_text(rate)} -> none"] if qdisc in ("tbf", "netem") else []
    if qdisc != "tbf" or rate is None:
        return [f"rate none -> {_rate_text(want.rate)}"]
    if abs(rate - want.rate) > max(8, want.rate // 100):  # the kernel keeps bytes per second
        return [f"rate {_rate_text(rate)} -> {_rate_text(want.rate)}"]
    return []


def _rate_text(bps: int | None) -> str:
    if bps is None:
        return "?"
    for unit, size in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bps >= size and bps % size == 0:
            return f"{bps // size}{unit}"
    return f"{bps}bit"


def _link_local(cidr: str) -> bool:
    return ipaddress.ip_interface(cidr).ip.is_link_local
