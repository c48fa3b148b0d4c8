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
    DesiredInterface,
    DesiredLink,
    DesiredNetwork,
    DesiredRoute,
    DesiredState,
    DesiredVolume,
    OutsideEnd,
    PublishedPort,
    Tunnel,
)
from composer.model.health import HealthCheck
from composer.model.ids import ResourceId
from composer.model.ipam import NetworkAddressing

DESIRED_VERSION = 4


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
        "interfaces": [asdict(i) for i in desired.interfaces.values()],
        "routes": [asdict(r) for r in desired.routes.values()],
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
    links = {ResourceId(item["rid"]): _link(item) for item in raw["links"]}
    volumes = {
        ResourceId(item["rid"]): DesiredVolume(
            **{**item, "rid": ResourceId(item["rid"]), "path": Path(item["path"])}
        )
        for item in raw["volumes"]
    }
    interfaces = {
        ResourceId(item["rid"]): DesiredInterface(**{
            **item, "rid": ResourceId(item["rid"]), "carrier": ResourceId(item["carrier"]),
            "addresses": tuple(item["addresses"]), "sysctls": tuple(tuple(s) for s in item["sysctls"]),
        })
        for item in raw["interfaces"]
    }  # fmt: skip
    routes = {
        ResourceId(item["rid"]): DesiredRoute(**{**item, "rid": ResourceId(item["rid"]),
                                                 "carrier": ResourceId(item["carrier"])})
        for item in raw["routes"]
    }  # fmt: skip
    return DesiredState(raw["project"], networks, containers, links, volumes, interfaces, routes)


def _link(item: Mapping[str, Any]) -> DesiredLink:
    tunnel, outside = item.get("tunnel"), item.get("outside")
    return DesiredLink(**{
        **item, "rid": ResourceId(item["rid"]),
        "tunnel": Tunnel(**tunnel) if tunnel else None, "outside": OutsideEnd(**outside) if outside else None,
    })  # fmt: skip


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
        "ports": tuple(PublishedPort(**p) for p in item["ports"]),
        "depends_on": {name: Dependency(**d) for name, d in item["depends_on"].items()},
        "health": HealthCheck(**{**health, "argv": tuple(health["argv"])}) if health else None,
    })  # fmt: skip
