"""``ResourceId``: the one name of every resource composer manages.

The same string is the key of the desired state's maps, of the state store's
records, of plan actions and of progress events: ``kind:name``::

    network:<name>        a Linux bridge (or an external one joined by name)
    volume:<name>         a named volume: a folder under the state root
    container:<name>      <project>-<service>-<n>: its folder, netns, cgroup, veths, process
    link:<a>--<b>         a veth pair between two containers (lab links)
    firewall:<project>    composer's nftables table for the project (NAT, published ports)
    interface:<c>:<if>    an interface composer configures inside container <c>: addresses, MTU,
                          shaping, state, per-interface sysctls (carried by a link or an attachment)
    route:<c>:<prefix>    a route inside container <c> (its default route: prefix 0.0.0.0/0 or ::/0)

It is a ``str`` (so it renders, sorts and serialises as the text) of its own
type (so that mypy tells a resource id from any other string).
"""

from __future__ import annotations

from typing import Literal, get_args

Kind = Literal["network", "volume", "container", "link", "firewall", "interface", "route"]
KINDS: tuple[Kind, ...] = get_args(Kind)


class ResourceId(str):
    """``kind:name``; construct with :meth:`of` or from text that has a known kind."""

    __slots__ = ()

    def __new__(cls, text: str) -> ResourceId:
        kind, sep, name = text.partition(":")
        if not sep or not name or kind not in KINDS:
            raise ValueError(
                f"not a resource id: {text!r} (expected KIND:NAME, KIND one of {', '.join(KINDS)})"
            )
        return super().__new__(cls, text)

    @classmethod
    def of(cls, kind: Kind, name: str) -> ResourceId:
        return cls(f"{kind}:{name}")

    @property
    def kind(self) -> Kind:
        kind = self.partition(":")[0]
        assert kind in KINDS
        return kind  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return self.partition(":")[2]


def container_id(name: str) -> ResourceId:
    return ResourceId.of("container", name)


def network_id(name: str) -> ResourceId:
    return ResourceId.of("network", name)


def volume_id(name: str) -> ResourceId:
    return ResourceId.of("volume", name)


def link_id(name: str) -> ResourceId:
    return ResourceId.of("link", name)


def firewall_id(project: str) -> ResourceId:
    return ResourceId.of("firewall", project)


def interface_id(container: str, ifname: str) -> ResourceId:
    return ResourceId.of("interface", f"{container}:{ifname}")


def route_id(container: str, destination: str) -> ResourceId:
    return ResourceId.of("route", f"{container}:{destination}")
