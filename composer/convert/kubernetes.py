"""``convert()``: a validated project as Kubernetes manifests, sorted, and their YAML.

The result is a pure function of the project, the options, the environment
and the files of secrets and configs: the same input gives the same bytes.
Objects are sorted by the order ``kubectl apply`` needs them (what pods
reference first, the workloads last) and by name; each manifest's keys are in
the order the API documentation lists them.

Every object carries ``app.kubernetes.io/part-of`` (the project) and
``app.kubernetes.io/managed-by: composer``; the objects of one pod also
``app.kubernetes.io/name`` (the service) and ``app.kubernetes.io/instance``
(the project), which together select its pods.  The service's ``labels`` go on
its pods as labels when Kubernetes' label syntax allows, else as annotations;
``annotations`` go on its pods; ``deploy.labels`` on the workload object.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from composer.convert import networking, storage
from composer.convert.findings import Finding
from composer.convert.names import dns_label, is_label_key, is_label_value
from composer.convert.options import OUR_LABELS, Conversion, KubeOptions
from composer.convert.pods import job_waiter_account, pod_spec, waits_for_jobs
from composer.convert.workloads import PodGroup
from composer.project.models import ProjectSpec

Manifest = dict[str, Any]

KIND_ORDER = (
    "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service",
    "NetworkPolicy", "Job", "StatefulSet", "DaemonSet", "Deployment",
)  # fmt: skip
API_VERSIONS = {
    "ServiceAccount": "v1", "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1", "ConfigMap": "v1", "Secret": "v1",
    "PersistentVolumeClaim": "v1", "Service": "v1", "NetworkPolicy": "networking.k8s.io/v1",
    "Job": "batch/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1",
}  # fmt: skip


@dataclass(frozen=True)
class Result:
    manifests: list[Manifest]
    findings: list[Finding]


def convert(
    spec: ProjectSpec,
    options: KubeOptions | None = None,
    *,
    environment: Mapping[str, str] | None = None,
    read_file: Callable[[Path], bytes] | None = None,
) -> Result:
    """The project as manifests, and what could not be carried over (never raises for the file)."""
    ctx = Conversion(spec, (options or KubeOptions()).checked(), dict(environment or {}))
    if read_file is not None:
        ctx.read_file = read_file
    manifests = [
        *rbac(ctx),
        *storage.env_maps(ctx),
        *storage.file_objects(ctx),
        *storage.claims(ctx),
        *networking.services(ctx),
        *networking.policies(ctx),
        *(workload(ctx, group) for group in ctx.groups),
    ]
    _project_findings(ctx)
    _duplicate_names(ctx, manifests)
    return Result(sorted(manifests, key=_order), ctx.findings.sorted())


def _order(manifest: Manifest) -> tuple[int, str]:
    return KIND_ORDER.index(manifest["kind"]), manifest["metadata"]["name"]


def _project_findings(ctx: Conversion) -> None:
    for index, link in enumerate(ctx.spec.links):
        ends = " -- ".join(str(e) for e in link.endpoints)
        message = f"the wire {ends} has no Kubernetes counterpart: pods get one network interface"
        ctx.findings.add(f"links.{index}", message, "a CNI plugin such as Multus can add interfaces")
    for network_name, declared in sorted(ctx.spec.networks.items()):
        if declared.ipam.config:
            path = f"networks.{network_name}.ipam"
            ctx.findings.add(path, "the cluster's network plugin assigns pod addresses")
    for name, service in sorted(ctx.spec.services.items()):
        for network, attachment in service.networks.items():
            if attachment.ipv4_address or attachment.ipv6_address:
                ctx.findings.add(
                    f"services.{name}.networks.{network}", "static addresses are the network plugin's choice"
                )
        group = ctx.group_of(name)
        if group.kind == "StatefulSet" and service.replicas > 1 and name == group.root:
            ctx.findings.add(
                f"services.{name}.volumes",
                f"each of the {service.replicas} replicas gets its own copy of {', '.join(group.claims)} "
                "(compose shares one volume between them)",
            )
        if name in group.members and service.replicas != ctx.spec.services[group.root].replicas:
            ctx.findings.add(
                f"services.{name}.network_mode",
                f"runs in the pods of {group.root}: it has their number of replicas",
            )
        _deploy_findings(ctx, name, group)


def _deploy_findings(ctx: Conversion, name: str, group: PodGroup) -> None:
    deploy = ctx.spec.services[name].deploy
    if deploy is None:
        return
    for field in ("placement", "update_config", "rollback_config", "endpoint_mode"):
        if getattr(deploy, field):
            ctx.findings.add(f"services.{name}.deploy.{field}", "a swarm setting with no mapping: left out")
    if deploy.restart_policy is not None and group.kind != "Job":
        ctx.findings.add(
            f"services.{name}.deploy.restart_policy", "a pod of a long-running workload always restarts"
        )


def _duplicate_names(ctx: Conversion, manifests: list[Manifest]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for manifest in manifests:
        key = (manifest["kind"], manifest["metadata"]["name"])
        seen[key] = seen.get(key, 0) + 1
    for (kind, name), count in sorted(seen.items()):
        if count > 1:
            ctx.findings.add(
                "services", f"{count} objects would be the {kind} {name}: names differ only in case, _ or .",
                "rename one of them",
            )  # fmt: skip


# --------------------------------------------------------------------------- workloads


def _labels_and_annotations(labels: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Compose labels split by what Kubernetes' label syntax allows (ours are never overridden)."""
    kept: dict[str, str] = {}
    annotated: dict[str, str] = {}
    for key, value in sorted(labels.items()):
        if key in OUR_LABELS:
            continue
        (kept if is_label_key(key) and is_label_value(value) else annotated)[key] = value
    return kept, annotated


