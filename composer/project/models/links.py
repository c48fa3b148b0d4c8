"""``links:``: point-to-point wires (veth pairs) between two container interfaces, containerlab style.

Two spellings become one ``LinkSpec``: the short ``"r1:eth1 -- r2:eth1"`` and
the long mapping with ``endpoints`` and the optional addresses, MTU, state and
impairments (``rate`` in bits per second, ``delay``/``jitter`` in seconds,
``loss``/``corrupt``/``duplicate``/``reorder`` in percent).  A link's
``resource_id`` sorts its endpoints, so that both directions of one wire are the
same resource.

Impairments act on the sending side of an interface (tc shapes egress), so one
direction of a wire is one end's egress: the link-level values apply to both
directions, and ``a_to_b:`` / ``b_to_a:`` override them for the traffic leaving
the first / the second endpoint as written.  :meth:`LinkSpec.direction` gives the
effective values of one direction.

One end may be outside the project (:class:`LinkEndpoint`, mapping form only):
``{host: IFNAME}`` (optionally ``bridge: NAME``, an existing bridge it joins) or
``{macvlan: PARENT}``.  Such a link takes no address pair and no impairment in the
direction leaving the outside end: composer configures nothing in the host's
namespace beyond the interface it makes there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from composer.model.units import parse_percent, parse_rate
from composer.project.models.base import OptSeconds, StrMap, _Model

MacvlanMode = Literal["bridge", "vepa", "private", "passthru"]


class LinkEndpoint(_Model):
    """One end of a wire: ``SERVICE:INTERFACE`` in a container, or an end outside the project.

    Outside ends are mappings only (a service may be called ``host``): ``{host: IFNAME}`` is a veth
    end named IFNAME in the host's network namespace, brought up, and with ``bridge: NAME`` also a
    port of that existing bridge (composer never makes or removes the bridge); ``{macvlan: PARENT}``
    makes the other end a macvlan interface on the host's interface PARENT (``mode``, default
    ``bridge``), so the wire has no second end at all.
    """

    service: str = ""
    interface: str = ""
    host: str | None = None
    bridge: str | None = None
    macvlan: str | None = None
    mode: MacvlanMode | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        if isinstance(data, str):
            service, sep, interface = data.strip().partition(":")
            if not sep or not service or not interface:
                raise ValueError(f"invalid link endpoint {data!r}: expected SERVICE:INTERFACE, e.g. r1:eth1")
            return {"service": service, "interface": interface}
        return data

    @model_validator(mode="after")
    def _one_place(self) -> LinkEndpoint:
        places = [bool(self.service or self.interface), self.host is not None, self.macvlan is not None]
        if places.count(True) != 1:
            raise ValueError(
                "a link endpoint is one of {service, interface}, {host} (with an optional bridge) "
                "or {macvlan} (with an optional mode)"
            )
        if places[0] and not (self.service and self.interface):
            raise ValueError("a container end needs service and interface: {service: r1, interface: eth1}")
        if self.bridge is not None and self.host is None:
            raise ValueError("bridge: names the bridge a host end joins: give host: too")
        if self.mode is not None and self.macvlan is None:
            raise ValueError("mode: is a macvlan end's: give macvlan: too")
        return self

    @property
    def outside(self) -> bool:
        """An end outside the project's containers (on the host, or a macvlan on a host interface)."""
        return self.host is not None or self.macvlan is not None

    def __str__(self) -> str:
        if self.host is not None:
            return f"host:{self.host}"
        if self.macvlan is not None:
            return f"macvlan:{self.macvlan}"
        return f"{self.service}:{self.interface}"


def _to_pair(raw: object) -> object:
    if isinstance(raw, list) and len(raw) != 2:
        raise ValueError(f"expected exactly two entries (one per endpoint), got {len(raw)}")
    return tuple(raw) if isinstance(raw, list) else raw


Pair = Annotated[tuple[str, str] | None, BeforeValidator(_to_pair, json_schema_input_type=list[str] | None)]


Percent = Annotated[
    float | None,
    BeforeValidator(
        lambda v: None if v is None else parse_percent(v), json_schema_input_type=float | str | None
    ),
]
Rate = Annotated[
    int | None,
    BeforeValidator(lambda v: None if v is None else parse_rate(v), json_schema_input_type=int | str | None),
]
IMPAIRMENT_FIELDS = ("rate", "delay", "jitter", "loss", "corrupt", "duplicate", "reorder")


