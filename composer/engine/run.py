"""``run``: a one-off container of a service, made beside the project's own.

The one-off is planned as a service of its own (named like its container,
``<project>-<service>-run-<hex>``) in a copy of the project, so that addresses,
the hosts file, mounts and images come from the same ``build_desired`` as every
other container; then it is renamed back to its service and marked ``oneoff``.
What it depends on is planned in the same pass (made and started when missing,
waited for as ``depends_on`` says) unless ``--no-deps``; the rest of the
project is left untouched.  ``up`` ignores one-offs; ``rm`` and ``down`` remove
them (compose leaves them to ``down --remove-orphans``, #10806).

As in ``docker compose run``: the service's ports are not published unless
``--service-ports`` (``-p`` publishes others), its network aliases are not
given unless ``--use-aliases``, static addresses are not copied (they belong
to the service's own container) and the one-off never restarts.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from composer.engine.hosts import default_host
from composer.engine.hosts.base import Host
from composer.engine.options import DEFAULT_ROOTS, Roots, UpOptions
from composer.errors import ComposerError
from composer.events import EventSink, discard
from composer.model.desired import DesiredContainer, DesiredState
from composer.model.ids import container_id
from composer.store.layout import StateRoot
from composer.store.locks import nothing_left_unless_recorded, project_lock

if TYPE_CHECKING:
    from composer.project.loader import LoadedProject
    from composer.project.models.services import ServiceSpec


@dataclass(frozen=True)
class RunRequest:
    """What ``composer run`` asks for, beyond the service's own definition."""

    service: str
    command: tuple[str, ...] | None = None  # None: the service's (or image's) command
    entrypoint: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    volumes: tuple[str, ...] = ()  # short syntax, as in the file
    publish: tuple[str, ...] = ()  # short syntax, as in the file
    service_ports: bool = False
    use_aliases: bool = False
    no_deps: bool = False
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    start: bool = True  # False: made only (``composer create`` of a one-off is not a compose verb)
    stdin: int = -1  # an fd of the caller that becomes the one-off's stdin (run -i in the foreground)
    # a pseudo-terminal of (rows, columns) whose master comes back to the caller (run on a terminal)
    tty: tuple[int, int] | None = None
    build: str = "missing"  # the service's image when it has build: missing, always (--build) or never


def oneoff_name(project: str, service: str, suffix: str | None = None) -> str:
    """``<project>-<service>-run-<12 hex>``, as compose names its one-offs."""
    return f"{project}-{service}-run-{suffix or secrets.token_hex(6)}"


def oneoff_project(loaded: LoadedProject, request: RunRequest, name: str) -> LoadedProject:
    """A copy of the project with the one-off added as the service ``name``.  Pure."""
    services = loaded.spec.services
    if request.service not in services:
        known = ", ".join(sorted(services)) or "none"
        raise ComposerError(f"no such service: {request.service}", hint=f"known services: {known}")
    if name in services:
        raise ComposerError(f"run --name {name}: a service has that name", hint="choose another --name")
    spec = oneoff_service(services[request.service], request, name, loaded.project_directory)
    project_spec = loaded.spec.model_copy(update={"services": {**services, name: spec}})
    return dataclasses.replace(loaded, spec=project_spec)


def oneoff_service(svc: ServiceSpec, request: RunRequest, name: str, project_dir: PurePath) -> ServiceSpec:
    """The service's definition with ``run``'s overrides applied.  Pure."""
    extra = _parse_extra(request, project_dir)
    networks = {
        net: attach.model_copy(
            update={
                "ipv4_address": None, "ipv6_address": None, "mac_address": None,
                "aliases": list(attach.aliases) if request.use_aliases else [],
            }
        )
        for net, attach in svc.networks.items()
    }  # fmt: skip
    update: dict[str, Any] = {
        "container_name": name,
        "restart": "no",
        "scale": None,
        "deploy": svc.deploy.model_copy(update={"replicas": None}) if svc.deploy else None,
        "networks": networks,
        "ports": (list(svc.ports) if request.service_ports else []) + extra["ports"],
        "volumes": list(svc.volumes) + extra["volumes"],
        "environment": {**svc.environment, **request.env},
        "labels": {**svc.labels, **request.labels},
    }
    if request.tty:
        update["tty"] = True
    if request.no_deps:
        update["depends_on"] = {}
    if request.command is not None:
        update["command"] = list(request.command)
    if request.entrypoint is not None:
        update["entrypoint"] = list(request.entrypoint)
    if request.user is not None:
        update["user"] = request.user
    if request.working_dir is not None:
        update["working_dir"] = request.working_dir
    return svc.model_copy(update=update)


