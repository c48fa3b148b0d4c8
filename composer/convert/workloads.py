"""Which Kubernetes workload each service becomes, and which services share a pod.

The rules, in order (docs/kubernetes.md explains each):

1. ``network_mode: service:X`` puts the service in X's pod, as one more
   container: a pod is exactly a set of containers sharing one network
   namespace, which is what ``service:X`` means.  Chains (A in B, B in C) end in
   the pod of the last one.
2. A service another one waits for with ``service_completed_successfully`` is a
   one-shot: a ``Job``.
3. ``deploy.mode: global`` (one container per node of a swarm) is a ``DaemonSet``.
4. A service that is the only user of a named (not external) volume is a
   ``StatefulSet`` whose ``volumeClaimTemplates`` make that volume: the claim
   lives as long as the StatefulSet's pods need it and is not shared.
5. Anything else is a ``Deployment``.  A named volume used by several pods is
   one standalone ``PersistentVolumeClaim`` they all mount (``ReadWriteMany``,
   since their pods may land on different nodes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from composer.convert.names import dns_label
from composer.project.models import ProjectSpec, ServiceSpec

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet", "Job"]


@dataclass(frozen=True)
class PodGroup:
    """The services of one pod: ``root`` owns the pod, ``members`` joined its network namespace."""

    root: str
    members: tuple[str, ...]
    kind: WorkloadKind
    claims: tuple[str, ...]  # named volumes made by this StatefulSet's volumeClaimTemplates

    @property
    def services(self) -> tuple[str, ...]:
        return (self.root, *self.members)

    @property
    def name(self) -> str:
        return dns_label(self.root)


def shared_pod_of(spec: ProjectSpec, service: str) -> str:
    """The service whose pod ``service`` runs in (itself unless ``network_mode: service:X``)."""
    seen = [service]
    current = service
    while True:
        mode = spec.services[current].network_mode or ""
        target = mode.removeprefix("service:") if mode.startswith("service:") else None
        if target is None or target not in spec.services or target in seen:
            return current
        seen.append(target)
        current = target


def one_shots(spec: ProjectSpec) -> set[str]:
    """Services another waits for with ``service_completed_successfully``."""
    return {
        dependency
        for service in spec.services.values()
        for dependency, condition in service.depends_on.items()
        if condition.condition == "service_completed_successfully"
    }


def named_volumes(service: ServiceSpec) -> list[str]:
    return sorted({m.source for m in service.volumes if m.type == "volume" and m.source})


def volume_users(spec: ProjectSpec, roots: dict[str, str]) -> dict[str, set[str]]:
    """Named (declared, not external) volume -> the pods (by root service) that mount it."""
    users: dict[str, set[str]] = {}
    for name, service in spec.services.items():
        for volume in named_volumes(service):
            declared = spec.volumes.get(volume)
            if declared is not None and not declared.external:
                users.setdefault(volume, set()).add(roots[name])
    return users


def pod_groups(spec: ProjectSpec) -> list[PodGroup]:
    """Every pod of the project, sorted by the name of its root service."""
    roots = {name: shared_pod_of(spec, name) for name in spec.services}
    jobs = one_shots(spec)
    users = volume_users(spec, roots)
    groups = []
    for root in sorted(set(roots.values())):
        members = tuple(sorted(n for n, r in roots.items() if r == root and n != root))
        service = spec.services[root]
        kind: WorkloadKind = "Deployment"
        claims: tuple[str, ...] = ()
        if root in jobs:
            kind = "Job"
        elif service.deploy is not None and service.deploy.mode == "global":
            kind = "DaemonSet"
        else:
            claims = tuple(sorted(v for v, pods in users.items() if pods == {root}))
            if claims:
                kind = "StatefulSet"
        groups.append(PodGroup(root, members, kind, claims))
    return groups


def standalone_claims(spec: ProjectSpec, groups: list[PodGroup]) -> list[str]:
    """Named volumes that are not made by a StatefulSet's template: one PersistentVolumeClaim each."""
    templated = {claim for group in groups for claim in group.claims}
    roots = {name: group.root for group in groups for name in group.services}
    return sorted(v for v in volume_users(spec, roots) if v not in templated)
