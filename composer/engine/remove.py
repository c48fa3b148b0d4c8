"""``rm`` (and ``run --rm``): remove some containers of a project, the rest left as it is.

It is ``down`` narrowed to the chosen containers: the observed state is cut
down to them and the links that end in them (a veth goes with its network
namespace), then reconciled against nothing and run by the same executor.
Networks, volumes and the firewall stay; the next ``up`` makes the removed
service containers again.
"""

from __future__ import annotations

from collections.abc import Collection

from composer.engine.hosts import default_host
from composer.engine.hosts.base import Host
from composer.engine.observe import ObservedState, observe
from composer.engine.options import DEFAULT_ROOTS, Roots
from composer.engine.plan import Plan
from composer.engine.reconcile import ReconcileOptions, reconcile
from composer.engine.up import waiting
from composer.events import EventSink, discard
from composer.model.desired import DesiredState
from composer.model.ids import container_id
from composer.store.layout import StateRoot
from composer.store.locks import project_lock


def narrowed(observed: ObservedState, names: Collection[str]) -> ObservedState:
    """Only the named containers, and the links with an end in one of them.  Pure."""
    rids = {container_id(name) for name in names}
    containers = {rid: c for rid, c in observed.containers.items() if rid in rids}
    netns = {c.record.sandbox.netns for c in containers.values() if c.record.sandbox.owns_netns}
    links = {
        rid: link
        for rid, link in observed.links.items()
        if link.record.a_netns in netns or link.record.b_netns in netns
    }
    return ObservedState(project=observed.project, containers=containers, links=links, meta=observed.meta)


def remove_containers(
    project: str,
    names: Collection[str],
    *,
    roots: Roots = DEFAULT_ROOTS,
    host: Host | None = None,
    events: EventSink = discard,
    timeout: float | None = None,
) -> Plan:
    """Stop (when running) and remove the named containers; returns the plan that ran."""
    from composer.engine.applier import Applier
    from composer.engine.executor import Executor

    host = host or default_host(roots)
    nothing = DesiredState.empty(project)
    root = StateRoot(roots.state)
    with project_lock(root.project(project), on_wait=waiting(events, project)) as store:
        observed = narrowed(observe(store, host), names)
        plan = reconcile(nothing, observed, ReconcileOptions(down=True))
        applier = Applier(store, host, nothing, observed, events, stop_timeout=timeout)
        Executor(applier, max_workers=8).apply(plan)
    return plan
