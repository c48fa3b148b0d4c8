"""What a container's network namespace holds, as the kernel reports it: links, addresses, routes.

Read by ``composer.kernel.net.dump`` (or made up by the fake host) and compared
by ``reconcile()`` with the interfaces and routes the project file declares.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from composer.model.desired import DesiredInterface

NETEM_FIELDS = ("delay", "jitter", "loss", "corrupt", "duplicate", "reorder")


@dataclass(frozen=True)
class NetemState:
    """What a netem qdisc does (times in seconds, the rest in percent; None: not set)."""

    delay: float | None = None
    jitter: float | None = None
    loss: float | None = None
    corrupt: float | None = None
    duplicate: float | None = None
    reorder: float | None = None
    limit: int = 1000  # packets

    @classmethod
    def of(cls, interface: DesiredInterface) -> NetemState:
        return cls(**{name: getattr(interface, name) for name in NETEM_FIELDS})

    def values(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in NETEM_FIELDS}


@dataclass(frozen=True)
class LinkState:
    name: str
    index: int
    mtu: int
    up: bool  # administratively up (IFF_UP)
    qdisc: str = ""  # the root qdisc's kind: "tbf", "netem", "noqueue", ...
    rate_bps: int | None = None  # a root TBF's rate (or the TBF under a root netem) in bits per second
    netem: NetemState | None = None  # a root netem's settings
    carrier: bool = True  # the peer (or the wire) is there: IFF_LOWER_UP
    root_handle: int = 0  # the root qdisc's handle (0: the kernel's default qdisc)


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
    wanted = {str(ipaddress.ip_interface(a)) for a in want.addresses} if want.addresses_managed else have
    changes += [f"address {a} missing" for a in sorted(wanted - have)]
    changes += [f"address {a} not in the file" for a in sorted(have - wanted)]
    if want.mtu is not None and link.mtu != want.mtu:
        changes.append(f"mtu {link.mtu} -> {want.mtu}")
    if link.up != want.up:
        changes.append("down -> up" if want.up else "up -> down")
    changes += shaping_changes(want, link.qdisc, link.rate_bps, link.netem)
    for key, value in want.sysctls:
        current = state.sysctls.get(key)
        if current is not None and current != value:
            changes.append(f"{key} {current} -> {value}")
    return changes


def shaping_changes(
    want: DesiredInterface, qdisc: str, rate: int | None, netem: NetemState | None = None
) -> list[str]:
    """What differs in the qdiscs (``[]``: nothing), each as ``FIELD OLD -> NEW`` for the plan line."""
    if want.needs_netem or qdisc == "netem":
        return _netem_changes(want, netem if qdisc == "netem" else NetemState()) + _rate_change(want, rate)
    return _rate_change(want, rate if qdisc == "tbf" else None)


def _netem_changes(want: DesiredInterface, have: NetemState | None) -> list[str]:
    have = have or NetemState()
    changes: list[str] = []
    for name, value in NetemState.of(want).values().items():
        current = have.values()[name]
        if not _close(current, value):
            changes.append(f"{name} {_value_text(name, current)} -> {_value_text(name, value)}")
    return changes


def _rate_change(want: DesiredInterface, rate: int | None) -> list[str]:
    if want.rate is None:
        return [f"rate {rate_text(rate)} -> none"] if rate is not None else []
    if rate is None:
        return [f"rate none -> {rate_text(want.rate)}"]
    if abs(rate - want.rate) > max(8, want.rate // 100):  # the kernel keeps bytes per second
        return [f"rate {rate_text(rate)} -> {rate_text(want.rate)}"]
    return []


def _close(have: float | None, want: float | None) -> bool:
    """Equal within what the kernel keeps (64 ns ticks, fractions of 2^32)."""
    if not have or not want:
        return not have and not want
    return abs(have - want) <= max(1e-7, abs(want) * 1e-6)


def _value_text(name: str, value: float | None) -> str:
    if value is None:
        return "none"
    if name in ("delay", "jitter"):
        return f"{value * 1000:g}ms"
    return f"{value:g}%"


def rate_text(bps: int | None) -> str:
    if bps is None:
        return "?"
    for unit, size in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bps >= size and bps % size == 0:
            return f"{bps // size}{unit}"
    return f"{bps}bit"


def _link_local(cidr: str) -> bool:
    return ipaddress.ip_interface(cidr).ip.is_link_local