def _check_impairments(values: dict[str, Any]) -> None:
    if values["reorder"] and not values["delay"]:
        raise ValueError("reorder needs a delay: the packets not sent at once are the delayed ones")
    if values["jitter"] and not values["delay"]:
        raise ValueError("jitter needs a delay: it varies the delay")


class Impairments(_Model):
    """What one direction of a wire suffers: a rate (TBF) and netem's delay, jitter, loss, ..."""

    rate: Rate = None
    delay: OptSeconds = None
    jitter: OptSeconds = None
    loss: Percent = None
    corrupt: Percent = None
    duplicate: Percent = None
    reorder: Percent = None  # of the packets sent at once, the rest delayed (needs a delay)

    @model_validator(mode="after")
    def _coherent(self) -> Impairments:
        _check_impairments(self.values())
        return self

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in IMPAIRMENT_FIELDS}

    @property
    def needs_netem(self) -> bool:
        return any(getattr(self, name) for name in IMPAIRMENT_FIELDS[1:])


class LinkSpec(Impairments):
    """A point-to-point wire (a veth pair) between two container interfaces, with optional impairments."""

    endpoints: Annotated[
        tuple[LinkEndpoint, LinkEndpoint],
        BeforeValidator(_to_pair, json_schema_input_type=list[LinkEndpoint]),
    ]
    ipv4: Pair = None  # ADDR/PREFIX per endpoint, same order
    ipv6: Pair = None
    mtu: int | None = Field(default=None, ge=68, le=65535)
    state: Literal["up", "down"] = "up"  # down: both ends administratively down (the wire is cut)
    # node: the nodes set their own addresses on this link (exec, a routing daemon): composer adds none
    # and removes none.  file (the default): the ends hold exactly the ipv4/ipv6 addresses given here.
    addressing: Literal["file", "node"] = "file"
    a_to_b: Impairments | None = None  # traffic leaving endpoints[0]
    b_to_a: Impairments | None = None  # traffic leaving endpoints[1]
    labels: StrMap = {}

    @model_validator(mode="before")
    @classmethod
    def _one_line(cls, data: Any) -> Any:
        if isinstance(data, str):
            ends = [part.strip() for part in data.split("--")]
            if len(ends) != 2:
                raise ValueError(f"invalid link {data!r}: expected 'SERVICE:IF -- SERVICE:IF'")
            return {"endpoints": ends}
        return data

    @property
    def outside_side(self) -> int | None:
        """Which endpoint is outside the project's containers (at most one is), else None."""
        return next((side for side, end in enumerate(self.endpoints) if end.outside), None)

    @property
    def resource_id(self) -> str:
        """``link:r1:eth1--r2:eth1`` with the endpoints sorted, so that both spellings agree."""
        first, second = sorted(str(end) for end in self.endpoints)
        return f"link:{first}--{second}"

    @model_validator(mode="after")
    def _coherent(self) -> LinkSpec:
        if self.addressing == "node" and (self.ipv4 or self.ipv6):
            raise ValueError(
                "addressing: node leaves the addresses to the nodes: remove ipv4/ipv6, or drop it"
            )
        for side in (0, 1):  # the merged values of each direction obey the same rules
            _check_impairments(self.direction(side))
        outside = self.outside_side
        if outside is None:
            return self
        if self.endpoints[1 - outside].outside:
            raise ValueError("a link joins at least one container: at most one endpoint is host: or macvlan:")
        if self.ipv4 or self.ipv6:
            raise ValueError(
                "a link with an end outside the project takes no ipv4/ipv6 pair: address the container's end "
                "with addressing: node (exec, a routing daemon), and the host's end yourself"
            )
        if any(v is not None for v in self.direction(outside).values()):
            leaving = "b_to_a" if outside else "a_to_b"
            raise ValueError(
                f"composer shapes no traffic in the host's namespace: remove the impairments of {leaving} "
                "(and the link-level ones), and give those of the container's end under its direction"
            )
        return self

    def direction(self, side: int) -> dict[str, Any]:
        """The effective impairments of the traffic leaving ``endpoints[side]``."""
        override = self.a_to_b if side == 0 else self.b_to_a
        values = Impairments.values(self)
        if override is not None:
            values.update({k: v for k, v in override.values().items() if v is not None})
        return values

    @property
    def has_netem(self) -> bool:
        return any(v is not None for side in (0, 1) for v in self.direction(side).values())
