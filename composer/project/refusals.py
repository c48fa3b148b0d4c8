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


# Go's GOARCH names of the machine's os.uname().machine (what `platform: linux/ARCH` says).
_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}  # fmt: skip


def host_platform(platform: str, machine: str) -> bool:
    """``linux/ARCH[/VARIANT]`` names the host whose ``os.uname().machine`` is ``machine``."""
    parts = platform.lower().split("/")
    return parts[0] == "linux" and len(parts) >= 2 and parts[1] == _ARCHES.get(machine, machine)


def _privileged_hook(field: str) -> Callable[[ServiceSpec], bool]:
    return lambda service: any(hook.privileged for hook in getattr(service, field))


def _joins(name: str) -> Callable[[ServiceSpec], bool]:
    """uts is host or the container's own: compose has no uts: service:NAME."""
    return lambda service: getattr(service, name) not in (None, "", "host")


def _hostname_with_host_uts(name: str, service: ServiceSpec, locate: Locator) -> list[SpecIssue]:
    """``uts: host`` shares the host's name: a name of its own contradicts it (Docker refuses too)."""
    if service.uts != "host":
        return []
    issues = []
    for field in ("hostname", "domainname"):
        if getattr(service, field):
            path = f"services.{name}.{field}"
            message = (
                f"`{field}` of service `{name}` conflicts with `uts: host`: the container has the host's name"
            )
            issues.append(SpecIssue.at(locate(path), path, message, f"remove `{field}:` or `uts: host`"))
    return issues


REFUSALS: tuple[Refusal, ...] = (
    *(
        Refusal(
            name,
            _privileged_hook(name),
            "a privileged hook would need more than the container's own capabilities",
            "drop `privileged: true` from the hook, or give the service the capabilities it needs",
        )
        for name in ("post_start", "pre_stop")
    ),
    Refusal(
        "pre_start",
        _uses("pre_start"),
        "pre_start hooks (before the container runs) are not run yet",
        "remove the hook",
    ),
    Refusal(
        "runtime",
        lambda service: service.runtime not in (None, "runc"),
        "composer is its own runc-like runtime; other OCI runtimes cannot be used",
        "remove `runtime:` (or set runtime: runc)",
    ),
    Refusal("gpus", _uses("gpus"), "GPU requests cannot be honoured", "remove `gpus:`"),
    Refusal(
        "deploy.resources.reservations.devices",
        _reserves_devices,
        "device reservations (GPUs) cannot be honoured",
        "remove them; give plain device nodes with `devices:`",
    ),
    Refusal(
        "volumes_from",
        lambda service: any(entry.startswith("container:") for entry in service.volumes_from),
        "volumes_from container:NAME names a container outside the project",
        "name a service of the project (volumes_from: [SERVICE])",
    ),
    Refusal(
        "uts",
        _joins("uts"),
        "composer keeps the host's uts namespace (host) or gives one of its own",
        "remove `uts:`, or set `uts: host`",
    ),
    Refusal(
        "cgroup_parent",
        _uses("cgroup_parent"),
        "composer places every container's cgroup itself",
        "remove `cgroup_parent:`",
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
        "volumes",
        lambda service: any(
            v.bind is not None and v.bind.propagation in ("shared", "rshared") for v in service.volumes
        ),
        "the container's mounts are a slave of the host's (as runc makes them), so that nothing it"
        " mounts reaches the host; shared propagation would undo that",
        "use `propagation: rslave` (the host's later mounts appear inside) or leave it out (rprivate)",
    ),
    Refusal("isolation", _uses("isolation"), "isolation is a Windows setting", "remove `isolation:`"),
    *(
        Refusal(
            name, _uses(name), "real-time and Windows CPU settings are not applied", "use `cpus:` instead"
        )
        for name in ("cpu_rt_period", "cpu_rt_runtime", "cpu_count", "cpu_percent")
    ),
    Refusal(
        "cpu_period",
        lambda service: service.cpu_period is not None and not (service.cpu_quota or 0) > 0,
        "a CPU period alone sets no limit",
        "give `cpu_quota` with it, or `cpus:`",
    ),
)


def refusals(project: ProjectSpec, locate: Locator, machine: str = "") -> list[SpecIssue]:
    """One issue per service and field that ``up`` cannot honour.

    ``machine`` is the host's ``os.uname().machine`` (the caller's to read): a
    ``platform`` of another architecture is refused, the host's own accepted.
    """
    issues: list[SpecIssue] = []
    for name, service in project.services.items():
        if service.platform is not None and not host_platform(service.platform, machine):
            path = f"services.{name}.platform"
            message = (
                f"`platform` of service `{name}` is {service.platform}: composer runs {machine} images only"
            )
            fix = "remove `platform:`, or run the project on a machine of that platform"
            issues.append(SpecIssue.at(locate(path), path, message, fix))
        issues += _hostname_with_host_uts(name, service, locate)
        for refusal in REFUSALS:
            if refusal.applies(service):
                path = f"services.{name}.{refusal.field}"
                message = f"`{refusal.field}` of service `{name}` cannot be honoured: {refusal.why}"
                issues.append(SpecIssue.at(locate(path), path, message, refusal.fix))
    return issues
