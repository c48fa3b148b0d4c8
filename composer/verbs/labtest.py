"""``composer test`` and ``composer fault``: checks and steps run against a running lab.

Checks read the lab (probes from inside a container's network namespace through
the host interface, its routing table, a command's output); steps change it
with the same code as the ``link`` verbs and ``stop``/``start``/``kill``/
``restart``.  Names resolve against what the last ``up`` applied (the
project's live-links record), so the project file is not needed.  Each result
goes to ``on_result`` as it is known (the CLI prints a live line); nothing here
prints.  The lab is left as the steps made it; ``restore`` puts the file's link
settings back at the end (``composer link reset``) and starts what a step stopped.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from composer.engine import live as engine_live
from composer.engine.hosts.base import ExecRequest, Host
from composer.errors import ComposerError, StateError
from composer.model.desired import DesiredState
from composer.model.ids import container_id
from composer.project.models.labtests import (
    CommandCheck,
    FaultSchedule,
    LabCheck,
    LabTestsSpec,
    ReachCheck,
    RouteCheck,
    Step,
    ThroughputCheck,
)
from composer.store import live
from composer.store.layout import ProjectLayout
from composer.store.live import EndSetting
from composer.verbs import lifecycle

DEFAULT_TIMEOUT = 1.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    detail: str  # what was seen: "reached in 0.4 ms", "exit 1, expected 0", ...
    seconds: float


def _desired(layout: ProjectLayout) -> DesiredState:
    recorded = live.load(layout)
    if recorded is None:
        raise StateError(f"project {layout.name} is not up", hint="bring the lab up first (composer up)")
    return recorded.desired


def _container(desired: DesiredState, service: str) -> Any:
    found = sorted(desired.containers_of(service), key=lambda c: c.number)
    if not found:
        names = sorted({c.service for c in desired.containers.values()})
        raise StateError(
            f"no service {service!r} in project {desired.project}", hint=f"one of: {', '.join(names)}"
        )
    return found[0]


def resolve_address(desired: DesiredState, target: str) -> str:
    """An address as given, or the first address of ``SERVICE:IFNAME`` or of a service (IPv4 first)."""
    try:
        return str(ipaddress.ip_address(target))
    except ValueError:
        pass
    service, _, ifname = target.partition(":")
    container = _container(desired, service)
    addresses = [
        address.split("/")[0]
        for interface in sorted(desired.interfaces.values(), key=lambda i: i.ifname)
        if interface.container == container.name and (not ifname or interface.ifname == ifname)
        for address in interface.addresses
    ]
    if not addresses:
        raise StateError(
            f"{target} has no address to reach", hint="give an address, or an interface with one"
        )
    return sorted(addresses, key=lambda a: ":" in a)[0]


# --------------------------------------------------------------------------- checks


def _reach(layout: ProjectLayout, host: Host, desired: DesiredState, check: ReachCheck) -> tuple[bool, str]:
    source = _container(desired, check.source)
    address = resolve_address(desired, check.to)
    netns = source.config.netns_path
    if not netns:
        raise StateError(f"{check.source} has no network namespace of its own to probe from")
    timeout = check.timeout or DEFAULT_TIMEOUT
    if check.http is not None:
        status = host.http_status(netns, address, check.http, check.path, timeout)
        reached = status == check.status
        seen = f"http {address}:{check.http}{check.path} " + (f"status {status}" if status else "no answer")
    else:
        protocol, port = ("udp", check.udp) if check.udp is not None else ("tcp", check.tcp)
        took = host.reach(netns, address, port, timeout, protocol)
        what = f"{protocol} {address}:{port}" if port else f"icmp {address}"
        reached = took is not None
        seen = f"{what} reached in {took * 1000:.1f} ms" if took is not None else f"{what} not reached"
    return reached == (check.expect == "ok"), seen + ("" if check.expect == "ok" else " (expect fail)")


def _throughput(
    layout: ProjectLayout, host: Host, desired: DesiredState, check: ThroughputCheck
) -> tuple[bool, str]:
    source, target = _container(desired, check.source), _find_target(desired, check.to)
    address = resolve_address(desired, check.to)
    rate = host.throughput(source.config.netns_path or "", target.config.netns_path or "", address,
                           check.size, check.timeout or 30.0)  # fmt: skip
    if rate is None:
        return False, f"no transfer to {address}"
    low, high = (check.rate * (1 + sign * check.tolerance / 100) for sign in (-1, 1))
    text = f"{rate / 1e6:.2f} Mbit/s for {check.rate / 1e6:g} Mbit/s +-{check.tolerance:g}%"
    return low <= rate <= high, text


def _find_target(desired: DesiredState, target: str) -> Any:
    """The container that holds ``target`` (a service, SERVICE:IFNAME, or one of its addresses)."""
    try:
        address = str(ipaddress.ip_address(target))
    except ValueError:
        return _container(desired, target.partition(":")[0])
    for interface in desired.interfaces.values():
        if any(a.split("/")[0] == address for a in interface.addresses):
            return desired.containers[container_id(interface.container)]
    raise StateError(f"no container of project {desired.project} has the address {address}")


def _route(layout: ProjectLayout, host: Host, desired: DesiredState, check: RouteCheck) -> tuple[bool, str]:
    container = _container(desired, check.service)
    state = host.netns_state(container.config.netns_path or "", ())
    wanted = "0.0.0.0/0" if check.to == "default" else str(ipaddress.ip_network(check.to, strict=False))
    for route in state.routes:
        if route.destination != wanted:
            continue
        if check.via is not None and route.gateway != check.via:
            return False, f"{wanted} goes via {route.gateway or 'no gateway'} dev {route.device}"
        if check.dev is not None and route.device != check.dev:
            return False, f"{wanted} goes through {route.device}"
        return True, f"{wanted} via {route.gateway or '-'} dev {route.device}"
    return False, f"no route to {wanted}"


def _command(
    layout: ProjectLayout, host: Host, desired: DesiredState, check: CommandCheck
) -> tuple[bool, str]:
    container = _container(desired, check.service)
    argv = tuple(check.run) if isinstance(check.run, list) else ("/bin/sh", "-c", check.run)
    status, stdout, stderr = host.exec_captured(layout, container.name, ExecRequest(argv))
    problems = []
    if status != check.exit:
        problems.append(f"exit {status}, expected {check.exit}")
    for stream, pattern, text in (("stdout", check.stdout, stdout), ("stderr", check.stderr, stderr)):
        if pattern is not None and not re.search(pattern, text):
            problems.append(f"{stream} {text.strip()[:80]!r} does not match {pattern!r}")
    return not problems, "; ".join(problems) or f"exit {status}"


def run_check(
    layout: ProjectLayout, host: Host, check: LabCheck, desired: DesiredState | None = None
) -> CheckResult:
    """One check; ``desired`` is what the last ``up`` applied (read from the state when None)."""
    began = time.monotonic()
    try:
        desired = desired or _desired(layout)
        if check.reach is not None:
            passed, detail = _reach(layout, host, desired, check.reach)
        elif check.route is not None:
            passed, detail = _route(layout, host, desired, check.route)
        elif check.command is not None:
            passed, detail = _command(layout, host, desired, check.command)
        elif check.throughput is not None:
            passed, detail = _throughput(layout, host, desired, check.throughput)
        else:
            for step in check.steps or ():
                run_step(layout, host, step)
            passed, detail = True, "; ".join(s.describe() for s in check.steps or ())
    except ComposerError as error:
        passed, detail = False, _one_line(error)
    return CheckResult(check.name, check.kind, passed, detail, time.monotonic() - began)


def _one_line(error: ComposerError) -> str:
    return f"{error.message} ({error.hint})" if error.hint else error.message


def run_tests(
    layout: ProjectLayout,
    host: Host,
    spec: LabTestsSpec,
    on_result: Callable[[CheckResult], None] = lambda _r: None,
    *,
    restore: bool = False,
) -> list[CheckResult]:
    results = []
    try:
        for check in spec.tests:
            result = run_check(layout, host, check)
            on_result(result)
            results.append(result)
    finally:
        if restore:
            restore_lab(layout, host)
    return results


def restore_lab(layout: ProjectLayout, host: Host) -> None:
    """Put the file's link settings back and start every container a step stopped or killed."""
    engine_live.change(layout, host, None, lambda _file, _now: None)
    lifecycle.start(layout, host)


