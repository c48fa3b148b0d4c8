"""Structural checks of a set of manifests: what a schema alone does not see.

``kubernetes-validate`` (a test dependency) checks each object against the
OpenAPI schema of a Kubernetes version; these checks look across objects and
at the naming rules the API server applies:

* each object has a known ``apiVersion`` for its ``kind`` and a valid name
  (DNS-1123 label for Services, DNS-1123 subdomain otherwise);
* a workload's selector matches its pod template's labels;
* container names are DNS-1123 labels, unique within a pod;
* each Service selects at least one pod template, and each of its target
  ports is a port a container of those pods declares;
* each NetworkPolicy selects at least one pod template;
* mounts name a volume of the pod (or a claim template), and the ConfigMaps,
  Secrets, claims and service accounts pods use are in the set (external
  claims are named by the caller).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from composer.convert.names import is_dns_label, is_dns_subdomain

Manifest = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
API_VERSIONS = {
    "ServiceAccount": "v1", "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1", "ConfigMap": "v1", "Secret": "v1",
    "PersistentVolumeClaim": "v1", "Service": "v1", "NetworkPolicy": "networking.k8s.io/v1",
    "Job": "batch/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1",
}  # fmt: skip


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _templates(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    return [(m["metadata"]["name"], m["spec"]["template"]) for m in manifests if m["kind"] in WORKLOADS]


def problems(manifests: list[Manifest], external_claims: Iterable[str] = ()) -> list[str]:
    """Every structural problem found, as ``Kind/name: what``; [] when none."""
    found: list[str] = []
    for manifest in manifests:
        found += _object_problems(manifest)
    templates = _templates(manifests)
    names = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    claims = {n for k, n in names if k == "PersistentVolumeClaim"} | set(external_claims)
    for manifest in manifests:
        where = f"{manifest['kind']}/{manifest['metadata']['name']}"
        if manifest["kind"] == "Service":
            found += [f"{where}: {p}" for p in _service_problems(manifest, templates)]
        elif manifest["kind"] == "NetworkPolicy":
            selector = manifest["spec"]["podSelector"].get("matchLabels", {})
            if not any(_selects(selector, t["metadata"]["labels"]) for _, t in templates):
                found.append(f"{where}: selects no pod")
        elif manifest["kind"] in WORKLOADS:
            found += [f"{where}: {p}" for p in _workload_problems(manifest, names, claims)]
    return found


def _object_problems(manifest: Manifest) -> list[str]:
    kind = manifest.get("kind", "")
    name = manifest.get("metadata", {}).get("name", "")
    where = f"{kind}/{name}"
    found = []
    if API_VERSIONS.get(kind) != manifest.get("apiVersion"):
        found.append(f"{where}: apiVersion {manifest.get('apiVersion')!r} is not the one of {kind!r}")
    valid = is_dns_label(name) if kind == "Service" else is_dns_subdomain(name)
    if not valid:
        rule = "label" if kind == "Service" else "subdomain"
        found.append(f"{where}: the name is not a valid DNS-1123 {rule}")
    return found


def _container_ports(template: Manifest) -> set[tuple[int, str]]:
    return {
        (port["containerPort"], port.get("protocol", "TCP"))
        for container in template["spec"]["containers"]
        for port in container.get("ports", [])
    }


def _service_problems(service: Manifest, templates: list[tuple[str, Manifest]]) -> list[str]:
    selector = service["spec"].get("selector", {})
    chosen = [t for _, t in templates if _selects(selector, t["metadata"]["labels"])]
    if not chosen:
        return ["selects no pod"]
    found = []
    for port in service["spec"].get("ports", []):
        wanted = (port["targetPort"], port.get("protocol", "TCP"))
        if not all(wanted in _container_ports(t) for t in chosen):
            found.append(f"port {port['name']} targets {wanted[0]}/{wanted[1]}, which no container declares")
        if service["spec"].get("type") != "NodePort" and "nodePort" in port:
            found.append(f"port {port['name']} has a nodePort but the Service is not a NodePort")
    return found


def _workload_problems(workload: Manifest, names: set[tuple[str, str]], claims: set[str]) -> list[str]:
    spec = workload["spec"]
    template = spec["template"]
    found = []
    selector = spec.get("selector", {}).get("matchLabels")
    if selector is not None and not _selects(selector, template["metadata"]["labels"]):
        found.append("the selector does not match the pod template's labels")
    pod = template["spec"]
    containers = [*pod.get("initContainers", []), *pod["containers"]]
    container_names = [c["name"] for c in containers]
    if len(set(container_names)) != len(container_names):
        found.append(f"container names repeat: {container_names}")
    found += [f"container {n!r} is not a DNS-1123 label" for n in container_names if not is_dns_label(n)]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    templates = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    for container in containers:
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes and mount["name"] not in templates:
                found.append(f"container {container['name']} mounts {mount['name']}, which is not a volume")
        for source in container.get("envFrom", []):
            if ("ConfigMap", source["configMapRef"]["name"]) not in names:
                found.append(f"container {container['name']} reads a ConfigMap that is not there")
    for volume in volumes.values():
        found += _reference_problems(volume, names, claims)
    account = pod.get("serviceAccountName")
    if account and ("ServiceAccount", account) not in names:
        found.append(f"the service account {account} is not there")
    if workload["kind"] == "StatefulSet" and ("Service", spec["serviceName"]) not in names:
        found.append(f"the governing Service {spec['serviceName']} is not there")
    return found


def _reference_problems(volume: Manifest, names: set[tuple[str, str]], claims: set[str]) -> list[str]:
    if "persistentVolumeClaim" in volume and volume["persistentVolumeClaim"]["claimName"] not in claims:
        return [f"volume {volume['name']} uses a claim that is not there"]
    if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) not in names:
        return [f"volume {volume['name']} uses a ConfigMap that is not there"]
    if "secret" in volume and ("Secret", volume["secret"]["secretName"]) not in names:
        return [f"volume {volume['name']} uses a Secret that is not there"]
    return []
