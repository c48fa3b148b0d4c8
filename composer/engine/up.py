"""``up``: converge the host on the project file.

The flow (see the package docstring): take the project's lock, compute the
desired state (:mod:`composer.engine.prepare`), observe the store and the host
once, reconcile the two into a plan, check the host (:mod:`composer.engine.preflight`),
and hand the plan to the executor.  :func:`up_cached` is the no-op fast path:
it reconciles the desired state stored by the last ``up`` when nothing it came
from changed, and gives up (None) as soon as there is anything to do.
Progress goes out as events; nothing here prints or exits.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from composer.engine import fastpath
from composer.engine.hosts import default_host
from composer.engine.hosts.base import Host
from composer.engine.observe import observe
from composer.engine.options import DEFAULT_ROOTS, Roots, UpOptions, UpResult
from composer.engine.plan import Plan, Verb
from composer.engine.reconcile import ReconcileOptions, reconcile
from composer.errors import SpecError, SpecIssue
from composer.events import Event, EventSink, discard
from composer.model.desired import DesiredState
from composer.model.ids import ResourceId
from composer.store import live
from composer.store.layout import ProjectLayout, StateRoot
from composer.store.locks import WaitNotice, nothing_left_unless_recorded, project_lock

if TYPE_CHECKING:
    from composer.project.loader import LoadedProject


def up_cached(
    inputs: fastpath.UpInputs,
    options: UpOptions,
    *,
    roots: Roots = DEFAULT_ROOTS,
    host: Host | None = None,
    events: EventSink = discard,
) -> UpResult | None:
    """A no-op ``up`` from the desired state stored by the last one; None when the full path must run."""
    if not options.plain or options.force_recreate:
        return None
    root = StateRoot(roots.state)
    desired = fastpath.load(root, inputs)
    if desired is None:
        return None
    if live.changed(root.project(desired.project)):
        return None  # live link changes to undo: the full path puts the file's values back
    host = host or default_host(roots)
    with project_lock(root.project(desired.project), on_wait=waiting(events, desired.project)) as store:
        plan = reconcile(desired, observe(store, host, desired), reconcile_options(options))
        if plan:
            return None  # something to do: the full path loads the project and decides
        host.revive_supervisor(store.layout)
        return UpResult(plan, desired)


def up(
    loaded: LoadedProject,
    options: UpOptions,
    *,
    roots: Roots = DEFAULT_ROOTS,
    host: Host | None = None,
    events: EventSink = discard,
    inputs: fastpath.UpInputs | None = None,
) -> UpResult:
    """Converge the host on the project; with ``inputs``, remember the result for up_cached()."""
    # Imported here: the no-op path (up_cached) needs none of them.
    from composer.engine.applier import Applier
    from composer.engine.executor import Executor
    from composer.engine.preflight import check_host, limit_notes
    from composer.engine.prepare import desired_state

    refuse_unhonoured(loaded)
    host = host or default_host(roots)
    root = StateRoot(roots.state)
    if not options.dry_run and options.build != "never":
        build_images(loaded, options, roots, events)
    remember = inputs if inputs is not None and options.plain else None
    if remember is not None:
        fastpath.forget(root, remember)  # stale until this succeeds
    layout, wait = root.project(loaded.name), waiting(events, loaded.name)
    # nothing_left_unless_recorded: a refused up (bad input, a preflight or strict-limits refusal)
    # leaves no state root behind, as root and without.
    with nothing_left_unless_recorded(root), project_lock(layout, on_wait=wait) as store:
        desired = desired_state(loaded, options, store, host, events, pull=not options.dry_run)
        observed = observe(store, host, desired)
        plan = reconcile(desired, observed, reconcile_options(options, desired))
        check_host(loaded, desired, observed, plan, host)
        notes = limit_notes(loaded, desired, plan, host, strict=options.strict_limits)
        if notes:
            plan = dataclasses.replace(plan, notes=plan.notes + notes)
        if options.dry_run:
            return UpResult(plan, desired)
        if not plan:
            host.revive_supervisor(store.layout)
        else:
            applier = Applier(
                store, host, desired, observed, events,
                stop_timeout=options.timeout, wait_timeout=options.wait_timeout,
            )  # fmt: skip
            host.preload(netlink=_needs_netlink(plan, desired))
            try:
                Executor(applier, max_workers=options.parallel).apply(plan)
            finally:
                _refresh_hosts_files(store.layout, desired, plan, host)
        _remember_links(store.layout, desired)
        if remember is not None:
            fastpath.save(root, remember, loaded, desired)
        return UpResult(plan, desired)


def build_images(loaded: LoadedProject, options: UpOptions, roots: Roots, events: EventSink) -> None:
    """Build the images of the selected services that have ``build:``: all of them with ``--build``
    (or ``pull_policy: build``), else those missing from the store, as compose does."""
    from composer.engine.prepare import selected_services
    from composer.images.builder.compose import is_buildable, run_builds, service_builds
    from composer.images.store import ImageStore

    services = selected_services(loaded, options.services)
    buildable = [name for name in services if is_buildable(loaded.spec.services[name])]
    if not buildable:
        return
    store = ImageStore(roots.images)
    builds = [
        build
        for build in service_builds(loaded, buildable)
        if options.build == "always"
        or loaded.spec.services[build.service].pull_policy == "build"
        or store.lookup(build.image) is None
    ]
    for build in builds:
        events(Event(f"image:{build.image}", "Building", f"service {build.service}"))
    results = run_builds(builds, store, lambda build: _build_progress(build.image, events))
    for name, result in sorted(results.items()):
        counts = f"{result.steps} steps, {result.cached} cached, {result.seconds:.1f}s"
        text = f"{result.image.image_id[:19]} ({counts})"
        events(Event(f"image:{result.image.reference}", "Built", f"service {name}: {text}"))


def _build_progress(image: str, events: EventSink) -> Callable[[object], None]:
    """Steps (with their cache hits) and the RUN output, as events of the image."""
    from composer.images.builder.builder import OutputLine, StepEvent

    def forward(event: object) -> None:
        if isinstance(event, StepEvent) and event.status in ("cached", "running"):
            state = "CACHED " if event.status == "cached" else ""
            events(Event(f"image:{image}", "Building", f"{event.number}/{event.total} {state}{event.text}"))
        elif isinstance(event, OutputLine):
            events(Event(f"image:{image}", "Building", f"#{event.step} {event.line}"))

    return forward


def _remember_links(layout: ProjectLayout, desired: DesiredState) -> None:
    """What the link verbs start from: the file's interfaces as applied, no live change left."""
    whole = desired.whole or desired
    if not whole.interfaces:
        live.forget(layout)
        return
    recorded = live.load(layout) if desired.whole is not None else None
    kept: dict[
        ResourceId, live.EndSetting
    ] = {}  # an `up SERVICE...` leaves the other services' interfaces (and their live changes) alone
    if recorded is not None:
        kept = {rid: s for rid, s in recorded.changes.items() if rid not in desired.interfaces}
    live.save(layout, live.LiveLinks(whole, kept))


