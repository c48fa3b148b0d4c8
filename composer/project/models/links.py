"""``links:``: point-to-point wires (veth pairs) between two container interfaces, containerlab style.

Two spellings become one ``LinkSpec``: the short ``"r1:eth1 -- r2:eth1"`` and
the long mapping with ``endpoints`` and the optional addresses, MTU and netem
settings (``rate`` in bits per second, ``delay``/``jitter`` in seconds,
``loss`` in percent).  A link's ``resource_id`` sorts its endpoints, so that
both directions of one wire are the same resource.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from composer.model.units import parse_percent, parse_rate
from composer.project.models.base import OptSeconds, StrMap, _Model


class LinkEndpoint(_Model):
    service: str
    interface: str

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        if isinstance(data, str):
            service, sep, interface = data.strip().partition(":")
            if not sep or not service or not interface:
                raise ValueError(f"invalid link endpoint {data!r}: expected SERVICE:INTERFACE, e.g. r1:eth1")
            return {"service": service, "interface": interface}
        return data

    def __str__(self) -> str:
        return f"{self.service}:{self.interface}"


def _to_pair(raw: object) -> object:
    if isinstance(raw, list) and len(raw) != 2:
        raise ValueError(f"expected exactly two entries (one per endpoint), got {len(raw)}")
    return tuple(raw) if isinstance(raw, list) else raw


Pair = Annotated[tuple[str, str] | None, BeforeValidator(_to_pair, json_schema_input_type=list[str] | None)]


class LinkSpec(_Model):
    """A point-to-point wire (a veth pair) between two container interfaces, with optional netem."""

    endpoints: Annotated[
        tuple[LinkEndpoint, LinkEndpoint],
        BeforeValidator(_to_pair, json_schema_input_type=list[LinkEndpoint]),
    ]
    ipv4: Pair = None  # ADDR/PREFIX per endpoint, same order
    ipv6: Pair = None
    mtu: int | None = Field(default=None, ge=68, le=65535)
    rate: Annotated[
        int | None,
        BeforeValidator(
            lambda v: None if v is None else parse_rate(v), json_schema_input_type=int | str | None
        ),
    ] = None
    delay: OptSeconds = None
    jitter: OptSeconds = None
    loss: Annotated[
        float | None,
        BeforeValidator(
            lambda v: None if v is None else parse_percent(v), json_schema_input_type=float | str | None
        ),
    ] = None
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
    def resource_id(self) -> str:
        """``link:r1:eth1--r2:eth1`` with the endpoints sorted, so that both spellings agree."""
        first, second = sorted(str(end) for end in self.endpoints)
        return f"link:{first}--{second}"

    @property
    def has_netem(self) -> bool:
        return any(v is not None for v in (self.rate, self.delay, self.jitter, self.loss))
