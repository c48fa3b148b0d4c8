"""The facade the CLI calls: up() and down() with frozen option objects.

Each verb follows the same flow (see the design notes): load the project,
take the project's lock, read the host once (observe), compute the desired
state, reconcile the two into a plan, and hand the plan to the executor.
Progress goes out as events; nothing here prints or exits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.engine.applier import Applier, HostOps
from composer.engine.executor import Executor
from composer.engine.fastpath import UpInputs
from composer.engine.observe import ObservedState, observe
from composer.engine.plan import Plan
from composer.engine.reconcile import ReconcileOptions, reconcile
from composer.errors import ContainerError, PlanError, SpecError, SpecIssue
from composer.events import Event, EventSink, discard
from composer.model.desired import BuildInputs, DesiredState, Paths, build_desired
from composer.model.ipam import InUse, NetworkAddressing
from composer.store.journal import ProjectState, list_projects, project_lock, remove_root_files, root_lock


@dataclass(frozen=True)
class Roots:
    state: Path = Path("/run/composer")
    images: Path = Path("/var/lib/composer")


@dataclass(frozen=True)
class UpOptions:
    services: tuple[str, ...] = ()
    dry_run: bool = False
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    no_start: bool = False
    scale: Mapping[str, int] = field(default_factory=dict)
    parallel: int = 8
    timeout: float | None = None  # stop timeout when recreating
    wait_timeout: float = 300.0
    pull: str | None = None  # overrides every service's pull_policy


@dataclass(frozen=True)
class DownOptions:
    dry_run: bool = False
    volumes: bool = False
    timeout: float | None = None
    # Stopping is mostly waiting out grace periods, so more at once than for up: like docker compose,
    # a hundred containers that ignore SIGTERM take one grace period, not a dozen.
    parallel: int = 32


@dataclass(frozen=True)
class UpResult:
    plan: Plan
    desired: DesiredState


@dataclass(frozen=True)
class DownResult:
    plan: Plan
    leftovers: list[str]


def _default_host(roots: Roots) -> HostOps:
    from composer.engine.hosts.real import RealHost

    return RealHost(roots.state, roots.images)


# --------------------------------------------------------------------------- up


def _plain(options: UpOptions) -> bool:
    """An `up` whose desired state depends on the project alone (so it may be cached)."""
    return not (options.services or options.scale or options.dry_run or options.no_start or options.pull)


def up_cached(
    inputs: UpInputs,
    options: UpOptions,
    *,
    roots: Roots = Roots(),
    host: HostOps | None = None,
    events: EventSink = discard,
) -> UpResult | None:
    """A no-op `up` from the desired state stored by the last one; None when the full path must run."""
    if not _plain(options) or options.force_recreate:
        return None
    from composer.engine import fastpath as upcache

    desired = upcache.load(roots.state, inputs)
    if desired is None:
        return None
    host = host or _default_host(roots)
    with project_lock(roots.state, desired.project, on_wait=_waiting(events, desired.project)) as state:
        plan = reconcile(desired, observe(state, host), _reconcile_options(options))
        if plan:
            return None  # something to do: the full path loads the project and decides
        _revive_supervisor(state, host)
        return UpResult(plan, desired)


def up(
    loaded: Any,
    options: UpOptions,
    *,
    roots: Roots = Roots(),
    host: HostOps | None = None,
    events: EventSink = discard,
    inputs: UpInputs | None = None,
) -> UpResult:
    """Converge the host on the project; with ``inputs``, remember the result for up_cached()."""
    host = host or _default_host(roots)
    cache = inputs if inputs is not None and _plain(options) else None
    if cache is not None:
        from composer.engine import fastpath as upcache

        upcache.forget(
            roots.state / upcache.CACHE_FOLDER / f"{cache.key()}.json"
        )  # stale until this succeeds
    with project_lock(roots.state, loaded.name, on_wait=_waiting(events, loaded.name)) as state:
        desired = _desired(loaded, options, roots, state, events, pull=not options.dry_run)
        observed = observe(state, host)
        plan = reconcile(desired, observed, _reconcile_options(options))
        _check_host(loaded, desired, observed, plan, host)
        if options.dry_run:
            return UpResult(plan, desired)
        if not plan:
            _revive_supervisor(state, host)
            _remember(roots, cache, loaded, desired)
            return UpResult(plan, desired)
        applier = Applier(
            state,
            host,
            desired,
            observed,
            events,
            stop_timeout=options.timeout,
            wait_timeout=options.wait_timeout,
        )
        _preload_netlink(plan, host, desired)
        try:
            Executor(applier, max_workers=options.parallel).apply(plan)
        finally:
            _refresh_hosts_files(desired, plan)
        _remember(roots, cache, loaded, desired)
        return UpResult(plan, desired)


def _remember(roots: Roots, inputs: UpInputs | None, loaded: Any, desired: DesiredState) -> None:
    if inputs is not None:
        from composer.engine import fastpath as upcache

        upcache.save(roots.state, inputs, loaded, desired)


def _revive_supervisor(state: ProjectState, host: HostOps) -> None:
    """Nothing to change, but a dead supervisor means nobody watches the containers: start one."""
    if _is_real(host):
        from composer.supervisor import client as supervisor_client

        supervisor_client.revive(state.dir)


def _reconcile_options(options: UpOptions) -> ReconcileOptions:
    return ReconcileOptions(
        force_recreate=options.force_recreate,
        no_recreate=options.no_recreate,
        remove_orphans=options.remove_orphans,
        start=not options.no_start,
    )


def _waiting(events: EventSink, project: str) -> Any:
    def tell(message: str) -> None:
        events(Event(f"project:{project}", "Waiting", message))

    return tell


def _desired(
    loaded: Any, options: UpOptions, roots: Roots, state: ProjectState, events: EventSink, *, pull: bool
) -> DesiredState:
    from composer.project.hashing import service_config_hash

    services = _selected_services(loaded, options.services)
    _warn_missing_optional(loaded, events)
    images = _images(loaded, services, roots, events, pull=pull, override=options.pull)
    rootfs_layers = _rootfs_layers(loaded, services, roots)
    hashes = {name: service_config_hash(loaded, name) for name in loaded.spec.services}
    previous = {
        name: NetworkAddressing.from_dict(raw) for name, raw in (state.meta.get("addressing") or {}).items()
    }
    with ipam_lock(roots.state):
        in_use = _subnets_in_use(roots.state, loaded.name)
        inputs = BuildInputs(
            paths=Paths(state.dir),
            images=images,
            service_hashes=hashes,
            previous_addressing=previous,
            subnets_in_use=in_use,
            scale=dict(options.scale),
            services=services,
            rootfs_layers=rootfs_layers,
            external_addresses=_external_addresses(loaded),
        )
        desired = build_desired(loaded, inputs)
        addressing = _addressing_json(desired)
        if not options.dry_run and state.meta.get("addressing") != addressing:
            # Recorded under the IPAM lock so that a project planned next sees these subnets taken.
            state.set_meta(addressing=addressing)
    files = ",".join(str(f) for f in getattr(loaded, "files", ()))
    if not options.dry_run and state.meta.get("files") != files:
        state.set_meta(files=files)  # for composer ls
    return _only_services(desired, services) if options.services else desired


def _warn_missing_optional(loaded: Any, events: EventSink) -> None:
    for name, svc in sorted(loaded.spec.services.items()):
        for dependency, spec in sorted(svc.depends_on.items()):
            if dependency not in loaded.spec.services and not spec.required:
                events(
                    Event(
                        f"container:{name}",
                        "Warning",
                        f"optional dependency {dependency} is not in the project; starting without it",
                    )
                )


def _selected_services(loaded: Any, wanted: Sequence[str]) -> list[str]:
    """The services asked for and everything they depend on (all when none is named)."""
    spec = loaded.spec
    unknown = [name for name in wanted if name not in spec.services]
    if unknown:
        raise SpecError(
            [
                SpecIssue.at(
                    loaded.locate("services"),
                    "services",
                    f"no service named {name!r}",
                    f"known services: {', '.join(sorted(spec.services))}",
                )
                for name in unknown
            ]
        )
    if not wanted:
        return sorted(spec.services)
    selected: set[str] = set()
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in selected:
            continue
        selected.add(name)
        todo.extend(d for d in spec.services[name].depends_on if d in spec.services)
        mode = spec.services[name].network_mode or ""
        if mode.startswith("service:"):
            todo.append(mode.partition(":")[2])
    return sorted(selected)


def _only_services(desired: DesiredState, services: Sequence[str]) -> DesiredState:
    """Keep the other services' containers out of the plan's reach: they are neither made nor removed."""
    keep = set(services)
    containers = {rid: c for rid, c in desired.containers.items() if c.service in keep}
    names = {c.name for c in containers.values()}
    links = {
        rid: link
        for rid, link in desired.links.items()
        if link.a_container in names and link.b_container in names
    }
    untouched = frozenset(c.service for c in desired.containers.values()) - keep
    return DesiredState(
        desired.project, desired.networks, containers, links, desired.volumes, untouched, desired
    )


def _images(
    loaded: Any, services: Sequence[str], roots: Roots, events: EventSink, *, pull: bool, override: str | None
) -> dict[str, Any]:
    wanted = {name: loaded.spec.services[name] for name in services if loaded.spec.services[name].image}
    if not wanted:
        return {}
    from composer.images.store import ImageStore

    store = ImageStore(roots.images)
    result: dict[str, Any] = {}
    for name, svc in sorted(wanted.items()):
        if svc.rootfs is not None:
            continue
        if not pull:
            image = store.lookup(svc.image)
            if image is None:
                raise PlanError(
                    f"service {name}: image {svc.image} is not pulled yet",
                    hint="run composer pull, or up without --dry-run",
                )
        else:
            events(Event(f"image:{svc.image}", "Pulling"))
            image = store.ensure(svc.image, policy=override or svc.pull_policy)
            events(Event(f"image:{svc.image}", "Pulled"))
            store.pin(loaded.name, image.image_id)
        result[name] = image
    return result


def _rootfs_layers(loaded: Any, services: Sequence[str], roots: Roots) -> dict[str, tuple[str, ...]]:
    from composer.images.rootfs import is_tarball, resolve_rootfs

    result: dict[str, tuple[str, ...]] = {}
    for name in services:
        svc = loaded.spec.services[name]
        if svc.rootfs is None:
            continue
        path = Path(svc.rootfs)
        if not path.exists():
            raise SpecError(
                [
                    SpecIssue.at(
                        loaded.locate(f"services.{name}.rootfs"),
                        f"services.{name}.rootfs",
                        f"{path} does not exist",
                        "give a folder or a .tar/.tar.gz holding a root filesystem",
                    )
                ]
            )
        result[name] = resolve_rootfs(path, roots.images) if is_tarball(path) else (str(path),)
    return result


def _external_addresses(loaded: Any) -> dict[str, list[str]]:
    """The addresses of the existing bridges that external networks name (they must exist)."""
    external = {name: net for name, net in loaded.spec.networks.items() if net.external}
    if not external:
        return {}
    from composer.kernel.net.netlink import interface_addresses

    present = interface_addresses(None)
    result: dict[str, list[str]] = {}
    issues: list[SpecIssue] = []
    for name, net in sorted(external.items()):
        bridge = net.name or name
        if bridge not in present:
            path = f"networks.{name}"
            issues.append(
                SpecIssue.at(
                    loaded.locate(path),
                    path,
                    f"external network {bridge!r} does not exist",
                    "create the bridge first, or drop external: true so composer makes it",
                )
            )
            continue
        result[name] = [cidr for cidr in present[bridge] if not cidr.startswith("fe80:")]
    if issues:
        raise SpecError(issues)
    return result


def ipam_lock(state_root: Path) -> contextlib.AbstractContextManager[None]:
    """One lock for address planning across projects: two projects planned at once cannot collide."""
    return root_lock(state_root / "ipam.lock", "address planning")


def _subnets_in_use(state_root: Path, project: str) -> list[InUse]:
    from composer.kernel.net.routes import host_routed_networks

    in_use = [InUse(net, f"a host route on {iface}") for iface, net in host_routed_networks()]
    for other in list_projects(state_root):
        if other == project:
            continue
        meta = ProjectState(state_root, other).load().meta
        for net_name, raw in (meta.get("addressing") or {}).items():
            for family in ("ipv4", "ipv6"):
                if raw.get(family):
                    in_use.append(InUse(raw[family]["subnet"], f"network {net_name} of project {other}"))
    return in_use


def _addressing_json(desired: DesiredState) -> dict[str, Any]:
    return {
        net.name: net.addressing.to_dict() for net in desired.networks.values() if net.addressing is not None
    }


def _check_host(
    loaded: Any, desired: DesiredState, observed: ObservedState, plan: Plan, host: HostOps
) -> None:
    """Host facts the file alone cannot tell, checked before anything is created."""
    if not plan:
        return
    issues: list[SpecIssue] = []
    if any(link.needs_netem for link in desired.links.values()) and _is_real(host):
        from composer.kernel.net.tc import netem_available

        if not netem_available():
            raise PlanError(
                "the kernel lacks the netem qdisc (sch_netem): "
                "links with delay, jitter or loss cannot be made",
                hint="load the sch_netem module (modprobe sch_netem), or remove delay/jitter/loss from links",
            )
    if _is_real(host):
        issues += _port_conflicts(loaded, desired, observed)
    if issues:
        raise SpecError(issues)


def _is_real(host: HostOps) -> bool:
    from composer.engine.hosts.real import RealHost

    return isinstance(host, RealHost)


def _port_conflicts(loaded: Any, desired: DesiredState, observed: ObservedState) -> list[SpecIssue]:
    """Published ports that a listening socket on the host already holds."""
    from composer.kernel.net.ports import ports_in_use

    ours = {
        (p["protocol"], p["host_port"]) for c in observed.containers.values() for p in c.data.get("ports", [])
    }
    issues: list[SpecIssue] = []
    for container in sorted(desired.containers.values(), key=lambda c: c.name):
        for port in container.ports:
            if (port.protocol, port.host_port) in ours:
                continue
            host_ip = None if port.host_ip in ("", "0.0.0.0") else port.host_ip
            if ports_in_use(port.protocol, host_ip, [port.host_port]):  # type: ignore[arg-type]
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


def _has_attachments(desired: DesiredState, rid: str) -> bool:
    container = desired.containers.get(rid)
    return container is not None and bool(container.attachments or container.routes)


def _preload_netlink(plan: Plan, host: HostOps, desired: DesiredState) -> None:
    """Import pyroute2 here, once, rather than in eight worker threads queueing on the import lock."""
    netlink_work = any(
        a.verb == "create" and (a.kind in ("network", "link") or _has_attachments(desired, a.rid))
        for a in plan.actions.values()
    )
    if _is_real(host) and netlink_work:
        import composer.kernel.net.netlink  # noqa: F401


def _refresh_hosts_files(desired: DesiredState, plan: Plan) -> None:
    """Keep the other containers' /etc/hosts current when containers come or go.

    The file is bind-mounted into the container, so it is rewritten in place:
    a rename would leave the container looking at the old inode.  Containers
    made by this plan got the current file when they started.
    """
    changed = {
        a.rid for a in plan.actions.values() if a.verb in ("create", "remove") and a.kind == "container"
    }
    if not changed:
        return
    for container in desired.containers.values():
        if container.rid in changed:
            continue
        path = Path(container.config.state_dir) / "etc" / "hosts"
        if not path.exists():
            continue
        with contextlib.suppress(OSError):
            if path.read_text() != container.config.hosts:
                with open(path, "r+") as handle:
                    handle.write(container.config.hosts)
                    handle.truncate()


# --------------------------------------------------------------------------- down


def down(
    project: str,
    options: DownOptions,
    *,
    roots: Roots = Roots(),
    host: HostOps | None = None,
    events: EventSink = discard,
) -> DownResult:
    host = host or _default_host(roots)
    with project_lock(roots.state, project, on_wait=_waiting(events, project)) as state:
        observed = observe(state, host)
        plan = reconcile(
            DesiredState.empty(project), observed, ReconcileOptions(down=True, remove_volumes=options.volumes)
        )
        if options.dry_run:
            return DownResult(plan, [])
        applier = Applier(
            state, host, DesiredState.empty(project), observed, events, stop_timeout=options.timeout
        )
        Executor(applier, max_workers=options.parallel).apply(plan)
        used_images = any(c.image_id for c in observed.containers.values())
        had_interfaces = bool(observed.networks or observed.links) or any(
            c.data.get("veths") for c in observed.containers.values()
        )
        leftovers = _finish_down(state, host, options, used_images=used_images, had_interfaces=had_interfaces)
    from composer.engine import fastpath as upcache

    upcache.forget_project(roots.state, project)
    if not leftovers and _is_real(host):
        remove_root_files(roots.state)  # the last project gone: no lock file stays behind either
    return DownResult(plan, leftovers)


def _finish_down(
    state: ProjectState, host: HostOps, options: DownOptions, *, used_images: bool, had_interfaces: bool
) -> list[str]:
    """Stop the supervisor, drop empty folders, and name anything of the project still there."""
    from composer.supervisor import client as supervisor_client

    if not state.of_kind("container"):
        supervisor_client.shutdown(state.dir, force=True)
        for name in ("supervisor.sock", "supervisor.pid", "supervisor.log"):
            with contextlib.suppress(FileNotFoundError):
                (state.dir / name).unlink()
        for folder in ("containers", "netns"):
            with contextlib.suppress(OSError):
                (state.dir / folder).rmdir()
    if options.volumes or not state.of_kind("volume"):
        with contextlib.suppress(OSError):
            (state.dir / "volumes").rmdir()
    if not state.of_kind("container") and not state.of_kind("network"):
        state.meta.clear()
        if used_images:  # the image store (and httpx) is only loaded for projects that use images
            _unpin_images(state)
    return _leftovers(state, host, had_interfaces=had_interfaces)


def _unpin_images(state: ProjectState) -> None:
    """The project no longer uses its images: rmi and prune may take them now."""
    from composer.images.store import ImageStore

    image_root = Path(os.environ.get("COMPOSER_IMAGE_ROOT", "/var/lib/composer"))
    if image_root.is_dir():
        with contextlib.suppress(OSError):
            ImageStore(image_root).unpin_project(state.project)


def _leftovers(state: ProjectState, host: HostOps, *, had_interfaces: bool) -> list[str]:
    """What of the project still exists; marked interfaces are looked for when it had any."""
    from composer.engine.hosts.real import RealHost

    found = [f"{rid} (still recorded)" for rid in sorted(state.records) if not rid.startswith("volume:")]
    if isinstance(host, RealHost):
        from composer.kernel.net.nft import table_text

        if had_interfaces:
            from composer.kernel.net.netlink import list_owned_links

            found += [f"interface {link.name}" for link in list_owned_links(state.project)]
        if table_text(state.project) is not None:
            found.append(f"nftables table of project {state.project}")
    return found


def wait_ready(
    project: str, desired: DesiredState, *, roots: Roots = Roots(), timeout: float = 300.0
) -> None:
    """Return once every container runs (healthy when it has a healthcheck) or completed with 0.

    Fails with the first container that exited non-zero or became unhealthy, and
    its last log lines.
    """
    import time

    from composer.verbs.views import container_status, load_state

    pending = {c.name for c in desired.containers.values()}
    has_health = {c.name for c in desired.containers.values() if c.health is not None}
    deadline = time.monotonic() + timeout
    while pending:
        state = load_state(roots.state, project)
        for name in sorted(pending):
            status = container_status(state, name)
            if status.state == "exited" and status.exit_code not in (0, None):
                raise ContainerError(
                    f"container {name} exited with code {status.exit_code}",
                    hint=_last_lines(state.container_dir(name) / "json.log"),
                )
            if status.health == "unhealthy":
                raise ContainerError(
                    f"container {name} is unhealthy", hint=_last_lines(state.container_dir(name) / "json.log")
                )
            ready = status.health == "healthy" if name in has_health else status.state == "running"
            if ready or (status.state == "exited" and status.exit_code == 0):
                pending.discard(name)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise ContainerError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(0.1)


def _last_lines(log_file: Path, count: int = 10) -> str:
    from composer.kernel.logs import read_logs

    try:
        lines = [line.text.rstrip("\n") for line in read_logs(str(log_file), tail=count)]
    except OSError:
        return "no log"
    return "last log lines:\n    " + "\n    ".join(lines) if lines else "no output"
