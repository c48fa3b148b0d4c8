"""Live link changes: ``composer link ls|show|set|reset|down|up``, between two ``up``.

A live change is the file's desired state with some interfaces' settings
replaced (state and impairments), reconciled like an ``up`` but with the plan
cut down to what a link change may do: ``update`` a link or an interface in
place, and put back or drop the routes through it.  Nothing else of the plan
runs (no container is made, started or removed here), so the same containers
and PIDs stay.  The change is recorded (:mod:`composer.store.live`) before it
is made; ``ps`` and ``link ls`` show what differs from the file, and the next
``up`` puts the file's values back.

Targets: ``SERVICE:IFNAME`` (or ``CONTAINER:IFNAME``) names one interface, the
sending end of its traffic (tc acts on egress: ``--delay`` there delays what
leaves it); ``SERVICE:IF--SERVICE:IF`` (a link's name, ``link:`` optional)
names both ends.  Taking one end down leaves its peer up without carrier, as a
pulled cable does; taking the link down takes both ends down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from composer.engine.hosts.base import Host
from composer.engine.observe import ObservedState, observe
from composer.engine.plan import Action, ActionKey, Plan, Verb
from composer.engine.reconcile import ReconcileOptions, reconcile
from composer.errors import PlanError, StateError
from composer.events import EventSink, discard
from composer.model.desired import DesiredInterface, DesiredState
from composer.model.ids import ResourceId, container_id
from composer.model.netstate import LinkState, rate_text
from composer.store import live
from composer.store.journal import ProjectStore
from composer.store.layout import ProjectLayout
from composer.store.live import EndSetting, LiveLinks
from composer.store.locks import project_lock

NETEM_MISSING = (
    "the kernel lacks the netem qdisc (sch_netem): delay, jitter, loss, corrupt, duplicate and reorder "
    "cannot be emulated on this host"
)


@dataclass(frozen=True)
class EndView:
    """One interface of the lab: what the file says, what was changed live, what the kernel shows."""

    interface: ResourceId
    endpoint: str  # r1:eth1
    carrier: str  # link:r1:eth1--r2:eth1, or network:front for an attachment
    peer: str  # the other end of a link, or the network's name
    file: EndSetting
    live: EndSetting | None
    kernel: LinkState | None

    @property
    def effective(self) -> EndSetting:
        return self.live or self.file

    def differences(self) -> list[str]:
        """What the live change made different from the file: ``FIELD FILE -> LIVE``."""
        if self.live is None:
            return []
        file, now = self.file.values(), self.live.values()
        return [f"{k} {show(k, file[k])} -> {show(k, now[k])}" for k in file if file[k] != now[k]]


@dataclass(frozen=True)
class LiveResult:
    plan: Plan
    seconds: float  # applying the plan (the host calls), without loading and observing


def show(name: str, value: object) -> str:
    """A setting as the file would spell it."""
    if name == "up":
        return "up" if value else "down"
    if value is None:
        return "none"
    if name == "rate":
        return rate_text(int(value))  # type: ignore[call-overload]
    if name in ("delay", "jitter"):
        return f"{float(value) * 1000:g}ms"  # type: ignore[arg-type]
    return f"{float(value):g}%"  # type: ignore[arg-type]


def _require(layout: ProjectLayout) -> LiveLinks:
    recorded = live.load(layout)
    if recorded is None:
        raise StateError(
            f"project {layout.name} has no links to change",
            hint="bring the lab up first (composer up); the link verbs act on what the last up made",
        )
    return recorded


def _endpoint(desired: DesiredState, interface: DesiredInterface) -> str:
    container = desired.containers.get(container_id(interface.container))
    return f"{container.service if container else interface.container}:{interface.ifname}"


def _carrier_and_peer(desired: DesiredState, interface: DesiredInterface) -> tuple[str, str]:
    link = desired.links.get(interface.carrier)
    if link is not None:
        peer = next((desired.interfaces[i] for i in link.interfaces if i != interface.rid), None)
        if peer is not None:
            return str(link.rid), _endpoint(desired, peer)
        if link.outside is not None:  # one-ended: the far end is no interface of the project
            return str(link.rid), link.outside.describe()
        return str(link.rid), link.tunnel.remote_end if link.tunnel else ""
    container = desired.containers.get(interface.carrier)
    attachments = container.attachments if container else ()
    network = next((a.network for a in attachments if a.ifname == interface.ifname), "")
    return f"network:{network}", network


def views(layout: ProjectLayout, host: Host) -> list[EndView]:
    """Every link end and network attachment of the project, in the order of their endpoints."""
    recorded = live.load(layout)
    if recorded is None:
        return []
    desired = recorded.desired
    states = {
        i.container: host.netns_state(i.netns, ()) for i in desired.interfaces.values()
    }  # one dump per namespace
    rows = []
    for rid, interface in desired.interfaces.items():
        carrier, peer = _carrier_and_peer(desired, interface)
        kernel = states[interface.container].links.get(interface.ifname)
        rows.append(
            EndView(
                rid,
                _endpoint(desired, interface),
                carrier,
                peer,
                EndSetting.of(interface),
                recorded.changes.get(rid),
                kernel,
            )
        )
    return sorted(rows, key=lambda r: (r.carrier, r.endpoint))


def resolve(desired: DesiredState, target: str) -> list[ResourceId]:
    """The interfaces a target names (see the module docstring); a clear error when none."""
    text = target.removeprefix("link:")
    if "--" in text:
        first, _, second = text.partition("--")
        wanted = {first.strip(), second.strip()}
        found = [rid for rid, link in desired.links.items() if _link_ends(desired, rid) == wanted]
        if found:
            return list(desired.links[found[0]].interfaces)
    else:
        matches = [
            rid for rid, i in desired.interfaces.items()
            if text in (_endpoint(desired, i), f"{i.container}:{i.ifname}")
        ]  # fmt: skip
        if matches:
            return sorted(matches)
    known = sorted(_endpoint(desired, i) for i in desired.interfaces.values())
    raise StateError(
        f"no link end or interface {target!r} in project {desired.project}",
        hint=f"name one of: {', '.join(known)}" if known else "the project has no links or networks",
    )


def _link_ends(desired: DesiredState, link: ResourceId) -> set[str]:
    return {_endpoint(desired, desired.interfaces[i]) for i in desired.links[link].interfaces}


def check_setting(setting: EndSetting, endpoint: str) -> None:
    if setting.reorder and not setting.delay:
        raise PlanError(
            f"{endpoint}: reorder needs a delay",
            hint="add --delay (the packets not sent at once are the delayed ones)",
        )
    if setting.jitter and not setting.delay:
        raise PlanError(f"{endpoint}: jitter needs a delay", hint="add --delay")


def change(
    layout: ProjectLayout,
    host: Host,
    target: str | None,
    edit: Callable[[EndSetting, EndSetting], EndSetting | None],
    *,
    events: EventSink = discard,
    dry_run: bool = False,
) -> LiveResult:
    """Apply ``edit(file, current) -> new`` (None: back to the file) to the target's interfaces."""
    with project_lock(layout) as store:
        recorded = _require(layout)
        desired = recorded.desired
        targets = resolve(desired, target) if target else sorted(recorded.changes)
        changes = dict(recorded.changes)
        for rid in targets:
            interface = desired.interfaces[rid]
            file = EndSetting.of(interface)
            new = edit(file, changes.get(rid, file))
            if new is not None:
                check_setting(new, _endpoint(desired, interface))
            if new is None or new == file:
                changes.pop(rid, None)
            else:
                changes[rid] = new
        wanted = apply_changes(desired, changes)
        if wanted.needs_netem and not host.netem_available():
            raise PlanError(
                NETEM_MISSING,
                hint="use a kernel built with CONFIG_NET_SCH_NETEM, or change only rate and state",
            )
        observed = observe(store, host, wanted)
        plan = link_plan(reconcile(wanted, observed, ReconcileOptions()))
        if dry_run:
            return LiveResult(plan, 0.0)
        live.save(layout, LiveLinks(desired, changes))  # the intent, before the host changes
        return LiveResult(plan, _apply(store, host, wanted, observed, plan, events))


