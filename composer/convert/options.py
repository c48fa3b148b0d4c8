"""What one conversion is given: the options of the command, and the project's resolved parts.

``Conversion`` is passed to every builder: the project, the options, the pod
groups (``workloads``), the environment compose would read unset variables
from, a reader for the files of secrets and configs, and the findings being
collected.  Builders read from it and add findings; they never print.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from composer.convert.findings import Findings
from composer.convert.names import dns_label, is_dns_label
from composer.convert.workloads import PodGroup, pod_groups
from composer.project.models import ProjectSpec

SUPPORTED_VERSIONS = tuple(f"1.{minor}" for minor in range(25, 38))
DEFAULT_VERSION = "1.33"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
NETWORK_LABEL_PREFIX = "network.composer.io/"
OUR_LABELS = (NAME_LABEL, INSTANCE_LABEL, PART_OF_LABEL, MANAGED_BY_LABEL)


class OptionError(ValueError):
    """A command option that cannot be used (the CLI names the option)."""


@dataclass(frozen=True)
class KubeOptions:
    namespace: str | None = None
    version: str = DEFAULT_VERSION
    publish: Literal["nodeport", "loadbalancer"] = "nodeport"
    volume_size: str = "1Gi"
    wait_image: str = "busybox:1.36"
    kubectl_image: str | None = None  # None: registry.k8s.io/kubectl at the target version
    cluster_domain: str = "cluster.local"

    def checked(self) -> KubeOptions:
        if self.namespace is not None and not is_dns_label(self.namespace):
            raise OptionError(
                f"--namespace {self.namespace!r} is not a DNS-1123 label (a-z, 0-9 and -, at most 63)"
            )
        if self.version not in SUPPORTED_VERSIONS:
            raise OptionError(
                f"--kubernetes-version {self.version!r} is not one of "
                f"{SUPPORTED_VERSIONS[0]} to {SUPPORTED_VERSIONS[-1]}"
            )
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?", self.volume_size):
            raise OptionError(f"--volume-size {self.volume_size!r} is not a quantity such as 1Gi or 500Mi")
        return self

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])

    @property
    def kubectl(self) -> str:
        return self.kubectl_image or f"registry.k8s.io/kubectl:v{self.version}.0"


def _no_file(path: Path) -> bytes:
    raise FileNotFoundError(2, "No such file or directory", str(path))


@dataclass
class Conversion:
    """The state of one conversion: inputs, the pod groups, and the findings so far."""

    spec: ProjectSpec
    options: KubeOptions = field(default_factory=KubeOptions)
    environment: Mapping[str, str] = field(default_factory=dict)
    read_file: Callable[[Path], bytes] = _no_file
    findings: Findings = field(default_factory=Findings)
    groups: list[PodGroup] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.groups:
            self.groups = pod_groups(self.spec)

    @property
    def project(self) -> str:
        return dns_label(self.spec.name or "project")

    def group_of(self, service: str) -> PodGroup:
        return next(g for g in self.groups if service in g.services)

    def selector(self, group: PodGroup) -> dict[str, str]:
        """The labels that pick the pods of ``group`` (and only them) in the namespace."""
        return {NAME_LABEL: group.name, INSTANCE_LABEL: self.project}

    def common_labels(self) -> dict[str, str]:
        return {PART_OF_LABEL: self.project, MANAGED_BY_LABEL: "composer"}

    def metadata(self, name: str, group: PodGroup | None = None) -> dict[str, object]:
        labels = {**(self.selector(group) if group else {}), **self.common_labels()}
        meta: dict[str, object] = {"name": name}
        if self.options.namespace:
            meta["namespace"] = self.options.namespace
        meta["labels"] = dict(sorted(labels.items()))
        return meta

    def network_label(self, network: str) -> str:
        return NETWORK_LABEL_PREFIX + dns_label(network)

    def networked(self, group: PodGroup) -> bool:
        """Whether the pod of ``group`` is on the compose networks (not ``none``/``host``)."""
        mode = self.spec.services[group.root].network_mode
        return mode not in ("none", "host")

    def depended_on(self) -> set[str]:
        """Roots of the pods some service outside them waits for (they get a ``-ready`` Service)."""
        roots: set[str] = set()
        for name, service in self.spec.services.items():
            own = self.group_of(name)
            for dependency in service.depends_on:
                if dependency in self.spec.services:
                    target = self.group_of(dependency)
                    if target != own and target.kind != "Job":
                        roots.add(target.root)
        return roots

    def ready_service(self, group: PodGroup) -> str:
        return dns_label(f"{group.root}-ready")
