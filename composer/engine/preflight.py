"""Host facts the file alone cannot tell, checked before anything is created.

* links and attachments with delay, jitter, loss, corrupt, duplicate or reorder need the kernel's netem qdisc;
* a published port must not be held by a listening socket that is not ours.

Everything is asked of the host interface, so the same checks run against the
fake host in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from composer.engine.hosts.base import PlanningFacts
from composer.engine.observe import ObservedState
from composer.engine.plan import Plan
from composer.errors import PlanError, SpecError, SpecIssue
from composer.model.desired import DesiredState

if TYPE_CHECKING:
    from composer.project.loader import LoadedProject

NETEM_MISSING = (
    "the kernel lacks the netem qdisc (sch_netem): links with delay, jitter, loss, corrupt, duplicate or "
    "reorder cannot be made"
)


def check_host(
    loaded: LoadedProject, desired: DesiredState, observed: ObservedState, plan: Plan, host: PlanningFacts
) -> None:
    if not plan:
        return
    if desired.needs_netem and not host.netem_available():
        raise PlanError(
            NETEM_MISSING,
            hint="load the sch_netem module (modprobe sch_netem), or keep only rate and state on the links",
        )
    issues = _port_conflicts(loaded, desired, observed, host)
    if issues:
        raise SpecError(issues)


def _port_conflicts(
    loaded: LoadedProject, desired: DesiredState, observed: ObservedState, host: PlanningFacts
) -> list[SpecIssue]:
    """Published ports that a listening socket on the host already holds (ours excepted)."""
    ours = {(p.protocol, p.host_port) for c in observed.containers.values() for p in c.record.ports}
    issues: list[SpecIssue] = []
    for container in sorted(desired.containers.values(), key=lambda c: c.name):
        for port in container.ports:
            if (port.protocol, port.host_port) in ours:
                continue
            host_ip = None if port.host_ip in ("", "0.0.0.0") else port.host_ip
            if host.ports_in_use(port.protocol, host_ip, [port.host_port]):
                path = f"services.{container.service}.ports"
                issues.append(
                    SpecIssue.at(
                        loaded.locate(path),
                        path,
                        f"host port {port.host_port}/{port.protocol} is already in use on this host",
                        "stop what listens there, or publish another port",
                    )
                )
    return issues
