"""From the loaded project to the desired state: the facts ``build_desired()`` needs, gathered once.

``build_desired`` is pure; this module collects what it depends on beyond the
file (through the host and the store) and records what must outlive the
command (the address plan, under the root-wide IPAM lock, so that a project
planned next sees these subnets taken):

* the images of the services (pulled as their ``pull_policy`` says, and pinned
  so that ``rmi``/``prune`` leave them), and the layers of ``rootfs:`` trees;
* each service's config hash;
* the subnets already used: the host's routes and other projects' networks;
* the addresses of the existing bridges that external networks name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from composer.engine.hosts.base import Host
from composer.engine.options import UpOptions
from composer.errors import PlanError, SpecError, SpecIssue
from composer.events import Event, EventSink
from composer.model.build import BuildInputs, ImageLike, build_desired
from composer.model.desired import DesiredState
from composer.model.ids import ResourceId, container_id
from composer.model.ipam import InUse, NetworkAddressing
from composer.store.journal import ProjectStore, read_store
from composer.store.layout import StateRoot
from composer.store.locks import ipam_lock
from composer.store.records import ProjectMeta

if TYPE_CHECKING:
    from composer.project.loader import LoadedProject


def desired_state(
    loaded: LoadedProject,
    options: UpOptions,
    store: ProjectStore,
    host: Host,
    events: EventSink,
    *,
    pull: bool,
) -> DesiredState:
    from composer.project.hashing import service_config_hash

    services = selected_services(loaded, options.services)
    if options.host is not None:
        services = _services_on(loaded, options.host, services)
    if options.no_deps and options.services:
        services = sorted(set(options.services))
    _warn_missing_optional(loaded, events)
    images = _images(loaded, services, host, events, pull=pull, override=options.pull)
    rootfs_layers = _rootfs_layers(loaded, services, host)
    mount_images = _mount_images(loaded, services, host, events, pull=pull, override=options.pull)
    hashes = {name: service_config_hash(loaded, name) for name in loaded.spec.services}
    root = store.layout.state_root
    with ipam_lock(root):
        inputs = BuildInputs(
            paths=store.layout,
            images=images,
            service_hashes=hashes,
            previous_addressing=store.meta.addressing,
            subnets_in_use=_subnets_in_use(root, loaded.name, host),
            scale=dict(options.scale),
            services=services,
            rootfs_layers=rootfs_layers,
            mount_images=mount_images,
            external_addresses=_external_addresses(loaded, host),
            elsewhere=_elsewhere(loaded, options.host),
            reserved=_oneoff_addresses(store),
        )
        desired = build_desired(loaded, inputs)
        meta = ProjectMeta(
            addressing=_addressing(desired),
            files=tuple(str(f) for f in loaded.files),
            host=options.host or "",
        )
        if not options.dry_run and meta != store.meta:
            store.set_meta(meta)  # for the next plan, and for composer ls
    if options.host is not None:
        return _host_part(loaded, desired, options.host)
    return only_services(desired, services) if options.services else desired


def _services_on(loaded: LoadedProject, host: str, services: Sequence[str]) -> list[str]:
    """The services of ``host`` (its own dependencies on other hosts are not waited for from here)."""
    spec = loaded.spec
    if host not in spec.hosts:
        known = ", ".join(sorted(spec.hosts)) or "none: the file has no top-level hosts:"
        raise SpecError(
            [
                SpecIssue.at(
                    loaded.locate("hosts"), "hosts", f"no host named {host!r}", f"known hosts: {known}"
                )
            ]
        )
    return [name for name in services if spec.services[name].host == host]


def _elsewhere(loaded: LoadedProject, host: str | None) -> frozenset[str]:
    if host is None:
        return frozenset()
    return frozenset(name for name, service in loaded.spec.services.items() if service.host != host)


def _host_part(loaded: LoadedProject, desired: DesiredState, host: str) -> DesiredState:
    from composer.model.hosts import host_part
    from composer.project.checks import network_hosts

    spec = loaded.spec
    placement = {name: service.host or "" for name, service in spec.services.items()}
    addresses = {name: str(machine.address) for name, machine in spec.hosts.items()}
    ends = {
        ResourceId(link.resource_id): (link.endpoints[0].service, link.endpoints[1].service)
        for link in spec.links
    }
    return host_part(desired, placement, addresses, ends, host, network_hosts(spec))


def _warn_missing_optional(loaded: LoadedProject, events: EventSink) -> None:
    for name, svc in sorted(loaded.spec.services.items()):
        for dependency, spec in sorted(svc.depends_on.items()):
            if dependency not in loaded.spec.services and not spec.required:
                events(
                    Event(
                        container_id(name),
                        "Warning",
                        f"optional dependency {dependency} is not in the project; starting without it",
                    )
                )


def selected_services(loaded: LoadedProject, wanted: Sequence[str]) -> list[str]:
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


def only_services(desired: DesiredState, services: Sequence[str]) -> DesiredState:
    """Keep the other services' containers out of the plan's reach: they are neither made nor removed."""
    keep = set(services)
    containers = {rid: c for rid, c in desired.containers.items() if c.service in keep}
    names = {c.name for c in containers.values()}
    links = {
        rid: link
        for rid, link in desired.links.items()
        if link.a_container in names and (link.one_ended or link.b_container in names)
    }
    untouched = frozenset(c.service for c in desired.containers.values()) - keep
    return DesiredState(
        desired.project, desired.networks, containers, links, desired.volumes,
        {rid: i for rid, i in desired.interfaces.items() if i.container in names},
        {rid: r for rid, r in desired.routes.items() if r.container in names},
        untouched, desired,
    )  # fmt: skip


def _images(
    loaded: LoadedProject,
    services: Sequence[str],
    host: Host,
    events: EventSink,
    *,
    pull: bool,
    override: str | None,
) -> dict[str, ImageLike]:
    from composer.images.builder.compose import image_name, is_buildable

    result: dict[str, ImageLike] = {}
    for name in services:
        svc = loaded.spec.services[name]
        if is_buildable(svc):
            result[name] = _built_image(loaded, name, image_name(loaded.name, name, svc), host, pin=pull)
            continue
        if not svc.image or svc.rootfs is not None:
            continue
        what = f"service {name}: image {svc.image}"
        result[name] = _resolve(loaded, host, events, svc.image, override or svc.pull_policy, pull, what)
    return result


def _resolve(
    loaded: LoadedProject, host: Host, events: EventSink, reference: str, policy: str, pull: bool, what: str
) -> ImageLike:
    """The image ``reference``: pulled as ``policy`` says and pinned, or (not ``pull``) as in the store."""
    if not pull:
        found = host.lookup_image(reference)
        if found is None:
            raise PlanError(f"{what} is not pulled yet", hint="run composer pull, or up without --dry-run")
        return found
    events(Event(f"image:{reference}", "Pulling"))
    image = host.ensure_image(reference, policy)
    events(Event(f"image:{reference}", "Pulled"))
    host.pin_image(loaded.name, image.image_id)
    return image


def _mount_images(
    loaded: LoadedProject,
    services: Sequence[str],
    host: Host,
    events: EventSink,
    *,
    pull: bool,
    override: str | None,
) -> dict[str, ImageLike]:
    """The images of ``type: image`` mounts, pulled when missing (as the services' own) and pinned."""
    result: dict[str, ImageLike] = {}
    for name in services:
        for volume in loaded.spec.services[name].volumes:
            reference = volume.source or ""
            if volume.type == "image" and reference not in result:
                what = f"service {name}: image {reference} of a type: image mount"
                result[reference] = _resolve(
                    loaded, host, events, reference, override or "missing", pull, what
                )
    return result


def _built_image(loaded: LoadedProject, service: str, reference: str, host: Host, *, pin: bool) -> ImageLike:
    """The image a ``build:`` section made (``up`` built it just before when it was missing)."""
    image = host.lookup_image(reference)
    if image is None:
        raise PlanError(
            f"service {service}: image {reference} is not built yet",
            hint="run composer build (or up without --no-build)",
        )
    if pin:
        host.pin_image(loaded.name, image.image_id)
    return image


def _rootfs_layers(loaded: LoadedProject, services: Sequence[str], host: Host) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for name in services:
        svc = loaded.spec.services[name]
        if svc.rootfs is None:
            continue
        try:
            result[name] = host.rootfs_layers(Path(svc.rootfs))
        except FileNotFoundError:
            path = f"services.{name}.rootfs"
            raise SpecError(
                [
                    SpecIssue.at(
                        loaded.locate(path),
                        path,
                        f"{svc.rootfs} does not exist",
                        "give a folder or a .tar/.tar.gz holding a root filesystem",
                    )
                ]
            ) from None
    return result


def _external_addresses(loaded: LoadedProject, host: Host) -> dict[str, list[str]]:
    """The addresses of the existing bridges that external networks name (they must exist)."""
    external = {name: net for name, net in loaded.spec.networks.items() if net.external}
    if not external:
        return {}
    present = host.interface_addresses()
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


def _oneoff_addresses(store: ProjectStore) -> dict[str, list[str]]:
    """The networks `run`'s containers are on: their addresses stay theirs while they exist."""
    reserved: dict[str, list[str]] = {}
    for rid, stored in sorted(store.containers().items()):
        if stored.record.oneoff:
            for network in stored.record.networks:
                reserved.setdefault(network, []).append(rid.name)
    return reserved


def _subnets_in_use(root: StateRoot, project: str, host: Host) -> list[InUse]:
    in_use = [InUse(net, f"a host route on {iface}") for iface, net in host.routed_subnets()]
    for other in root.project_names():
        if other == project:
            continue
        for net_name, plan in read_store(root.project(other)).meta.addressing.items():
            for family in plan.families():
                in_use.append(InUse(family.subnet, f"network {net_name} of project {other}"))
    return in_use


def _addressing(desired: DesiredState) -> Mapping[str, NetworkAddressing]:
    return {net.name: net.addressing for net in desired.networks.values() if net.addressing is not None}
