"""Lab tests and fault schedules: the files ``composer test`` and ``composer fault`` read.

They live in files of their own (``lab.tests.yaml``, ``faults.yaml``) next to the
project file rather than in it, so that the project file stays one that
``docker compose`` reads too (compose rejects unknown top-level keys).

A *step* changes the lab: exactly one of ``link_down``/``link_up`` (an end
``r1:eth1`` or a link ``r1:eth1--r2:eth1``), ``link_set`` (a target and
impairments), ``link_reset`` (a target, or ``all``), ``stop``/``start``/
``kill``/``restart`` (a service) or ``wait`` (a duration).  A fault schedule is
steps with an ``at`` offset, run ``repeat`` times every ``period``.

A *check* has a name and exactly one of ``reach`` (from a service to an
address, a service or ``SERVICE:IFNAME``, by ICMP echo, a TCP connect, a UDP
answer or an HTTP status, ``expect: ok|fail``), ``throughput`` (a bulk TCP
transfer between two services within a tolerance of a rate), ``route`` (a
service has a route to a prefix, via a gateway and/or a device), ``command``
(run in a service: exit status, stdout and stderr regexes) or ``steps`` (a list
of steps run in order).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from composer.model.units import parse_bytes, parse_percent, parse_rate
from composer.project.models.base import OptSeconds, _Model
from composer.project.models.links import Impairments

STEP_ACTIONS = ("link_down", "link_up", "link_set", "link_reset", "stop", "start", "kill", "restart", "wait")
CHECK_KINDS = ("reach", "route", "command", "throughput", "steps")


def _exactly_one(model: _Model, names: tuple[str, ...], what: str) -> str:
    given = [name for name in names if getattr(model, name) is not None]
    if len(given) != 1:
        raise ValueError(
            f"{what} needs exactly one of {', '.join(names)}"
            + (f" (got {', '.join(given)})" if given else "")
        )
    return given[0]


class LinkSetStep(Impairments):
    target: str  # an end (its egress) or a link (both ends)


class Step(_Model):
    link_down: str | None = None
    link_up: str | None = None
    link_set: LinkSetStep | None = None
    link_reset: str | None = None  # a target, or "all"
    stop: str | None = None
    start: str | None = None
    kill: str | None = None
    restart: str | None = None
    wait: OptSeconds = None
    at: OptSeconds = None  # in a fault schedule: seconds from the start of the round

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        _exactly_one(self, STEP_ACTIONS, "a step")
        return self

    @property
    def action(self) -> tuple[str, Any]:
        name = next(n for n in STEP_ACTIONS if getattr(self, n) is not None)
        return name, getattr(self, name)

    def describe(self) -> str:
        name, value = self.action
        if name == "link_set":
            settings = {k: v for k, v in value.values().items() if v is not None}
            return f"link_set {value.target} {settings}"
        if name == "wait":
            return f"wait {value:g}s"
        return f"{name} {value}"


class FaultSchedule(_Model):
    """Steps at offsets; the round repeats ``repeat`` times, a new one every ``period``."""

    faults: list[Step] = Field(min_length=1)
    repeat: int = Field(default=1, ge=1)
    period: OptSeconds = None  # default: the last offset

    @model_validator(mode="after")
    def _offsets(self) -> FaultSchedule:
        offsets = [s.at or 0.0 for s in self.faults]
        if offsets != sorted(offsets):
            raise ValueError("faults must be listed in the order of their `at` offsets")
        if self.period is not None and self.period < offsets[-1]:
            raise ValueError(f"period {self.period:g}s is shorter than the last offset {offsets[-1]:g}s")
        return self

    @property
    def round_length(self) -> float:
        return self.period if self.period is not None else max(s.at or 0.0 for s in self.faults)


Port = Annotated[int | None, Field(default=None, ge=1, le=65535)]


class ReachCheck(_Model):
    """ICMP echo by default; ``tcp``: a connect; ``udp``: a datagram answered; ``http``: a status."""

    source: str = Field(alias="from")  # a service
    to: str  # an address, a service, or SERVICE:IFNAME
    tcp: Port = None
    udp: Port = None
    http: Port = None
    path: str = "/"
    status: int = 200  # the HTTP status that counts as reached
    expect: Literal["ok", "fail"] = "ok"
    timeout: OptSeconds = None  # default 1s

    @model_validator(mode="after")
    def _one_protocol(self) -> ReachCheck:
        given = [name for name in ("tcp", "udp", "http") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(
                f"a reach check probes one way: give one of tcp, udp, http (got {', '.join(given)})"
            )
        return self


class ThroughputCheck(_Model):
    """A bulk TCP transfer from one service to another: its rate within ``tolerance`` of ``rate``."""

    source: str = Field(alias="from")
    to: str
    rate: Annotated[int, BeforeValidator(parse_rate, json_schema_input_type=int | str)]
    tolerance: Annotated[float, BeforeValidator(parse_percent, json_schema_input_type=float | str)] = 20.0
    size: Annotated[int, BeforeValidator(parse_bytes, json_schema_input_type=int | str)] = 1024 * 1024
    timeout: OptSeconds = None  # default 30s


class RouteCheck(_Model):
    service: str
    to: str  # a prefix, or "default"
    via: str | None = None
    dev: str | None = None


class CommandCheck(_Model):
    service: str
    run: list[str] | str  # argv, or a shell line for /bin/sh -c
    exit: int = 0
    stdout: str | None = None  # a regex searched in the output
    stderr: str | None = None


class LabCheck(_Model):
    name: str
    reach: ReachCheck | None = None
    route: RouteCheck | None = None
    command: CommandCheck | None = None
    throughput: ThroughputCheck | None = None
    steps: list[Step] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LabCheck:
        _exactly_one(self, CHECK_KINDS, f"check {self.name!r}")
        return self

    @property
    def kind(self) -> str:
        return next(n for n in CHECK_KINDS if getattr(self, n) is not None)


class LabTestsSpec(_Model):
    tests: list[LabCheck] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> LabTestsSpec:
        names = [t.name for t in self.tests]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ValueError(f"check names must be unique: {', '.join(doubles)}")
        return self
