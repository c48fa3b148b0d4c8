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
* A lab node (an end of a link) recreated for an edit that does not reach its
  network (the config hash or the image changed; its networks, addresses and
  interfaces did not) keeps its network namespace: one ``recreate`` action
  stops, removes and creates the container again in the netns it has, so its
  veths, addresses, routes and qdiscs stay, and its neighbours' ends of its
  links are not touched.
* Services depending on a recreated one with ``depends_on.<x>.restart: true``
  are restarted after it, as Docker Compose does.
* Links touching a recreated container are made again (its netns, and so its
  veth ends, went with it); so is a link one of whose ends is gone.  A link's
  ends are its identity: its addresses, MTU, shaping and state are its
  interfaces'.
* Interfaces (link ends and network attachments) are compared with what the
  kernel shows; what differs (an address, the MTU, the qdisc's rate or netem
  settings, the state, a per-interface sysctl) is changed in place
  (``update``), the same containers and PIDs kept; both ends of a link change
  as one ``update link:...`` whose cause says what changed.  An interface whose
  carrier is made in this plan is born right.
* Routes are resources of their own, through the interface that holds their
  gateway: a route whose carrier (a link, or the container for its networks)
  is made again is made again after it, and one missing from the routing table
  (deleted by hand, lost with an interface) is put back.  A route through an
  interface the file wants down is left out (the kernel drops such routes) and
  comes back when the interface is up again.  A network's default
  gateway is made with the attachment.
* What is recorded but no longer desired is removed: scale-down removes the
  highest numbers; containers of services gone from the file (orphans) only
  with ``--remove-orphans``, otherwise a note says so.
* Containers of ``composer run`` (one-offs) are left alone by ``up``;
  ``rm`` and ``down`` remove them.
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
from composer.engine.plan import Action, ActionKey, Plan, PlanBuilder, Verb, key
from composer.model.desired import (
    DesiredContainer,
    DesiredInterface,
    DesiredLink,
    DesiredState,
    canonical_hash,
)
from composer.model.ids import ResourceId, container_id, interface_id
from composer.model.netstate import interface_changes
from composer.model.restart import RestartPolicy


@dataclass(frozen=True)
class ReconcileOptions:
    force_recreate: bool = False
    recreate_services: frozenset[str] = (
        frozenset()
    )  # recreated like --force-recreate (--always-recreate-deps)
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
    plan = PlanBuilder()
    if options.down:
        _plan_down(plan, observed, options)
        return plan.build()
    recreated_networks = _plan_networks(plan, desired, observed)
    _plan_volumes(plan, desired, observed)
    recreated = _plan_containers(plan, desired, observed, options, recreated_networks)
    netns_remade = {rid: c for rid, c in recreated.items() if not plan.has(Verb.RECREATE, rid)}
    _plan_links(plan, desired, observed, netns_remade)
    _plan_interfaces(plan, desired, observed)
    _plan_routes(plan, desired, observed)
    _plan_firewall(plan, desired, observed)
    _plan_removals(plan, desired, observed, options)
    _order(plan, desired, observed)
    return plan.build()


def _replace(plan: PlanBuilder, rid: ResourceId, cause: str, *, recorded: bool) -> None:
    """Create ``rid`` (after removing what is recorded of it)."""
    if recorded:
        plan.add(Action(Verb.REMOVE, rid, cause))
    plan.add(Action(Verb.CREATE, rid, cause), after=[key(Verb.REMOVE, rid)])


# --------------------------------------------------------------------------- up


def _plan_networks(plan: PlanBuilder, desired: DesiredState, observed: ObservedState) -> set[str]:
    recreated: set[str] = set()
    for rid, net in sorted(desired.networks.items()):
        seen = observed.networks.get(rid)
        cause = ""
        if seen is None:
            cause = "missing"
        elif not seen.complete:
            cause = "left half-made by an interrupted command"
        elif seen.config_hash != net.config_hash:
            cause = "config hash changed"
        elif not seen.present and not net.external:
            cause = f"bridge {net.bridge} is gone"
        if cause:
            _replace(plan, rid, cause, recorded=seen is not None)
            recreated.add(net.name)
    return recreated