# --------------------------------------------------------------------------- steps


def run_step(layout: ProjectLayout, host: Host, step: Step) -> None:
    name, value = step.action
    if name == "wait":
        time.sleep(float(value))
    elif name in ("link_down", "link_up"):
        up = name == "link_up"
        engine_live.change(layout, host, str(value), lambda _file, now: replace(now, up=up))
    elif name == "link_set":
        values = {k: v for k, v in value.values().items() if v is not None}
        engine_live.change(layout, host, value.target, lambda _file, now: _with(now, values))
    elif name == "link_reset":
        engine_live.change(layout, host, None if value == "all" else str(value), lambda _f, _n: None)
    elif name == "stop":
        lifecycle.stop(layout, host, [str(value)], timeout=1.0)
    elif name == "start":
        lifecycle.start(layout, host, [str(value)])
    elif name == "restart":
        lifecycle.restart(layout, host, [str(value)], timeout=1.0)
    elif name == "kill":
        lifecycle.kill(layout, host, [str(value)], sig=signal.SIGKILL)


def _with(setting: EndSetting, values: dict[str, Any]) -> EndSetting:
    return replace(setting, **values)


@dataclass(frozen=True)
class FaultEvent:
    round: int
    offset: float  # seconds since the round began, as scheduled
    late: float  # seconds after its time it ran
    step: str
    error: str = ""


def run_faults(
    layout: ProjectLayout,
    host: Host,
    schedule: FaultSchedule,
    on_event: Callable[[FaultEvent], None] = lambda _e: None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Sequence[FaultEvent]:
    """Run the schedule's rounds; a failing step is reported and the schedule goes on."""
    events = []
    began = clock()
    for number in range(schedule.repeat):
        start = began + number * schedule.round_length
        for step in schedule.faults:
            due = start + (step.at or 0.0)
            if (left := due - clock()) > 0:
                sleep(left)
            late = max(0.0, clock() - due)
            try:
                run_step(layout, host, step)
                event = FaultEvent(number + 1, step.at or 0.0, late, step.describe())
            except ComposerError as error:
                event = FaultEvent(number + 1, step.at or 0.0, late, step.describe(), _one_line(error))
            on_event(event)
            events.append(event)
    return events


def run_matrix(
    layout: ProjectLayout, host: Host, on_result: Callable[[CheckResult], None] = lambda _r: None
) -> list[CheckResult]:
    """Every service with a network namespace pings every other one's first address: one check per pair."""
    desired = _desired(layout)
    services = sorted({c.service for c in desired.containers.values() if c.owns_netns})
    reachable = []
    for service in services:
        try:
            reachable.append((service, resolve_address(desired, service)))
        except StateError:
            continue  # no address: nothing can ping it
    results = []
    for source in services:
        for target, address in reachable:
            if target == source:
                continue
            check = LabCheck(
                name=f"{source} -> {target}", reach=ReachCheck.model_validate({"from": source, "to": address})
            )
            result = run_check(layout, host, check, desired)
            on_result(result)
            results.append(result)
    return results
