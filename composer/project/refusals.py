"""What ``up`` refuses: fields composer reads and validates but does not honour yet.

Every such field is accepted by the loader (``composer config`` prints it, a
file that uses it is valid) but never silently ignored: ``up`` stops before
touching the host with one issue per service and field, saying why and what
to do.  The table ``REFUSALS`` is the one place to look: when the runtime
learns a field, its row goes away.

A row's ``applies`` looks at the validated service; a field left at its
default (``tty: false``) is never refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from composer.errors import SpecIssue
from composer.project.models import ProjectSpec, ServiceSpec

Locator = Callable[[str], tuple[str, int, int]]


@dataclass(frozen=True)
class Refusal:
    field: str  # dotted below services.NAME
    applies: Callable[[ServiceSpec], bool]
    why: str
    fix: str


def _uses(name: str) -> Callable[[ServiceSpec], bool]:
    """The field is set to something other than its default."""
    default = ServiceSpec.model_fields[name].get_default(call_default_factory=True)
    return lambda service: getattr(service, name) != default


def _reserves_devices(service: ServiceSpec) -> bool:
    resources = service.deploy.resources if service.deploy else None
    reservations = resources.reservations if resources else None
    return bool(reservations and reservations.devices)


def _network_mode_container(service: ServiceSpec) -> bool:
    return (service.network_mode or "").startswith("container:")


def _logging_driver(service: ServiceSpec) -> bool:
    return service.logging is not None


def _mac_on_network(service: ServiceSpec) -> bool:
    return any(attachment.mac_address for attachment in service.networks.values())


def _image_mount(service: ServiceSpec) -> bool:
    return any(volume.type == "image" for volume in service.volumes)


_NAMESPACES = "composer gives every container its own namespaces"

REFUSALS: tuple[Refusal, ...] = (
    Refusal(
        "secrets",
        _uses("secrets"),
        "secrets are not mounted yet",
        "bind-mount the file read-only in `volumes:` (target /run/secrets/NAME)",
    ),
    Refusal(
        "configs",
        _uses("configs"),
        "configs are not mounted yet",
        "bind-mount the file read-only in `volumes:` at the config's target",
    ),
    Refusal(
        "logging",
        _logging_driver,
        "composer keeps each container's log itself; logging options are not mapped yet",
        "remove `logging:` (composer's own rotation applies)",
    ),
    Refusal("post_start", _uses("post_start"), "lifecycle hooks are not run yet", "remove the hook"),
    Refusal("pre_stop", _uses("pre_stop"), "lifecycle hooks are not run yet", "remove the hook"),
    Refusal("pre_start", _uses("pre_start"), "lifecycle hooks are not run yet", "remove the hook"),
    Refusal(
        "develop", _uses("develop"), "`develop.watch` needs `composer watch`, not there yet", "remove it"
    ),
    Refusal(
        "platform",
        _uses("platform"),
        "composer runs images for the host's platform only and does not check `platform` yet",
        "remove `platform:`",
    ),
    Refusal("runtime", _uses("runtime"), "composer is its own runtime", "remove `runtime:`"),
    Refusal("gpus", _uses("gpus"), "GPU requests cannot be honoured", "remove `gpus:`"),
    Refusal(
        "deploy.resources.reservations.devices",
        _reserves_devices,
        "device reservations (GPUs) cannot be honoured",
        "remove them; give plain device nodes with `devices:`",
    ),
    Refusal(
        "volumes_from",
        _uses("volumes_from"),
        "volumes_from is not supported yet",
        "declare the same volumes on each service",
    ),
    Refusal(
        "network_mode",
        _network_mode_container,
        "network_mode container:NAME joins a container outside the project",
        "use network_mode: service:NAME",
    ),
    Refusal("ipc", _uses("ipc"), f"{_NAMESPACES}: ipc is not shared yet", "remove `ipc:`"),
    Refusal("pid", _uses("pid"), f"{_NAMESPACES}: pid is not shared yet", "remove `pid:`"),
    Refusal("uts", _uses("uts"), f"{_NAMESPACES}: uts is not shared yet", "remove `uts:`"),
    Refusal("cgroup", _uses("cgroup"), "composer places every container's cgroup itself", "remove `cgroup:`"),
    Refusal(
        "cgroup_parent",
        _uses("cgroup_parent"),
        "composer places every container's cgroup itself",
        "remove `cgroup_parent:`",
    ),
    Refusal("mac_address", _uses("mac_address"), "MAC addresses are not set yet", "remove `mac_address:`"),
    Refusal(
        "networks",
        _mac_on_network,
        "MAC addresses are not set yet",
        "remove `mac_address:` from the service's networks",
    ),
    Refusal("dns_opt", _uses("dns_opt"), "resolv.conf options are not written yet", "remove `dns_opt:`"),
    Refusal("dns_search", _uses("dns_search"), "resolv.conf search domains are not written yet", "remove it"),
    Refusal(
        "links",
        _uses("links"),
        "legacy service links are not turned into host names yet",
        "remove them: services on one network reach each other by name",
    ),
    Refusal(
        "external_links",
        _uses("external_links"),
        "composer does not reach containers outside the project",
        "remove `external_links:`",
    ),
    Refusal("models", _uses("models"), "model runners are not supported", "remove `models:`"),
    Refusal("provider", _uses("provider"), "provider services are not supported", "remove `provider:`"),
    Refusal(
        "storage_opt",
        _uses("storage_opt"),
        "composer's overlay root has no storage options",
        "remove `storage_opt:`",
    ),
    Refusal(
        "oom_score_adj", _uses("oom_score_adj"), "the OOM score is not set yet", "remove `oom_score_adj:`"
    ),
    Refusal(
        "oom_kill_disable",
        _uses("oom_kill_disable"),
        "the OOM killer setting is not applied yet",
        "remove `oom_kill_disable:`",
    ),
    Refusal("group_add", _uses("group_add"), "supplementary groups are not added yet", "remove `group_add:`"),
    Refusal(
        "stdin_open",
        _uses("stdin_open"),
        "containers have no open stdin yet",
        "remove `stdin_open:`; use `composer exec` to get a shell",
    ),
    Refusal(
        "tty",
        _uses("tty"),
        "containers get no terminal yet",
        "remove `tty:`; `composer exec` gives a terminal",
    ),
    Refusal(
        "label_file", _uses("label_file"), "label files are not read yet", "write the labels in `labels:`"
    ),
    Refusal("volumes", _image_mount, "`type: image` mounts are not made yet", "use a bind or a volume"),
    Refusal("isolation", _uses("isolation"), "isolation is a Windows setting", "remove `isolation:`"),
    Refusal(
        "mem_swappiness",
        _uses("mem_swappiness"),
        "swappiness is not set yet",
        "remove `mem_swappiness:`",
    ),
    *(
        Refusal(name, _uses(name), "CPU bandwidth settings are not applied yet", "use `cpus:` instead")
        for name in ("cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_count", "cpu_percent")
    ),
    Refusal("blkio_config", _uses("blkio_config"), "block I/O limits are not applied yet", "remove it"),
)


def refusals(project: ProjectSpec, locate: Locator) -> list[SpecIssue]:
    """One issue per service and field that ``up`` cannot honour."""
    issues: list[SpecIssue] = []
    for name, service in project.services.items():
        for refusal in REFUSALS:
            if refusal.applies(service):
                path = f"services.{name}.{refusal.field}"
                message = f"`{refusal.field}` of service `{name}` cannot be honoured: {refusal.why}"
                issues.append(SpecIssue.at(locate(path), path, message, refusal.fix))
    return issues
