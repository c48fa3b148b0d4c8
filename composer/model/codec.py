"""The desired state as JSON and back: what the no-op fast path stores after a successful ``up``.

The form carries a version; a stored state of another version (or one that no
longer decodes) reads as None, and the caller computes the state afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from composer.model.container import ContainerConfig
from composer.model.desired import (
    Attachment,
    Dependency,
    DesiredContainer,
    DesiredLink,
    DesiredNetwork,
    DesiredState,
    DesiredVolume,
    PublishedPort,
)
from composer.model.health import HealthCheck
from composer.model.ids import ResourceId
from composer.model.ipam import NetworkAddressing

DESIRED_VERSION = 2


def desired_to_json(desired: DesiredState) -> dict[str, Any]:
    return {
        "version": DESIRED_VERSION,
        "project": desired.project,
        "networks": [
            {**asdict(n), "addressing": n.addressing.to_dict() if n.addressing else None}
            for n in desired.networks.values()
        ],
        "containers": [asdict(c) for c in desired.containers.values()],
        "links": [asdict(link) for link in desired.links.values()],
        "volumes": [{**asdict(v), "path": str(v.path)} for v in desired.volumes.values()],
    }


def desired_from_json(raw: Mapping[str, Any]) -> DesiredState | None:
    """The stored desired state, or None when it is of another version or does not decode."""
    if raw.get("version") != DESIRED_VERSION:
        return None
    try:
        return _decode(raw)
    except (KeyError, TypeError, ValueError):
        return None


def _decode(raw: Mapping[str, Any]) -> DesiredState:
    networks = {}
    for item in raw["networks"]:
        addressing = NetworkAddressing.from_dict(item["addressing"]) if item["addressing"] else None
        networks[ResourceId(item["rid"])] = DesiredNetwork(
            **{**item, "rid": ResourceId(item["rid"]), "addressing": addressing}
        )
    containers = {ResourceId(item["rid"]): _container(item) for item in raw["containers"]}
    links = {
        ResourceId(item["rid"]): DesiredLink(**{**item, "rid": ResourceId(item["rid"]),
                                                "a_addresses": tuple(item["a_addresses"]),
                                                "b_addresses": tuple(item["b_addresses"])})
        for item in raw["links"]
    }  # fmt: skip
    volumes = {
        ResourceId(item["rid"]): DesiredVolume(
            **{**item, "rid": ResourceId(item["rid"]), "path": Path(item["path"])}
        )
        for item in raw["volumes"]
    }
    return DesiredState(raw["project"], networks, containers, links, volumes)


def _container(item: Mapping[str, Any]) -> DesiredContainer:
    health = item["health"]
    return DesiredContainer(**{
        **item,
        "rid": ResourceId(item["rid"]),
        "config": ContainerConfig.from_dict(item["config"]),
        "attachments": tuple(
            Attachment(**{**a, "addresses": tuple(a["addresses"]), "aliases": tuple(a["aliases"])})
            for a in item["attachments"]
        ),
        "routes": tuple(tuple(r) for r in item["routes"]),
        "ports": tuple(PublishedPort(**p) for p in item["ports"]),
        "depends_on": {name: Dependency(**d) for name, d in item["depends_on"].items()},
        "health": HealthCheck(**{**health, "argv": tuple(health["argv"])}) if health else None,
    })  # fmt: skip
