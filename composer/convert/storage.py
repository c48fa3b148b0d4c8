"""ConfigMaps, Secrets and PersistentVolumeClaims.

* ``SERVICE-env``: the service's environment (``environment`` and the
  ``env_file`` contents the loader merged in), read by ``envFrom``.
* ``configs:`` -> a ConfigMap per config, ``secrets:`` -> a Secret per secret,
  holding the content under one key (the name); ``content``, ``file`` and
  ``environment`` sources are all read at conversion time, as compose reads
  them at ``up``.  Content that is not UTF-8 goes in ``binaryData``.
* A named volume that no StatefulSet template makes -> a standalone claim,
  ``ReadWriteMany`` (its pods may run on several nodes), of ``--volume-size``
  unless the volume's ``driver_opts.size`` says otherwise.
"""

from __future__ import annotations

import base64
from typing import Any

from composer.convert.names import dns_label, is_label_key, is_label_value, memory_quantity
from composer.convert.options import Conversion
from composer.convert.pods import env_map_name, environment
from composer.convert.volumes import claim_name, data_key
from composer.convert.workloads import standalone_claims
from composer.model.units import parse_bytes
from composer.project.models.secret_config import ConfigSpec, SecretSpec

Manifest = dict[str, Any]


def env_maps(ctx: Conversion) -> list[Manifest]:
    result = []
    for name in sorted(ctx.spec.services):
        data, _ = environment(ctx, name, ctx.spec.services[name])
        if data:
            meta = ctx.metadata(env_map_name(name), ctx.group_of(name))
            result.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    return result


def _content(ctx: Conversion, kind: str, name: str, spec: ConfigSpec | SecretSpec) -> bytes | None:
    if isinstance(spec, ConfigSpec) and spec.content is not None:
        return spec.content.encode()
    if spec.environment is not None:
        if spec.environment not in ctx.environment:
            ctx.findings.add(f"{kind}.{name}.environment", f"the variable {spec.environment} is not set")
            return None
        return ctx.environment[spec.environment].encode()
    assert spec.file is not None
    try:
        return ctx.read_file(spec.file)
    except OSError as error:
        ctx.findings.add(f"{kind}.{name}.file", f"cannot read {spec.file}: {error.strerror or error}")
        return None


def _user_labels(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(labels.items()) if is_label_key(k) and is_label_value(v)}


def file_objects(ctx: Conversion) -> list[Manifest]:
    """One ConfigMap per config, one Secret per secret, that some service mounts."""
    used = {
        (kind, entry.source)
        for service in ctx.spec.services.values()
        for kind, entries in (("configs", service.configs), ("secrets", service.secrets))
        for entry in entries
    }
    result = []
    for kind, declared in (("configs", ctx.spec.configs), ("secrets", ctx.spec.secrets)):
        for name in sorted(declared):
            if (kind, name) not in used:
                continue
            content = _content(ctx, kind, name, declared[name])
            if content is None:
                continue
            meta = ctx.metadata(dns_label(name))
            meta["labels"] = {**_user_labels(declared[name].labels), **meta["labels"]}  # type: ignore[dict-item]
            result.append(_file_object(kind, meta, data_key(name), content))
    return result


def _file_object(kind: str, meta: Manifest, key: str, content: bytes) -> Manifest:
    if kind == "secrets":
        data = {key: base64.b64encode(content).decode()}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": data}
    try:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {key: content.decode()}}
    except UnicodeDecodeError:
        binary = {key: base64.b64encode(content).decode()}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "binaryData": binary}


def volume_size(ctx: Conversion, volume: str) -> str:
    declared = ctx.spec.volumes.get(volume)
    size = declared.driver_opts.get("size") if declared is not None else None
    if not size:
        return ctx.options.volume_size
    try:
        return memory_quantity(parse_bytes(size))
    except ValueError:
        path = f"volumes.{volume}.driver_opts.size"
        ctx.findings.add(path, f"{size!r} is not a size: --volume-size is used")
        return ctx.options.volume_size


def claim_spec(ctx: Conversion, volume: str, access: str) -> Manifest:
    return {"accessModes": [access], "resources": {"requests": {"storage": volume_size(ctx, volume)}}}


def claims(ctx: Conversion) -> list[Manifest]:
    result = []
    for volume in standalone_claims(ctx.spec, ctx.groups):
        meta = ctx.metadata(claim_name(ctx, volume))
        meta["labels"] = {**_user_labels(ctx.spec.volumes[volume].labels), **meta["labels"]}  # type: ignore[dict-item]
        spec = claim_spec(ctx, volume, "ReadWriteMany")
        result.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec})
    return result