def _parse_extra(request: RunRequest, project_dir: PurePath) -> dict[str, list[Any]]:
    """``-v`` and ``-p`` read with the file's own short-syntax rules (paths against the project)."""
    if not request.volumes and not request.publish:
        return {"volumes": [], "ports": []}
    from pydantic import ValidationError

    from composer.project.models.base import ModelContext
    from composer.project.models.services import ServiceSpec

    home = os.environ.get("HOME")
    context = ModelContext(project_dir, PurePath(home) if home else None)
    raw = {"volumes": list(request.volumes), "ports": list(request.publish)}
    try:
        parsed = ServiceSpec.model_validate(raw, context=context)
    except ValidationError as error:
        first = error.errors()[0]
        flag = "-v" if first["loc"] and first["loc"][0] == "volumes" else "-p"
        raise ComposerError(
            f"run {flag}: {first['msg']}",
            hint="-v SOURCE:TARGET[:ro] and -p [HOST_IP:][HOST_PORT:]PORT[/PROTOCOL], as in the file",
        ) from None
    return {"volumes": list(parsed.volumes), "ports": list(parsed.ports)}


def as_oneoff(desired: DesiredState, name: str, service: str) -> DesiredState:
    """The plan's view: the pseudo-service's container renamed back to its service and marked.

    The service's own containers stay out of the plan's reach (untouched), as do earlier one-offs.
    """
    rid = container_id(name)
    oneoff = dataclasses.replace(desired.containers[rid], service=service, oneoff=True, number=1)
    return dataclasses.replace(
        desired,
        containers={**desired.containers, rid: oneoff},
        untouched_services=desired.untouched_services | {service},
    )


def run_oneoff(
    loaded: LoadedProject,
    request: RunRequest,
    *,
    roots: Roots = DEFAULT_ROOTS,
    host: Host | None = None,
    events: EventSink = discard,
    suffix: str | None = None,
) -> DesiredContainer:
    """Make (and start) the one-off and what it depends on; returns the one-off as planned."""
    from composer.engine.applier import Applier
    from composer.engine.executor import Executor
    from composer.engine.observe import observe
    from composer.engine.preflight import check_host
    from composer.engine.prepare import desired_state
    from composer.engine.reconcile import ReconcileOptions, reconcile
    from composer.engine.up import build_images, refuse_unhonoured, waiting

    refuse_unhonoured(loaded)
    host = host or default_host(roots)
    name = request.name or oneoff_name(loaded.name, request.service, suffix)
    project = oneoff_project(loaded, request, name)
    if request.build != "never":  # after oneoff_project, which names an unknown service
        build_images(loaded, UpOptions(services=(request.service,), build=request.build), roots, events)
    root = StateRoot(roots.state)
    layout, wait = root.project(loaded.name), waiting(events, loaded.name)
    with nothing_left_unless_recorded(root), project_lock(layout, on_wait=wait) as store:
        if container_id(name) in store.containers():
            raise ComposerError(f"a container named {name} exists already", hint=f"composer rm -f {name}")
        options = UpOptions(services=(name,))
        planned = desired_state(project, options, store, host, events, pull=True)
        desired = as_oneoff(planned, name, request.service)
        observed = observe(store, host, desired)
        plan = reconcile(desired, observed, ReconcileOptions(start=request.start))
        check_host(project, desired, observed, plan, host)
        applier = Applier(store, host, desired, observed, events)
        host.preload(netlink=True)
        if request.stdin >= 0 or request.tty:  # with a terminal, its slave is the command's stdin
            host.give_stdin(name, -1 if request.tty else request.stdin, terminal=request.tty)
        Executor(applier).apply(plan)
    return desired.containers[container_id(name)]