def refuse_unhonoured(loaded: LoadedProject) -> None:
    """Fields the file may hold but the runtime does not honour yet stop ``up`` here, all at once."""
    from composer.project.refusals import refusals

    issues = refusals(loaded.spec, loaded.locate, os.uname().machine) + _missing_sources(loaded)
    if issues:
        raise SpecError(issues)


def _missing_sources(loaded: LoadedProject) -> list[SpecIssue]:
    """A secret or config read from a file that is not there stops ``up`` before anything is made."""
    used = {(kind, use.source) for svc in loaded.spec.services.values() for kind in ("secrets", "configs")
            for use in getattr(svc, kind)}  # fmt: skip
    issues = []
    for kind, name in sorted(used):
        definition = getattr(loaded.spec, kind).get(name)
        source = definition.file if definition is not None else None
        if source is not None and not os.path.isfile(source):
            path = f"{kind}.{name}.file"
            issues.append(
                SpecIssue.at(
                    loaded.locate(path), path, f"{source} is not a file", "create it, or fix the path"
                )
            )
    return issues


def reconcile_options(options: UpOptions, desired: DesiredState | None = None) -> ReconcileOptions:
    dependencies: frozenset[str] = frozenset()
    if options.recreate_dependencies and desired is not None:
        dependencies = frozenset(d for c in desired.containers.values() for d in c.depends_on)
    return ReconcileOptions(
        force_recreate=options.force_recreate,
        recreate_services=dependencies,
        no_recreate=options.no_recreate,
        remove_orphans=options.remove_orphans,
        start=not options.no_start,
    )


def waiting(events: EventSink, project: str) -> WaitNotice:
    """Tell the user why a command waits for another one's lock."""

    def tell(message: str) -> None:
        events(Event(f"project:{project}", "Waiting", message))

    return tell


def _needs_netlink(plan: Plan, desired: DesiredState) -> bool:
    for action in plan.actions.values():
        if action.verb is Verb.UPDATE:
            return True
        if action.verb is not Verb.CREATE:
            continue
        if action.kind in ("network", "link"):
            return True
        if action.kind == "route":
            return True
        container = desired.containers.get(action.rid)
        if container is not None and container.attachments:
            return True
    return False


def _refresh_hosts_files(layout: ProjectLayout, desired: DesiredState, plan: Plan, host: Host) -> None:
    """Keep the other containers' /etc/hosts current when containers come or go.

    Containers made by this plan got the current file when they started.
    """
    changed = {
        a.rid for a in plan.actions.values() if a.verb in (Verb.CREATE, Verb.REMOVE) and a.kind == "container"
    }
    if not changed:
        return
    for container in desired.containers.values():
        if container.rid not in changed:
            host.write_hosts_file(layout.container(container.name).hosts, container.config.hosts)
