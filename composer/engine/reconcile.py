"""reconcile(desired, observed) -> Plan: what to do so that the host matches the file.  Pure.

The rules, resource by resource (each action carries its cause):

* A network, volume, link or container with no record is created.  One whose
  record is not ``created`` (a command was killed half-way) is removed and made
  again.  A network whose bridge vanished is made again.
* A container whose config hash or image changed, or whose network namespace
  is gone, or whose network was re-made, is recreated (stop, remove, create,
  start); ``--force-recreate`` recreates all, ``--no-recreate`` none.  A
  running, unchanged container is left alone (same PID).  One that is not
  running is started.
* Services depending on a recreated one with ``depends_on.<x>.restart: true``
  are restarted after it, as Docker Compose does.
* Links touching a recreated container are made again (its netns, and so its
  veth ends, went with it).
* What is recorded but no longer desired is removed: scale-down removes the
  highest numbers; containers of services gone from the file (orphans) only
  with ``--remove-orphans``, otherwise a note says so.
* ``down`` is ``reconcile(DesiredState.empty(), observed)``: everything goes,
  dependents stopped before their dependencies, links before containers,
  containers before networks.

Order: networks and volumes before the containers using them; a container's
links before it starts; a dependency started (or healthy, or completed) before
its dependents start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from composer.engine.observe import ObservedContainer, ObservedState
from composer.engine.plan import Action, Plan
from composer.model.desired import DesiredContainer, DesiredState, canonical_hash


@dataclass(frozen=True)
class ReconcileOptions:
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    remove_volumes: bool = False  # down -v
    start: bool = True  # up --no-start creates only
    down: bool = False  # everything observed goes


def firewall_hash(desired: DesiredState) -> str:
    """The firewall table is derived from networks and published ports; its hash says when to rewrite it."""
    desired = desired.firewall_view
    nets = [
        (n.name, n.bridge, n.internal, n.subnets)
        for n in sorted(desired.networks.values(), key=lambda n: n.name)
        if not n.external
    ]
    ports = sorted(
        json.dumps([c.name, p.host_ip, p.host_port, p.container_port, p.protocol, p.container_address])
        for c in desired.containers.values()
        for p in c.ports
    )
    return canonical_hash({"networks": nets, "ports": ports})


def reconcile(desired: DesiredState, observed: ObservedState, options: ReconcileOptions) -> Plan:
    plan = Plan()
    if options.down:
        _plan_down(plan, observed, options)
        return plan
    recreated_networks = _plan_networks(plan, desired, observed)
    _plan_volumes(plan, desired, observed)
    recreated = _plan_containers(plan, desired, observed, options, recreated_networks)
    _plan_links(plan, desired, observed, recreated)
    _plan_firewall(plan, desired, observed)
    _plan_removals(plan, desired, observed, options)
    _order(plan, desired, observed)
    return plan


# --------------------------------------------------------------------------- up


def _plan_networks(plan: Plan, desired: DesiredState, observed: ObservedState) -> set[str]:
    recreated: set[str] = set()
    for rid, net in sorted(desired.networks.items()):
        seen = observed.networks.get(rid)
        cause = ""
        if seen is None:
            cause = "missing"
        elif seen.phase != "created":
            cause = "left half-made by an interrupted command"
        elif seen.config_hash != net.config_hash:
            cause = "config hash changed"
        elif not seen.present and not net.external:
            cause = f"bridge {net.bridge} is gone"
        if not cause:
            continue
        if seen is not None:
            plan.add(Action("remove", rid, cause))
        plan.add(Action("create", rid, cause), after=[f"remove {rid}"])
        recreated.add(net.name)
    return recreated


def _plan_volumes(plan: Plan, desired: DesiredState, observed: ObservedState) -> None:
    for rid, volume in sorted(desired.volumes.items()):
        seen = observed.volumes.get(rid)
        if volume.external:
            continue
        if seen is None or seen.phase != "created":
            plan.add(Action("create", rid, "missing"))


def _container_cause(
    container: DesiredContainer,
    seen: ObservedContainer,
    options: ReconcileOptions,
    recreated_networks: set[str],
    recreated: Mapping[str, str],
) -> str:
    """Why ``container`` must be recreated, or "" when it can stay."""
    if not seen.complete:
        return "left half-made by an interrupted command"
    if not seen.sandbox_ok:
        return "its network namespace is gone"
    if options.no_recreate:
        return ""
    if options.force_recreate:
        return "--force-recreate"
    if seen.config_hash != container.config_hash:
        return "config hash changed"
    if seen.image_id != container.image_id:
        return "image changed"
    for attachment in container.attachments:
        if attachment.network in recreated_networks:
            return f"network {attachment.network} is made again"
    if container.network_mode.startswith("container:"):
        owner = container.network_mode.partition(":")[2]
        if f"container:{owner}" in recreated:
            return f"it shares the network of {owner}, which is recreated"
    return ""


def _plan_containers(
    plan: Plan,
    desired: DesiredState,
    observed: ObservedState,
    options: ReconcileOptions,
    recreated_networks: set[str],
) -> dict[str, str]:
    """Plan each desired container; returns the recreated ones (rid -> cause)."""
    recreated: dict[str, str] = {}
    # Owners of shared netns first, so that their recreation is known to the containers joining them.
    for rid in _netns_owners_first(desired):
        container = desired.containers[rid]
        seen = observed.containers.get(rid)
        if seen is None:
            plan.add(Action("create", rid, "missing"))
            if options.start:
                plan.add(Action("start", rid, "created"), after=[f"create {rid}"])
            continue
        cause = _container_cause(container, seen, options, recreated_networks, recreated)
        if cause:
            recreated[rid] = cause
            if seen.running:
                plan.add(Action("stop", rid, cause))
            plan.add(Action("remove", rid, cause), after=[f"stop {rid}"])
            plan.add(Action("create", rid, cause), after=[f"remove {rid}"])
            if options.start:
                plan.add(Action("start", rid, cause), after=[f"create {rid}"])
        elif not seen.running and options.start and not _completed(seen, container):
            plan.add(Action("start", rid, _not_running_cause(seen)))
    _plan_dependent_restarts(plan, desired, observed, recreated)
    return recreated


def _completed(seen: ObservedContainer, container: DesiredContainer) -> bool:
    """A one-shot that ran to success stays done: ``up`` again does not re-run it."""
    one_shot = container.restart == "no" or container.restart.startswith("on-failure")
    return one_shot and seen.state == "exited" and seen.exit_code == 0 and not seen.stopped_by_user


def _not_running_cause(seen: ObservedContainer) -> str:
    if seen.state == "exited" and seen.exit_code is not None:
        return f"not running (exited {seen.exit_code})"
    return f"not running ({seen.state})"


def _netns_owners_first(desired: DesiredState) -> list[str]:
    owners = sorted(
        rid for rid, c in desired.containers.items() if not c.network_mode.startswith("container:")
    )
    joiners = sorted(rid for rid, c in desired.containers.items() if c.network_mode.startswith("container:"))
    return owners + joiners


def _plan_dependent_restarts(
    plan: Plan, desired: DesiredState, observed: ObservedState, recreated: Mapping[str, str]
) -> None:
    recreated_services = {desired.containers[rid].service for rid in recreated}
    for rid, container in sorted(desired.containers.items()):
        if rid in recreated or plan.has("start", rid) or rid not in observed.containers:
            continue
        triggers = [
            dep for dep, spec in container.depends_on.items() if spec.restart and dep in recreated_services
        ]  # fmt: skip
        if triggers and observed.containers[rid].running:
            plan.add(Action("restart", rid, f"dependency {triggers[0]} was recreated"))


def _plan_links(
    plan: Plan, desired: DesiredState, observed: ObservedState, recreated: Mapping[str, str]
) -> None:
    for rid, link in sorted(desired.links.items()):
        seen = observed.links.get(rid)
        ends = {f"container:{link.a_container}", f"container:{link.b_container}"}
        cause = ""
        if seen is None:
            cause = "missing"
        elif seen.phase != "created":
            cause = "left half-made by an interrupted command"
        elif seen.config_hash != link.config_hash:
            cause = "config hash changed"
        elif ends & set(recreated):
            cause = "an end's container is recreated"
        elif any(plan.has("create", end) for end in ends):
            cause = "an end's container is made"
        if not cause:
            continue
        if seen is not None:
            plan.add(Action("remove", rid, cause))
        plan.add(Action("create", rid, cause), after=[f"remove {rid}"])


def _plan_firewall(plan: Plan, desired: DesiredState, observed: ObservedState) -> None:
    rid = f"firewall:{desired.project}"
    seen = observed.firewall
    if not desired.needs_firewall:
        if seen is not None:
            plan.add(Action("remove", rid, "no network needs NAT or published ports"))
        return
    wanted = firewall_hash(desired)
    if seen is None:
        plan.add(Action("apply", rid, "missing"))
    elif seen.config_hash != wanted:
        plan.add(Action("apply", rid, "networks or published ports changed"))
    elif not seen.present:
        plan.add(Action("apply", rid, "the nftables table is gone"))


def _plan_removals(
    plan: Plan, desired: DesiredState, observed: ObservedState, options: ReconcileOptions
) -> None:
    services = {c.service for c in desired.containers.values()}
    orphans: list[str] = []
    for rid, seen in sorted(observed.containers.items()):
        if rid in desired.containers or seen.service in desired.untouched_services:
            continue
        if seen.service in services:
            _remove_container(plan, seen, "scaled down")
        elif options.remove_orphans:
            _remove_container(plan, seen, "orphan: its service is no longer in the project")
        else:
            orphans.append(seen.name)
    if orphans:
        plan.notes.append(
            f"orphan containers (services no longer in the project): {', '.join(orphans)}; "
            "run up --remove-orphans to remove them"
        )
    for rid in sorted(set(observed.links) - set(desired.links)):
        plan.add(Action("remove", rid, "no longer in the project"))
    for rid in sorted(set(observed.networks) - set(desired.networks)):
        if _network_still_used(rid, observed, plan, desired):
            plan.notes.append(f"{rid} is no longer in the project but orphan containers still use it")
            continue
        plan.add(Action("remove", rid, "no longer in the project"))


def _network_still_used(rid: str, observed: ObservedState, plan: Plan, desired: DesiredState) -> bool:
    name = rid.partition(":")[2]
    for cid, seen in observed.containers.items():
        if cid in desired.containers or plan.has("remove", cid):
            continue
        if name in seen.data.get("networks", []):
            return True
    return False


def _remove_container(plan: Plan, seen: ObservedContainer, cause: str) -> None:
    if seen.running:
        plan.add(Action("stop", seen.rid, cause))
    plan.add(Action("remove", seen.rid, cause), after=[f"stop {seen.rid}"])


# --------------------------------------------------------------------------- down


def _plan_down(plan: Plan, observed: ObservedState, options: ReconcileOptions) -> None:
    cause = "down"
    for seen in sorted(observed.containers.values(), key=lambda c: c.rid):
        _remove_container(plan, seen, cause if seen.complete else "down (half-made)")
    for rid in sorted(observed.links):
        plan.add(Action("remove", rid, cause))
    for rid in sorted(observed.networks):
        plan.add(Action("remove", rid, cause))
    if observed.firewall is not None:
        plan.add(Action("remove", observed.firewall.rid, cause))
    if options.remove_volumes:
        for rid in sorted(observed.volumes):
            plan.add(Action("remove", rid, "down -v"))
    _order_down(plan, observed)


def _order_down(plan: Plan, observed: ObservedState) -> None:
    """Dependents stop before their dependencies; links, then containers, then networks go."""
    by_service: dict[str, list[str]] = {}
    for seen in observed.containers.values():
        by_service.setdefault(seen.service, []).append(seen.rid)
    for seen in observed.containers.values():
        for dependency in seen.data.get("depends_on", []):
            for dep_rid in by_service.get(dependency, []):
                plan.require(f"stop {dep_rid}", after=[f"stop {seen.rid}"])
    _removal_edges(plan, observed.containers, observed.links)


def _removal_edges(plan: Plan, containers: Mapping[str, ObservedContainer], links: Iterable[str]) -> None:
    link_removals = [f"remove {rid}" for rid in links]
    container_removals = [f"remove {rid}" for rid in containers]
    for key in container_removals:
        plan.require(key, after=link_removals)
    for key, action in list(plan.actions.items()):
        if action.verb == "remove" and action.rid.startswith(("network:", "firewall:", "volume:")):
            plan.require(key, after=container_removals)
    # A container sharing another's netns goes before the owner.
    for rid, seen in containers.items():
        owner = seen.data.get("netns_owner")
        if owner and owner != rid.partition(":")[2]:
            plan.require(f"remove container:{owner}", after=[f"remove {rid}"])


# --------------------------------------------------------------------------- ordering for up


def _order(plan: Plan, desired: DesiredState, observed: ObservedState) -> None:
    plan.prune_edges()
    network_creates = {
        net.name: f"create {rid}" for rid, net in desired.networks.items() if plan.has("create", rid)
    }
    volume_creates = [f"create {rid}" for rid in desired.volumes if plan.has("create", rid)]
    firewall_key = f"apply firewall:{desired.project}"
    for rid, container in desired.containers.items():
        create = f"create {rid}"
        plan.require(
            create,
            after=[network_creates[a.network] for a in container.attachments if a.network in network_creates],
        )
        plan.require(create, after=volume_creates)
        if container.network_mode.startswith("container:"):
            owner = container.network_mode.partition(":")[2]
            plan.require(create, after=[f"create container:{owner}"])
        _order_start(plan, desired, container, firewall_key)
    for rid, link in desired.links.items():
        ends = [f"container:{link.a_container}", f"container:{link.b_container}"]
        plan.require(f"create {rid}", after=[f"create {end}" for end in ends])
        for end in ends:
            plan.require(f"start {end}", after=[f"create {rid}"])
    plan.require(firewall_key, after=list(network_creates.values()))
    _removal_edges(
        plan,
        {rid: c for rid, c in observed.containers.items() if plan.has("remove", rid)},
        [rid for rid in observed.links if plan.has("remove", rid)],
    )
    _creates_after_removals(plan)


def _order_start(plan: Plan, desired: DesiredState, container: DesiredContainer, firewall_key: str) -> None:
    start = f"start {container.rid}"
    restart = f"restart {container.rid}"
    if not (plan.has("start", container.rid) or plan.has("restart", container.rid)):
        return
    for key in (start, restart):
        plan.require(key, after=[firewall_key])
    for dependency, spec in sorted(container.depends_on.items()):
        # An optional dependency (required: false) orders the start but never gates it.
        condition = spec.condition if spec.required else "service_started"
        for dep in desired.containers_of(dependency):
            gates = [f"start {dep.rid}", f"restart {dep.rid}"]
            if condition == "service_healthy":
                gates.append(_add_wait(plan, "wait-healthy", dep.rid, after=gates))
            elif condition == "service_completed_successfully":
                gates.append(_add_wait(plan, "wait-completed", dep.rid, after=gates))
            plan.require(start, after=gates)
            plan.require(restart, after=gates)


def _add_wait(plan: Plan, verb: str, rid: str, *, after: list[str]) -> str:
    cause = "a dependent needs it healthy" if verb == "wait-healthy" else "a dependent needs it completed"
    key = plan.add(Action(verb, rid, cause))  # type: ignore[arg-type]
    plan.require(key, after=after)
    return key


def _creates_after_removals(plan: Plan) -> None:
    """A network or link made again comes after the old one is removed (same rid)."""
    for key, action in plan.actions.items():
        if action.verb == "create":
            plan.require(key, after=[f"remove {action.rid}"])