def _plan_volumes(plan: PlanBuilder, desired: DesiredState, observed: ObservedState) -> None:
    for rid, volume in sorted(desired.volumes.items()):
        seen = observed.volumes.get(rid)
        if volume.external:
            continue
        if seen is None or not seen.complete:
            plan.add(Action(Verb.CREATE, rid, "missing"))


def _container_cause(
    container: DesiredContainer,
    seen: ObservedContainer,
    options: ReconcileOptions,
    recreated_networks: set[str],
    recreated: Mapping[ResourceId, str],
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
    if container.service in options.recreate_services:
        return "--always-recreate-deps"
    if seen.config_hash != container.config_hash:
        return "config hash changed"
    if seen.image_id != container.image_id:
        return "image changed"
    for attachment in container.attachments:
        if attachment.network in recreated_networks:
            return f"network {attachment.network} is made again"
        if seen.netns_state is not None and attachment.ifname not in seen.netns_state.links:
            return f"its interface {attachment.ifname} is gone"
    owner = container.netns_owner
    if owner and container_id(owner) in recreated:
        return f"it shares the network of {owner}, which is recreated"
    return ""


def _plan_containers(
    plan: PlanBuilder,
    desired: DesiredState,
    observed: ObservedState,
    options: ReconcileOptions,
    recreated_networks: set[str],
) -> dict[ResourceId, str]:
    """Plan each desired container; returns the recreated ones (rid -> cause)."""
    recreated: dict[ResourceId, str] = {}
    lab_nodes = {end for link in desired.links.values() for end in link.ends}
    # Owners of shared netns first, so that their recreation is known to the containers joining them.
    for rid in _netns_owners_first(desired):
        container = desired.containers[rid]
        seen = observed.containers.get(rid)
        if seen is None:
            plan.add(Action(Verb.CREATE, rid, "missing"))
            if options.start:
                plan.add(Action(Verb.START, rid, "created"), after=[key(Verb.CREATE, rid)])
            continue
        cause = _container_cause(container, seen, options, recreated_networks, recreated)
        if cause and rid in lab_nodes and _keeps_network(container, seen, cause):
            # Only the container changes: its netns, veths, addresses, routes and qdiscs stay, and so
            # do its neighbours' ends of its links.
            recreated[rid] = cause
            plan.add(Action(Verb.RECREATE, rid, f"{cause} (network kept)"))
            if options.start:
                plan.add(Action(Verb.START, rid, cause), after=[key(Verb.RECREATE, rid)])
        elif cause:
            recreated[rid] = cause
            if seen.running:
                plan.add(Action(Verb.STOP, rid, cause))
            plan.add(Action(Verb.REMOVE, rid, cause), after=[key(Verb.STOP, rid)])
            plan.add(Action(Verb.CREATE, rid, cause), after=[key(Verb.REMOVE, rid)])
            if options.start:
                plan.add(Action(Verb.START, rid, cause), after=[key(Verb.CREATE, rid)])
        elif not seen.running and options.start and not _completed(seen, container):
            plan.add(Action(Verb.START, rid, _not_running_cause(seen)))
    _plan_dependent_restarts(plan, desired, observed, recreated)
    return recreated


_NETWORK_NEUTRAL_CAUSES = ("config hash changed", "image changed")


def _keeps_network(container: DesiredContainer, seen: ObservedContainer, cause: str) -> bool:
    """Whether a recreate can keep the network namespace: the edit did not touch the network."""
    if cause not in _NETWORK_NEUTRAL_CAUSES or not container.owns_netns or seen.netns_state is None:
        return False
    record, sandbox = seen.record, seen.record.sandbox
    return (
        sandbox.owns_netns
        and sandbox.netns == (container.config.netns_path or "")
        and tuple(record.networks) == tuple(a.network for a in container.attachments)
        and {n: tuple(c) for n, c in record.addresses.items()}
        == {a.network: tuple(a.addresses) for a in container.attachments}
        and all(a.ifname in seen.netns_state.links for a in container.attachments)
    )


def _completed(seen: ObservedContainer, container: DesiredContainer) -> bool:
    """A one-shot that ran to success stays done: ``up`` again does not re-run it."""
    one_shot = RestartPolicy.parse(container.restart).is_one_shot
    return one_shot and seen.state == "exited" and seen.exit_code == 0 and not seen.stopped_by_user


def _not_running_cause(seen: ObservedContainer) -> str:
    if seen.state == "exited" and seen.exit_code is not None:
        return f"not running (exited {seen.exit_code})"
    return f"not running ({seen.state})"


def _netns_owners_first(desired: DesiredState) -> list[ResourceId]:
    owners = sorted(rid for rid, c in desired.containers.items() if not c.netns_owner)
    joiners = sorted(rid for rid, c in desired.containers.items() if c.netns_owner)
    return owners + joiners


def _plan_dependent_restarts(
    plan: PlanBuilder, desired: DesiredState, observed: ObservedState, recreated: Mapping[ResourceId, str]
) -> None:
    recreated_services = {desired.containers[rid].service for rid in recreated}
    for rid, container in sorted(desired.containers.items()):
        if rid in recreated or plan.has(Verb.START, rid) or rid not in observed.containers:
            continue
        triggers = [
            dep for dep, spec in container.depends_on.items() if spec.restart and dep in recreated_services
        ]  # fmt: skip
        if triggers and observed.containers[rid].running:
            plan.add(Action(Verb.RESTART, rid, f"dependency {triggers[0]} was recreated"))


def _plan_links(
    plan: PlanBuilder, desired: DesiredState, observed: ObservedState, recreated: Mapping[ResourceId, str]
) -> None:
    for rid, link in sorted(desired.links.items()):
        seen = observed.links.get(rid)
        ends = set(link.ends)
        cause = ""
        if seen is None:
            cause = "missing"
        elif not seen.complete:
            cause = "left half-made by an interrupted command"
        elif seen.config_hash != link.config_hash:
            cause = "config hash changed"
        elif ends & set(recreated):
            cause = "an end's container is recreated"
        elif any(plan.has(Verb.CREATE, end) for end in ends):
            cause = "an end's container is made"
        else:
            cause = _missing_end(link, observed)
        if cause:
            _replace(plan, rid, cause, recorded=seen is not None)


def _missing_end(link: DesiredLink, observed: ObservedState) -> str:
    for container, ifname in ((link.a_container, link.a_ifname), (link.b_container, link.b_ifname)):
        if not container:  # a tunnel link has its local end only
            continue
        state = observed.netns_of(container)
        if state is not None and ifname not in state.links:
            return f"its end {container}:{ifname} is gone"
    return ""


def _made(plan: PlanBuilder, rid: ResourceId) -> bool:
    return plan.has(Verb.CREATE, rid)


def _plan_interfaces(plan: PlanBuilder, desired: DesiredState, observed: ObservedState) -> None:
    """Change in place what the kernel shows differently from the file.

    The two ends of a link change as one action on the link, so that the plan
    line names the wire (``update link:r1:eth1--r2:eth1 rate 10mbit -> 2mbit``).
    """
    by_link: dict[ResourceId, list[tuple[str, list[str]]]] = {}
    for rid, interface in sorted(desired.interfaces.items()):
        if _made(plan, interface.carrier) or _made(plan, container_id(interface.container)):
            continue  # born with its carrier, configured as the file says
        state = observed.netns_of(interface.container)
        if state is None or interface.ifname not in state.links:
            continue  # not there to change: the carrier is made again above
        changes = interface_changes(interface, state)
        if not changes:
            continue
        if interface.carrier.kind == "link":
            by_link.setdefault(interface.carrier, []).append((_endpoint(desired, interface), changes))
        else:
            plan.add(Action(Verb.UPDATE, rid, "; ".join(changes)))
    for link, ends in sorted(by_link.items()):
        plan.add(Action(Verb.UPDATE, link, _link_changes(ends, desired.links[link])))


def _endpoint(desired: DesiredState, interface: DesiredInterface) -> str:
    container = desired.containers.get(container_id(interface.container))
    return f"{container.service if container else interface.container}:{interface.ifname}"


def _link_changes(ends: list[tuple[str, list[str]]], link: DesiredLink) -> str:
    """One cause for both ends: the changes once when the ends agree, else each end's prefixed."""
    if len(ends) == 2 and ends[0][1] == ends[1][1]:
        return "; ".join(ends[0][1])
    return "; ".join(f"{end}: {', '.join(changes)}" for end, changes in ends)


def _plan_routes(plan: PlanBuilder, desired: DesiredState, observed: ObservedState) -> None:
    for rid, route in sorted(desired.routes.items()):
        container = container_id(route.container)
        carrier_made = _made(plan, route.carrier) or _made(plan, container)
        if route.made_by_carrier and carrier_made:
            continue  # installed with the attachment that carries it
        seen = observed.routes.get(rid)
        device = desired.interfaces.get(interface_id(route.container, route.device))
        if device is not None and not device.up:
            continue  # the kernel keeps no route through a downed interface: made when it comes up
        cause = ""
        if carrier_made:
            carrier = route.carrier if _made(plan, route.carrier) else container
            again = carrier in observed.links or carrier in observed.containers
            cause = f"{carrier.kind} {carrier.name} {'re-created' if again else 'made'}"
        elif seen is None:
            cause = "missing"
        elif seen.config_hash != route.config_hash:
            plan.add(Action(Verb.REMOVE, rid, f"via {route.gateway}: changed"))
            cause = "changed"
        elif not seen.present and observed.netns_of(route.container) is not None:
            cause = "missing from the routing table"
        if cause:
            plan.add(Action(Verb.CREATE, rid, f"via {route.gateway}: {cause}"), after=[key(Verb.REMOVE, rid)])
    for rid, seen in sorted(observed.routes.items()):
        container = container_id(seen.record.container)
        if rid in desired.routes or plan.has(Verb.REMOVE, container) or container not in desired.containers:
            continue  # a container removed takes its routes along
        plan.add(Action(Verb.REMOVE, rid, "no longer in the project"))


def _plan_firewall(plan: PlanBuilder, desired: DesiredState, observed: ObservedState) -> None:
    rid = desired.firewall_rid
    seen = observed.firewall
    if not desired.needs_firewall:
        if seen is not None:
            plan.add(Action(Verb.REMOVE, rid, "no network needs NAT or published ports"))
        return
    if seen is None:
        plan.add(Action(Verb.APPLY, rid, "missing"))
    elif seen.config_hash != firewall_hash(desired):
        plan.add(Action(Verb.APPLY, rid, "networks or published ports changed"))
    elif not seen.present:
        plan.add(Action(Verb.APPLY, rid, "the nftables table is gone"))


def _plan_removals(
    plan: PlanBuilder, desired: DesiredState, observed: ObservedState, options: ReconcileOptions
) -> None:
    services = {c.service for c in desired.containers.values()}
    orphans: list[str] = []
    for rid, seen in sorted(observed.containers.items()):
        if rid in desired.containers or seen.service in desired.untouched_services or seen.record.oneoff:
            continue  # a `run` container is neither scaled nor an orphan: rm or down removes it
        if seen.service in services:
            _remove_container(plan, seen, "scaled down")
        elif options.remove_orphans:
            _remove_container(plan, seen, "orphan: its service is no longer in the project")
        else:
            orphans.append(seen.name)
    if orphans:
        plan.note(
            f"orphan containers (services no longer in the project): {', '.join(orphans)}; "
            "run up --remove-orphans to remove them"
        )
    for rid in sorted(set(observed.links) - set(desired.links)):
        plan.add(Action(Verb.REMOVE, rid, "no longer in the project"))
    for rid in sorted(set(observed.networks) - set(desired.networks)):
        if _network_still_used(rid, observed, plan, desired):
            plan.note(f"{rid} is no longer in the project but orphan containers still use it")
            continue
        plan.add(Action(Verb.REMOVE, rid, "no longer in the project"))


def _network_still_used(
    rid: ResourceId, observed: ObservedState, plan: PlanBuilder, desired: DesiredState
) -> bool:
    for cid, seen in observed.containers.items():
        if cid in desired.containers or plan.has(Verb.REMOVE, cid):
            continue
        if rid.name in seen.record.networks:
            return True
    return False


def _remove_container(plan: PlanBuilder, seen: ObservedContainer, cause: str) -> None:
    if seen.running:
        plan.add(Action(Verb.STOP, seen.rid, cause))
    plan.add(Action(Verb.REMOVE, seen.rid, cause), after=[key(Verb.STOP, seen.rid)])


# --------------------------------------------------------------------------- down


def _plan_down(plan: PlanBuilder, observed: ObservedState, options: ReconcileOptions) -> None:
    cause = "down"
    for seen in sorted(observed.containers.values(), key=lambda c: c.rid):
        _remove_container(plan, seen, cause if seen.complete else "down (half-made)")
    for rid in sorted(observed.links):
        plan.add(Action(Verb.REMOVE, rid, cause))
    for rid in sorted(observed.networks):
        plan.add(Action(Verb.REMOVE, rid, cause))
    if observed.firewall is not None:
        plan.add(Action(Verb.REMOVE, observed.firewall.rid, cause))
    if options.remove_volumes:
        for rid in sorted(observed.volumes):
            plan.add(Action(Verb.REMOVE, rid, "down -v"))
    _order_down(plan, observed)


def _order_down(plan: PlanBuilder, observed: ObservedState) -> None:
    """Dependents stop before their dependencies; links, then containers, then networks go."""
    by_service: dict[str, list[ResourceId]] = {}
    for seen in observed.containers.values():
        by_service.setdefault(seen.service, []).append(seen.rid)
    for seen in observed.containers.values():
        for dependency in seen.record.depends_on:
            for dep_rid in by_service.get(dependency, []):
                plan.require(key(Verb.STOP, dep_rid), after=[key(Verb.STOP, seen.rid)])
    _removal_edges(plan, observed.containers, observed.links)


def _removal_edges(
    plan: PlanBuilder, containers: Mapping[ResourceId, ObservedContainer], links: Iterable[ResourceId]
) -> None:
    link_removals = [key(Verb.REMOVE, rid) for rid in links]
    container_removals = [key(Verb.REMOVE, rid) for rid in containers]
    for k in container_removals:
        plan.require(k, after=link_removals)
    for action in list(plan.actions()):
        if action.verb is Verb.REMOVE and action.kind in ("network", "firewall", "volume"):
            plan.require(action.key, after=container_removals)
    # A container sharing another's netns goes before the owner.
    for rid, seen in containers.items():
        owner = seen.record.sandbox.netns_owner
        if owner and owner != rid.name:
            plan.require(key(Verb.REMOVE, container_id(owner)), after=[key(Verb.REMOVE, rid)])


# --------------------------------------------------------------------------- ordering for up


def _order(plan: PlanBuilder, desired: DesiredState, observed: ObservedState) -> None:
    network_creates = {
        net.name: key(Verb.CREATE, rid) for rid, net in desired.networks.items() if plan.has(Verb.CREATE, rid)
    }
    volume_creates = [key(Verb.CREATE, rid) for rid in desired.volumes if plan.has(Verb.CREATE, rid)]
    firewall_key = key(Verb.APPLY, desired.firewall_rid)
    for rid, container in desired.containers.items():
        create = key(Verb.CREATE, rid)
        plan.require(
            create,
            after=[network_creates[a.network] for a in container.attachments if a.network in network_creates],
        )
        plan.require(create, after=volume_creates)
        plan.require(key(Verb.RECREATE, rid), after=volume_creates)
        if container.netns_owner:
            plan.require(create, after=[key(Verb.CREATE, container_id(container.netns_owner))])
        _order_start(plan, desired, container, firewall_key)
    for rid, link in desired.links.items():
        plan.require(key(Verb.CREATE, rid), after=[key(Verb.CREATE, end) for end in link.ends])
        # An old link that had one of these ends goes first: its removal deletes interfaces by name.
        plan.require(
            key(Verb.CREATE, rid), after=[key(Verb.REMOVE, old) for old in _sharing_an_end(link, observed)]
        )
        for end in link.ends:
            plan.require(key(Verb.START, end), after=[key(Verb.CREATE, rid)])
    for rid, route in desired.routes.items():
        create = key(Verb.CREATE, rid)
        device = interface_id(route.container, route.device)
        made = [key(Verb.CREATE, route.carrier), key(Verb.CREATE, container_id(route.container))]
        carrier_update = key(Verb.UPDATE, route.carrier)  # a link coming up again
        plan.require(create, after=[*made, key(Verb.UPDATE, device), carrier_update, key(Verb.REMOVE, rid)])
        plan.require(key(Verb.START, container_id(route.container)), after=[create])
    for rid, interface in desired.interfaces.items():
        start = key(Verb.START, container_id(interface.container))
        plan.require(start, after=[key(Verb.UPDATE, rid), key(Verb.UPDATE, interface.carrier)])
    plan.require(firewall_key, after=list(network_creates.values()))
    _removal_edges(
        plan,
        {rid: c for rid, c in observed.containers.items() if plan.has(Verb.REMOVE, rid)},
        [rid for rid in observed.links if plan.has(Verb.REMOVE, rid)],
    )
    _creates_after_removals(plan)


def _sharing_an_end(link: DesiredLink, observed: ObservedState) -> list[ResourceId]:
    """The recorded links with one of this link's interfaces: a container's, or a host end's name."""
    ends = {(link.a_container, link.a_ifname), (link.b_container, link.b_ifname)} - {("", "")}
    if link.outside is not None and link.outside.host_ifname:
        ends.add(("", link.outside.host_ifname))  # the host's namespace, as "" below
    found = []
    for rid, seen in observed.links.items():
        record = seen.record
        theirs = {
            (record.a_netns.rpartition("/")[2], record.a_ifname),
            (record.b_netns.rpartition("/")[2], record.b_ifname),
        } - {("", "")}
        if record.host_ifname:
            theirs.add(("", record.host_ifname))
        if rid != link.rid and ends & theirs:
            found.append(rid)
    return found


def _order_start(
    plan: PlanBuilder, desired: DesiredState, container: DesiredContainer, firewall_key: ActionKey
) -> None:
    start, restart = key(Verb.START, container.rid), key(Verb.RESTART, container.rid)
    if not (plan.has(Verb.START, container.rid) or plan.has(Verb.RESTART, container.rid)):
        return
    for k in (start, restart):
        plan.require(k, after=[firewall_key])
    for dependency, spec in sorted(container.depends_on.items()):
        # An optional dependency (required: false) orders the start but never gates it.
        condition = spec.condition if spec.required else "service_started"
        for dep in desired.containers_of(dependency):
            gates = [key(Verb.START, dep.rid), key(Verb.RESTART, dep.rid)]
            if condition == "service_healthy":
                gates.append(_add_wait(plan, Verb.WAIT_HEALTHY, dep.rid, after=gates))
            elif condition == "service_completed_successfully":
                gates.append(_add_wait(plan, Verb.WAIT_COMPLETED, dep.rid, after=gates))
            plan.require(start, after=gates)
            plan.require(restart, after=gates)


def _add_wait(plan: PlanBuilder, verb: Verb, rid: ResourceId, *, after: list[ActionKey]) -> ActionKey:
    cause = "a dependent needs it healthy" if verb is Verb.WAIT_HEALTHY else "a dependent needs it completed"
    k = plan.add(Action(verb, rid, cause))
    plan.require(k, after=after)
    return k


def _creates_after_removals(plan: PlanBuilder) -> None:
    """A network or link made again comes after the old one is removed (same rid)."""
    for action in list(plan.actions()):
        if action.verb is Verb.CREATE:
            plan.require(action.key, after=[key(Verb.REMOVE, action.rid)])
