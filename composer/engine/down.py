"""``down``: remove everything of a project, whatever state it is in (up, half up, crashed, gone).

``down`` is ``reconcile(DesiredState.empty(), observed)`` run by the same
executor; then the supervisor goes once no container is left, empty folders
are dropped, and what of the project still exists is named (the exit status is
non-zero only then).
"""

from __future__ import annotations

import contextlib

from composer.engine import fastpath
from composer.engine.applier import Applier
from composer.engine.executor import Executor
from composer.engine.hosts import default_host
from composer.engine.hosts.base import Host
from composer.engine.observe import ObservedState, observe
from composer.engine.options import DEFAULT_ROOTS, DownOptions, DownResult, Roots
from composer.engine.reconcile import ReconcileOptions, reconcile
from composer.engine.up import waiting
from composer.errors import PlanError
from composer.events import EventSink, discard
from composer.model.desired import DesiredState
from composer.store import live
from composer.store.journal import ProjectStore
from composer.store.layout import StateRoot
from composer.store.locks import project_lock, remove_root_files
from composer.store.records import ProjectMeta


def down(
    project: str,
    options: DownOptions,
    *,
    roots: Roots = DEFAULT_ROOTS,
    host: Host | None = None,
    events: EventSink = discard,
) -> DownResult:
    host = host or default_host(roots)
    root = StateRoot(roots.state)
    nothing = DesiredState.empty(project)
    with project_lock(root.project(project), on_wait=waiting(events, project)) as store:
        if options.host is not None and store.meta.host not in ("", options.host):
            raise PlanError(
                f"project {project} on this machine is host {store.meta.host}'s part, not {options.host}'s",
                hint=f"run down --host {store.meta.host} here, or down --host {options.host} on that host",
            )
        observed = observe(store, host)
        plan = reconcile(nothing, observed, ReconcileOptions(down=True, remove_volumes=options.volumes))
        if options.dry_run:
            return DownResult(plan, [])
        applier = Applier(store, host, nothing, observed, events, stop_timeout=options.timeout)
        Executor(applier, max_workers=options.parallel).apply(plan)
        live.forget(store.layout)  # the links are gone, and their live changes with them
        leftovers = _finish(store, host, options, observed)
    fastpath.forget_project(root, project)
    if not leftovers:
        remove_root_files(root)  # the last project gone: no lock file stays behind either
    return DownResult(plan, leftovers)


def _finish(store: ProjectStore, host: Host, options: DownOptions, observed: ObservedState) -> list[str]:
    """Stop the supervisor, drop empty folders, and name anything of the project still there."""
    layout = store.layout
    if not store.containers():
        host.shutdown_supervisor(layout)
        host.prune_project_cgroups(store.project)  # folders an interrupted removal left
        for folder in (layout.containers, layout.netns_dir):
            with contextlib.suppress(OSError):
                folder.rmdir()
    if options.volumes or not store.volumes():
        with contextlib.suppress(OSError):
            layout.volumes.rmdir()
    if not store.containers() and not store.networks():
        if store.meta != ProjectMeta():
            store.set_meta(ProjectMeta())
        if any(c.image_id for c in observed.containers.values()):
            host.unpin_images(store.project)  # rmi and prune may take them now
    had_interfaces = bool(observed.networks or observed.links) or any(
        c.record.sandbox.veths for c in observed.containers.values()
    )
    found = [f"{rid} (still recorded)" for rid in sorted(store.records) if rid.kind != "volume"]
    return found + host.project_leftovers(store.project, interfaces=had_interfaces)