def pod_template(ctx: Conversion, group: PodGroup) -> Manifest:
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for name in group.services:
        service = ctx.spec.services[name]
        kept, annotated = _labels_and_annotations(service.labels)
        labels.update(kept)
        annotations.update({**annotated, **service.annotations})
    labels.update(networking.pod_network_labels(ctx, group))
    labels.update(ctx.selector(group))
    meta: Manifest = {"labels": dict(sorted(labels.items()))}
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return {"metadata": meta, "spec": pod_spec(ctx, group)}


def workload(ctx: Conversion, group: PodGroup) -> Manifest:
    service = ctx.spec.services[group.root]
    meta = ctx.metadata(group.name, group)
    deploy_labels = service.deploy.labels if service.deploy else {}
    kept, annotated = _labels_and_annotations(deploy_labels)
    meta["labels"] = dict(sorted({**kept, **meta["labels"]}.items()))  # type: ignore[dict-item]
    if annotated:
        meta["annotations"] = annotated
    template = pod_template(ctx, group)
    selector = {"matchLabels": ctx.selector(group)}
    spec: Manifest
    if group.kind == "Job":
        spec = _job_spec(service.replicas, service.restart, template)
    elif group.kind == "DaemonSet":
        spec = {"selector": selector, "template": template}
    elif group.kind == "StatefulSet":
        spec = {
            "serviceName": ctx.ready_service(group),
            "replicas": service.replicas,
            "podManagementPolicy": "Parallel",  # compose starts replicas together
            "selector": selector,
            "template": template,
            "volumeClaimTemplates": [_claim_template(ctx, group, v) for v in group.claims],
        }
    else:
        spec = {"replicas": service.replicas, "selector": selector, "template": template}
    return {"apiVersion": API_VERSIONS[group.kind], "kind": group.kind, "metadata": meta, "spec": spec}


def _job_spec(replicas: int, restart: str, template: Manifest) -> Manifest:
    retries = restart.partition(":")[2] if restart.startswith("on-failure") else "0"
    spec: Manifest = {"backoffLimit": int(retries) if retries else 6}
    if replicas != 1:
        spec.update(completions=replicas, parallelism=replicas)
    spec["template"] = template
    return spec


def _claim_template(ctx: Conversion, group: PodGroup, volume: str) -> Manifest:
    labels = {**ctx.selector(group), **ctx.common_labels()}
    return {
        "metadata": {"name": dns_label(volume), "labels": dict(sorted(labels.items()))},
        "spec": storage.claim_spec(ctx, volume, "ReadWriteOnce"),
    }


def rbac(ctx: Conversion) -> list[Manifest]:
    """Who waits for a Job reads Jobs: a service account allowed just that, in the namespace."""
    if not any(waits_for_jobs(ctx, group) for group in ctx.groups):
        return []
    name = job_waiter_account(ctx)
    rules = [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}]
    subject = {"kind": "ServiceAccount", "name": name, "namespace": ctx.options.namespace or "default"}
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": ctx.metadata(name)},
        {"apiVersion": API_VERSIONS["Role"], "kind": "Role", "metadata": ctx.metadata(name), "rules": rules},
        {
            "apiVersion": API_VERSIONS["RoleBinding"], "kind": "RoleBinding", "metadata": ctx.metadata(name),
            "subjects": [subject], "roleRef": role_ref,
        },
    ]  # fmt: skip


# --------------------------------------------------------------------------- output


class _Dumper(yaml.SafeDumper):
    """Block style, no YAML anchors (a reader sees each value where it applies)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(manifest: Manifest) -> str:
    stream = io.StringIO()
    yaml.dump(manifest, stream, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
    return stream.getvalue()


def render(manifests: list[Manifest]) -> str:
    """One multi-document YAML stream."""
    return "".join(f"---\n{to_yaml(m)}" for m in manifests)


def file_name(manifest: Manifest, index: int) -> str:
    """``NN-kind-name.yaml``: ``kubectl apply -f DIR`` reads files by name, so they keep the order."""
    return f"{index:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
