"""Host facts the file alone cannot tell, checked before anything is created.

* links and attachments with delay, jitter, loss, corrupt, duplicate or reorder need the kernel's netem qdisc;
* a published port must not be held by a listening socket that is not ours;
* without root, limits the user's cgroups cannot hold are named once (or refused, strictly);
* on cgroup v2, the v1-only mem_swappiness and oom_kill_disable are named once as ignored (as Docker does);
* a link's host end must not take a host interface that is not its own, the bridge it joins must exist
  (composer never makes one), a macvlan's parent too; without root such links are refused.

Everything is asked of the host interface, so the same checks run against the
fake host in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from composer.engine.hosts.base import PlanningFacts
from composer.engine.observe import ObservedState
from composer.engine.plan import Plan
from composer.errors import PlanError, SpecError, SpecIssue
from composer.model.desired import DesiredLink, DesiredState
from composer.model.ids import ResourceId
from composer.model.naming import ifalias

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
    issues = _port_conflicts(loaded, desired, observed, host) + _rootless_refusals(loaded, desired, host)
    if not host.is_rootless():
        issues += _outside_ends(loaded, desired, observed, host)
    if issues:
        raise SpecError(issues)


def limit_notes(
    loaded: LoadedProject, desired: DesiredState, plan: Plan, host: PlanningFacts, *, strict: bool
) -> tuple[str, ...]:
    """The notes naming the limits that cannot hold here; PlanError instead when ``strict`` (rootless).

    Limits are named by the keys the user wrote (``services.a.deploy.resources.limits.memory``).
    """
    from composer.model.build import limit_keys
    from composer.model.rootless import limits_note, lost_limits

    if not plan:
        return ()
    support = host.limit_support()
    limits = {c.service: c.config.cgroup for c in desired.containers.values()}  # a service's are alike
    keys = {name: limit_keys(loaded.spec.services[name]) for name in limits if name in loaded.spec.services}
    if strict and (lost := lost_limits(limits, support, keys)) is not None:
        raise PlanError(
            f"rootless: these limits cannot be applied: {lost} ({support.reason})",
            hint="delegate cgroup v2 to your user (systemd: Delegate=yes), or run without strict"
            " limits to start the containers without them",
        )
    notes = (limits_note(limits, support, keys), _cgroup_v2_note(desired, host))
    return tuple(note for note in notes if note is not None)


def _cgroup_v2_note(desired: DesiredState, host: PlanningFacts) -> str | None:
    """mem_swappiness and oom_kill_disable have no cgroup v2 equivalent: say once they are ignored.

    Only what the rootless note has not already named (a limit whose controller is not delegated).
    """
    from composer.model.container import cgroup_v2_ignored
    from composer.model.rootless import enforceable_limits

    if host.cgroup_version() != 2:
        return None
    support = host.limit_support()
    by_service = {
        c.service: enforceable_limits(c.config.cgroup, support) for c in desired.containers.values()
    }
    return cgroup_v2_ignored(by_service)


def _rootless_refusals(loaded: LoadedProject, desired: DesiredState, host: PlanningFacts) -> list[SpecIssue]:
    """What a project's user namespace cannot give: a second mapping of its own (userns_mode)."""
    if not host.is_rootless():
        return []
    issues = []
    for service in sorted({c.service for c in desired.containers.values() if c.config.userns}):
        path = f"services.{service}.userns_mode"
        issues.append(
            SpecIssue.at(
                loaded.locate(path), path,
                "not supported without root: the project's user namespace maps only your own"
                " subordinate range, which it already gives the containers",
                "remove userns_mode (the containers' root is already not the host's root)",
            )
        )  # fmt: skip
    for index, side, _link in _outside_links(loaded, desired):
        path, place = _link_place(loaded, index, side)
        issues.append(
            SpecIssue.at(
                place, path,
                "a link end outside the project (the host, a bridge, a macvlan) is not supported without"
                " root: the host's network namespace of a project without root is the project's own, which"
                " nothing outside it reaches",
                "run up as root, or link the node to another node of the project",
            )
        )  # fmt: skip
    return issues + _rootless_host_namespaces(loaded, desired)


