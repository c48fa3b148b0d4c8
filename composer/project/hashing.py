"""Config hashes: one SHA-256 per service, of what forces its containers to be recreated.

The hash covers the normalised service fields (canonical JSON: sorted keys, no
whitespace) minus those that change how many containers run or when, not what
a container is: ``depends_on``, ``scale``, ``deploy.replicas``, ``profiles`` and
``pull_policy`` (Docker Compose leaves the same ones out), and what composer
changes in a running container: ``routes`` and the per-interface sysctls
(``net.ipv4.conf.IFNAME.*``, ``net.ipv6.conf.IFNAME.*``), which are resources of
their own.  ``environment``
entries without a value are resolved from the project environment first, so
that changing such a variable recreates the container as it should.

The hash covers the definitions of the secrets and configs a service mounts
(an ``environment`` source by the digest of its value), not the bytes of a
``file`` source, nor the contents of a ``rootfs`` folder or the image digest:
the image layer compares those itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from composer.project.models.links import IMPAIRMENT_FIELDS

if TYPE_CHECKING:
    from composer.project.loader import LoadedProject

EXCLUDED_FIELDS = frozenset({"depends_on", "scale", "profiles", "pull_policy", "routes"})
_SHARED_CONF = ("all", "default")  # net.ipv4.conf.all.* is not one interface's


def canonical_service(project: LoadedProject, service: str) -> dict[str, Any]:
    """The JSON-ready fields of ``service`` that the hash covers."""
    spec = project.spec.services[service]
    data = spec.model_dump(mode="json", exclude=set(EXCLUDED_FIELDS))
    data["environment"] = {
        key: project.environment.get(key) if value is None else value
        for key, value in spec.environment.items()
    }
    if isinstance(data.get("deploy"), dict):
        data["deploy"].pop("replicas", None)
    data["sysctls"] = {
        key: value for key, value in data.get("sysctls", {}).items() if not _per_interface(key)
    }
    projected = _projected(project, spec)
    if projected:  # only then: the hashes of services without secrets or configs stay what they were
        data["projected"] = projected
    for attachment in (data.get("networks") or {}).values():  # impairments change in place
        for name in IMPAIRMENT_FIELDS:
            if isinstance(attachment, dict):
                attachment.pop(name, None)
    return data


def _projected(project: LoadedProject, spec: Any) -> dict[str, Any]:
    """The definitions of the secrets and configs the service mounts, an environment source by its value.

    A changed ``content``, variable or ``file`` path recreates the container; the bytes of a
    ``file`` are not read here (like a rootfs folder's).
    """
    found: dict[str, Any] = {}
    for kind in ("secrets", "configs"):
        for use in getattr(spec, kind):
            definition = getattr(project.spec, kind).get(use.source)
            if definition is None:
                continue
            dumped = definition.model_dump(mode="json", exclude_defaults=True)
            if definition.environment is not None:
                value = project.environment.get(definition.environment, "")
                dumped["value_sha256"] = hashlib.sha256(value.encode()).hexdigest()
            found[f"{kind}.{use.source}"] = dumped
    return found


def _per_interface(key: str) -> bool:
    parts = key.split(".")
    return (
        len(parts) > 4
        and parts[0] == "net"
        and parts[1] in ("ipv4", "ipv6")
        and parts[2] == "conf"
        and parts[3] not in _SHARED_CONF
    )


def service_config_hash(project: LoadedProject, service: str) -> str:
    """SHA-256 hex of the canonical JSON of ``canonical_service``; raises KeyError for an unknown service."""
    text = json.dumps(
        canonical_service(project, service), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()
