"""A pod's volumes and each container's mounts.

==========================  ===================================================
compose                      pod volume
==========================  ===================================================
named volume, one user pod   a StatefulSet ``volumeClaimTemplates`` entry
named volume, several pods   a ``persistentVolumeClaim`` of a standalone claim
external volume              a claim of that name, expected to exist
anonymous volume             ``emptyDir`` (lives with the pod, as with the container)
``tmpfs``                    ``emptyDir`` with ``medium: Memory`` and its size
``shm_size``                 the same, mounted on ``/dev/shm``
secrets, configs             the Secret or ConfigMap, one file by ``subPath``
bind mount                   none: a host folder has no meaning on a cluster
==========================  ===================================================
"""

from __future__ import annotations

from typing import Any

from composer.convert.names import dns_label, is_config_key, memory_quantity
from composer.convert.options import Conversion
from composer.convert.workloads import PodGroup
from composer.model.units import parse_bytes
from composer.project.models import ServiceSpec

Manifest = dict[str, Any]
Mount = tuple[str, Manifest | None, Manifest]  # (pod volume name, its source or None for a template, mount)


def claim_name(ctx: Conversion, volume: str) -> str:
    declared = ctx.spec.volumes.get(volume)
    if declared is not None and declared.external:
        return declared.name or volume  # the user's existing claim, by its own name
    return dns_label(volume)


def data_key(name: str) -> str:
    """The key of a secret's or config's content in its Secret or ConfigMap."""
    return name if is_config_key(name) else dns_label(name)


def _mount_name(prefix: str, target: str) -> str:
    return dns_label(f"{prefix}-{target.strip('/').replace('/', '-') or 'root'}")


def _tmpfs(path: str, options: str) -> tuple[str, Manifest]:
    source: Manifest = {"medium": "Memory"}
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key == "size" and value:
            source["sizeLimit"] = memory_quantity(parse_bytes(value))
    return path, source


def _service_mounts(ctx: Conversion, name: str, service: ServiceSpec, group: PodGroup) -> list[Mount]:
    found: list[Mount] = []
    for index, volume in enumerate(service.volumes):
        path = f"services.{name}.volumes.{index}"
        mount: Manifest = {"mountPath": volume.target}
        if volume.read_only:
            mount["readOnly"] = True
        if volume.volume is not None and volume.volume.subpath:
            mount["subPath"] = volume.volume.subpath
        if volume.type == "volume" and volume.source:
            pod_name = dns_label(volume.source)
            claim = {"persistentVolumeClaim": {"claimName": claim_name(ctx, volume.source)}}
            found.append(
                (pod_name, None if volume.source in group.claims else claim, {"name": pod_name, **mount})
            )
        elif volume.type == "volume":
            pod_name = _mount_name("anonymous", volume.target)
            found.append((pod_name, {"emptyDir": {}}, {"name": pod_name, **mount}))
        elif volume.type == "tmpfs":
            size = volume.tmpfs.size if volume.tmpfs else None
            memory: Manifest = {"medium": "Memory", **({"sizeLimit": memory_quantity(size)} if size else {})}
            pod_name = _mount_name("tmpfs", volume.target)
            found.append((pod_name, {"emptyDir": memory}, {"name": pod_name, **mount}))
        elif volume.type == "bind":
            ctx.findings.add(
                path,
                f"a bind mount of the host folder {volume.source} has no meaning on a cluster: left out",
                "put the files in the image, a ConfigMap (configs:) or a volume",
            )
        else:
            ctx.findings.add(path, f"a {volume.type} mount has no Kubernetes counterpart: left out")
    for entry in service.tmpfs:
        target, _, options = entry.partition(":")
        target, source = _tmpfs(target, options)
        pod_name = _mount_name("tmpfs", target)
        found.append((pod_name, {"emptyDir": source}, {"name": pod_name, "mountPath": target}))
    if service.shm_size:
        shm = {"medium": "Memory", "sizeLimit": memory_quantity(service.shm_size)}
        found.append(("dshm", {"emptyDir": shm}, {"name": "dshm", "mountPath": "/dev/shm"}))
    found += _file_mounts(ctx, name, service)
    return found


def _file_mounts(ctx: Conversion, name: str, service: ServiceSpec) -> list[Mount]:
    found: list[Mount] = []
    kinds = (("secret", service.secrets, "/run/secrets"), ("config", service.configs, ""))
    for kind, entries, folder in kinds:
        for index, entry in enumerate(entries):
            if entry.uid or entry.gid:
                ctx.findings.add(
                    f"services.{name}.{kind}s.{index}",
                    "a mounted file belongs to the pod's user: uid and gid are dropped",
                    "set the pod's fsGroup after converting",
                )
            key = data_key(entry.source)
            item: Manifest = {"key": key, "path": key}
            if entry.mode is not None:
                item["mode"] = entry.mode
            pod_name = dns_label(f"{kind}-{entry.source}")
            if kind == "secret":
                source: Manifest = {"secret": {"secretName": dns_label(entry.source), "items": [item]}}
            else:
                source = {"configMap": {"name": dns_label(entry.source), "items": [item]}}
            target = entry.path(folder) if folder else (entry.target or f"/{entry.source}")
            mount = {"name": pod_name, "mountPath": target, "subPath": key, "readOnly": True}
            found.append((pod_name, source, mount))
    return found


def mounts(ctx: Conversion, name: str, service: ServiceSpec, group: PodGroup) -> list[Manifest]:
    """The container's ``volumeMounts``, in the order of the file (one per target)."""
    result: dict[str, Manifest] = {}
    for _, _, mount in _service_mounts(ctx, name, service, group):
        result[mount["mountPath"]] = mount  # a later mount on the same target wins, as in Docker
    return list(result.values())


def pod_volumes(ctx: Conversion, group: PodGroup) -> list[Manifest]:
    """The pod's ``volumes``: each one once, by name (templates of a StatefulSet are not listed)."""
    found: dict[str, Manifest] = {}
    for name in group.services:
        for pod_name, source, _ in _service_mounts(ctx, name, ctx.spec.services[name], group):
            if source is not None:
                found[pod_name] = {"name": pod_name, **source}
    return [found[key] for key in sorted(found)]