def _outside_links(loaded: LoadedProject, desired: DesiredState) -> list[tuple[int, int, DesiredLink]]:
    """(index in the file, side of the outside end, the link) of each link this host makes with one."""
    found = []
    for index, spec in enumerate(loaded.spec.links):
        link = desired.links.get(ResourceId(spec.resource_id))
        side = spec.outside_side
        if link is not None and link.outside is not None and side is not None:
            found.append((index, side, link))
    return found


def _link_place(loaded: LoadedProject, index: int, side: int) -> tuple[str, tuple[str, int, int]]:
    """The dotted path and place of a link end (in a containerlab file, the line of its topology link)."""
    path = f"links.{index}.endpoints.{side}"
    return path, loaded.locate(path)


def _outside_ends(
    loaded: LoadedProject, desired: DesiredState, observed: ObservedState, host: PlanningFacts
) -> list[SpecIssue]:
    """The host ends, bridges and macvlan parents of the links, checked before anything is made.

    A host interface with a host end's name must be this link's, or a recorded
    link's of the project that this plan replaces (the node end changed); any
    other is a user's, which composer never takes or removes.
    A bridge must exist: composer never creates or deletes one (containerlab's
    kind: bridge node names a bridge the user made).
    """
    issues = []
    recorded = {ifalias(desired.project, rid) for rid in observed.links}
    for index, side, link in _outside_links(loaded, desired):
        assert link.outside is not None
        outside = link.outside
        path, place = _link_place(loaded, index, side)
        name, bridge = outside.host_ifname, outside.bridge
        if name:
            found = host.host_interface(name)
            if found is not None and found[1] not in recorded | {ifalias(desired.project, link.rid)}:
                issues.append(SpecIssue.at(
                    place, path, f"host interface {name} already exists and is not this link's",
                    "composer takes no interface it did not make: name the host end otherwise, or remove"
                    f" that interface (ip link del {name}) if it is yours to remove",
                ))  # fmt: skip
        if bridge:
            found = host.host_interface(bridge)
            if found is None or found[0] != "bridge":
                what = "does not exist" if found is None else f"is a {found[0] or 'plain'} interface"
                issues.append(SpecIssue.at(
                    place, path,
                    f"bridge {bridge} {what} on the host (a containerlab kind: bridge node {bridge} names"
                    " an existing Linux bridge)",
                    f"create it first (ip link add {bridge} type bridge && ip link set {bridge} up):"
                    " composer never creates or deletes it",
                ))  # fmt: skip
        if outside.macvlan and host.host_interface(outside.macvlan) is None:
            issues.append(SpecIssue.at(
                place, path, f"host interface {outside.macvlan}, the macvlan's parent, does not exist",
                "name an interface of this host (ip link shows them)",
            ))  # fmt: skip
    return issues


def _rootless_host_namespaces(loaded: LoadedProject, desired: DesiredState) -> list[SpecIssue]:
    """uts/ipc/cgroup: host would be the user's own namespaces, which the project's user namespace
    does not own: the container could not mount its mqueue or set anything there (pid: host is fine,
    it is the project's pid namespace)."""
    kept = {(c.service, kind) for c in desired.containers.values() for kind in c.config.host_namespaces}
    issues = []
    for service, kind in sorted(k for k in kept if k[1] != "pid"):
        path = f"services.{service}.{kind}"
        issues.append(
            SpecIssue.at(
                loaded.locate(path), path,
                f"`{kind}: host` is not supported without root: the host's {kind} namespace is not the"
                " project's user namespace's to use",
                f"remove `{kind}: host` (without root only `pid: host` works: the project's pid namespace)",
            )
        )  # fmt: skip
    return issues


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