def _apply(
    store: ProjectStore,
    host: Host,
    wanted: DesiredState,
    observed: ObservedState,
    plan: Plan,
    events: EventSink,
) -> float:
    from composer.engine.applier import Applier
    from composer.engine.executor import Executor

    if not plan:
        return 0.0
    applier = Applier(store, host, wanted, observed, events)
    host.preload(netlink=any(a.kind == "route" for a in plan.actions.values()))  # pyroute2 for routes only
    began = time.perf_counter()
    Executor(applier, max_workers=1).apply(plan)
    return time.perf_counter() - began


def apply_changes(desired: DesiredState, changes: Mapping[ResourceId, EndSetting]) -> DesiredState:
    """The desired state with the live settings in place of the file's."""
    if not changes:
        return desired
    interfaces = dict(desired.interfaces)
    for rid, setting in changes.items():
        if rid in interfaces:
            interfaces[rid] = replace(interfaces[rid], **setting.values())
    return replace(desired, interfaces=interfaces)


def link_plan(plan: Plan) -> Plan:
    """Only what a link change may do: update links and interfaces, and their routes.

    A route is kept unless its container is not there to hold it (the full plan
    would make the container: that is ``up``'s business).
    """

    def kept(action: Action) -> bool:
        if action.verb is Verb.UPDATE:
            return action.kind in ("link", "interface")
        if action.kind != "route" or action.verb not in (Verb.CREATE, Verb.REMOVE):
            return False
        container = container_id(action.rid.name.partition(":")[0])
        return not any(plan.has(verb, container) for verb in (Verb.CREATE, Verb.REMOVE))

    keys = [k for k in plan.order if kept(plan.actions[k])]
    chosen: set[ActionKey] = set(keys)
    return Plan(
        {k: plan.actions[k] for k in keys},
        {k: frozenset(plan.after[k] & chosen) for k in keys},
        tuple(keys),
    )


def differences(layout: ProjectLayout) -> Sequence[tuple[str, list[str]]]:
    """(endpoint, what differs) of every live change recorded; for ``ps`` and ``link ls``."""
    if not live.changed(layout):
        return []
    recorded = live.load(layout)
    if recorded is None:
        return []
    result = []
    for rid, setting in sorted(recorded.changes.items()):
        interface = recorded.desired.interfaces.get(rid)
        if interface is None:
            continue
        file = EndSetting.of(interface)
        view = EndView(rid, _endpoint(recorded.desired, interface), "", "", file, setting, None)
        result.append((view.endpoint, view.differences()))
    return result
