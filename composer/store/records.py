"""The typed records of the state store, one per resource kind, and their versioned JSON codec.

A record names the host objects a resource owns (a bridge, a netns path, veth
names, cgroup folders), so that the next command can finish or undo what a
killed one left, finding every object by its recorded name.  Each record is a
frozen dataclass; the codec below is the only code that turns one into JSON
and back, so a renamed field is a type error here rather than a record that
silently stops matching on disk.

Versions:

* 2 (this one): a record is ``{"kind": ..., <fields>}``; the container's
  sandbox (netns, veths, cgroup folders) is a nested object.
* 1 (composer 0.1): the same fields as a flat ``data`` object per resource,
  merged from the journal's lines.  Read and converted on load; never written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

from composer.errors import StateError
from composer.model.ids import Kind, ResourceId
from composer.model.ipam import NetworkAddressing

SCHEMA_VERSION = 2
LEGACY_VERSION = 1
Phase = Literal["creating", "created", "removing"]


@dataclass(frozen=True)
class NetworkRecord:
    bridge: str
    external: bool
    subnets: tuple[str, ...] = ()
    addressing: NetworkAddressing | None = None


@dataclass(frozen=True)
class VolumeRecord:
    path: str


@dataclass(frozen=True)
class PortRecord:
    host_ip: str
    host_port: int
    target: int
    protocol: str


@dataclass(frozen=True)
class SandboxRecord:
    """The host objects that make a container's sandbox; ``cgroup_paths`` once the cgroup exists."""

    netns: str  # "" when the container uses the host's network
    owns_netns: bool
    netns_owner: str  # the container whose netns it joins (network_mode: service:), else ""
    veths: tuple[str, ...] = ()
    cgroup_paths: Mapping[str, str] = field(default_factory=dict)  # controller (or "unified") -> folder


@dataclass(frozen=True)
class ContainerRecord:
    service: str
    number: int
    image_id: str
    folder: str
    sandbox: SandboxRecord
    depends_on: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # network -> CIDRs
    ports: tuple[PortRecord, ...] = ()
    oneoff: bool = False  # made by `composer run`: up leaves it alone, down removes it

    def with_cgroups(self, paths: Mapping[str, str]) -> ContainerRecord:
        return replace(self, sandbox=replace(self.sandbox, cgroup_paths=dict(paths)))


@dataclass(frozen=True)
class LinkRecord:
    """A link's ends; an empty ``b_netns`` is a one-ended link (a tunnel, a host end, a macvlan).

    ``host_ifname`` is a veth end composer made in the host's namespace under a
    name the file chose: it is removed only while it carries ``alias`` (composer's
    marker of this project and link), so a user's interface of that name is never
    touched.  ``temp_names`` are composer-prefixed names an interrupted run may
    have left in the host's namespace.
    """

    temp_names: tuple[str, ...]
    a_netns: str
    b_netns: str
    a_ifname: str
    b_ifname: str
    host_ifname: str = ""
    alias: str = ""


@dataclass(frozen=True)
class FirewallRecord:
    project: str


@dataclass(frozen=True)
class RouteRecord:
    """A route composer added in a container (so that it can take it out when the file drops it)."""

    container: str
    netns: str
    destination: str
    gateway: str
    device: str


Record = NetworkRecord | VolumeRecord | ContainerRecord | LinkRecord | FirewallRecord | RouteRecord
R = TypeVar("R", NetworkRecord, VolumeRecord, ContainerRecord, LinkRecord, FirewallRecord, RouteRecord)

RECORD_TYPES: Mapping[Kind, type[Record]] = {
    "network": NetworkRecord,
    "volume": VolumeRecord,
    "container": ContainerRecord,
    "link": LinkRecord,
    "firewall": FirewallRecord,
    "route": RouteRecord,
}


@dataclass(frozen=True)
class Stored(Generic[R]):
    """A record as the store holds it: its resource, phase and config hash."""

    rid: ResourceId
    phase: Phase
    config_hash: str
    record: R

    @property
    def complete(self) -> bool:
        return self.phase == "created"


@dataclass(frozen=True)
class ProjectMeta:
    """Facts about the project as a whole: its address plan (kept between runs) and its files."""

    addressing: Mapping[str, NetworkAddressing] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    host: str = ""  # of a lab split across hosts: the part this machine made ("" the whole project)


# --------------------------------------------------------------------------- encoding


def encode_record(record: Record) -> dict[str, Any]:
    match record:
        case NetworkRecord():
            return {
                "kind": "network",
                "bridge": record.bridge,
                "external": record.external,
                "subnets": list(record.subnets),
                "addressing": record.addressing.to_dict() if record.addressing else None,
            }
        case VolumeRecord():
            return {"kind": "volume", "path": record.path}
        case ContainerRecord():
            return _encode_container(record)
        case LinkRecord():
            return {
                "kind": "link",
                "temp_names": list(record.temp_names),
                "a_netns": record.a_netns,
                "b_netns": record.b_netns,
                "a_ifname": record.a_ifname,
                "b_ifname": record.b_ifname,
                **({"host_ifname": record.host_ifname, "alias": record.alias} if record.host_ifname else {}),
            }
        case FirewallRecord():
            return {"kind": "firewall", "project": record.project}
        case RouteRecord():
            return {
                "kind": "route",
                "container": record.container,
                "netns": record.netns,
                "destination": record.destination,
                "gateway": record.gateway,
                "device": record.device,
            }


def _encode_container(record: ContainerRecord) -> dict[str, Any]:
    sandbox = record.sandbox
    return {
        "kind": "container",
        "service": record.service,
        "number": record.number,
        "image_id": record.image_id,
        "folder": record.folder,
        "sandbox": {
            "netns": sandbox.netns,
            "owns_netns": sandbox.owns_netns,
            "netns_owner": sandbox.netns_owner,
            "veths": list(sandbox.veths),
            "cgroup_paths": dict(sorted(sandbox.cgroup_paths.items())),
        },
        "depends_on": list(record.depends_on),
        "networks": list(record.networks),
        "addresses": {net: list(cidrs) for net, cidrs in sorted(record.addresses.items())},
        "ports": [
            {"host_ip": p.host_ip, "host_port": p.host_port, "target": p.target, "protocol": p.protocol}
            for p in record.ports
        ],
        **({"oneoff": True} if record.oneoff else {}),  # absent for service containers: older readers
    }


def encode_meta(meta: ProjectMeta) -> dict[str, Any]:
    return {
        "addressing": {name: plan.to_dict() for name, plan in sorted(meta.addressing.items())},
        "files": list(meta.files),
        **({"host": meta.host} if meta.host else {}),
    }


# --------------------------------------------------------------------------- decoding


def decode_record(kind: Kind, raw: Mapping[str, Any], *, version: int = SCHEMA_VERSION) -> Record:
    """The record of ``kind`` from its JSON form of schema ``version``; KeyError/TypeError when malformed."""
    if version == LEGACY_VERSION:
        return _decode_v1(kind, raw)
    if version != SCHEMA_VERSION:
        raise ValueError(f"unknown record version {version}")
    if raw.get("kind") != kind:
        raise ValueError(f"a {raw.get('kind')!r} record where a {kind} record was expected")
    match kind:
        case "network":
            addressing = raw["addressing"]
            return NetworkRecord(
                bridge=str(raw["bridge"]),
                external=bool(raw["external"]),
                subnets=tuple(raw["subnets"]),
                addressing=NetworkAddressing.from_dict(addressing) if addressing else None,
            )
        case "volume":
            return VolumeRecord(path=str(raw["path"]))
        case "container":
            return _decode_container(raw)
        case "link":
            return LinkRecord(
                temp_names=tuple(raw["temp_names"]),
                a_netns=str(raw["a_netns"]),
                b_netns=str(raw["b_netns"]),
                a_ifname=str(raw["a_ifname"]),
                b_ifname=str(raw["b_ifname"]),
                host_ifname=str(raw.get("host_ifname", "")),
                alias=str(raw.get("alias", "")),
            )
        case "firewall":
            return FirewallRecord(project=str(raw["project"]))
        case "route":
            return RouteRecord(
                container=str(raw["container"]),
                netns=str(raw["netns"]),
                destination=str(raw["destination"]),
                gateway=str(raw["gateway"]),
                device=str(raw["device"]),
            )
        case "interface":
            raise ValueError("interfaces are not stored: what the kernel shows of them is observed")


def _decode_container(raw: Mapping[str, Any]) -> ContainerRecord:
    sandbox = raw["sandbox"]
    return ContainerRecord(
        service=str(raw["service"]),
        number=int(raw["number"]),
        image_id=str(raw["image_id"]),
        folder=str(raw["folder"]),
        sandbox=SandboxRecord(
            netns=str(sandbox["netns"]),
            owns_netns=bool(sandbox["owns_netns"]),
            netns_owner=str(sandbox["netns_owner"]),
            veths=tuple(sandbox["veths"]),
            cgroup_paths={str(k): str(v) for k, v in sandbox["cgroup_paths"].items()},
        ),
        depends_on=tuple(raw["depends_on"]),
        networks=tuple(raw["networks"]),
        addresses={str(net): tuple(cidrs) for net, cidrs in raw["addresses"].items()},
        ports=tuple(_decode_port(p) for p in raw["ports"]),
        oneoff=bool(raw.get("oneoff", False)),
    )


def _decode_port(raw: Mapping[str, Any]) -> PortRecord:
    return PortRecord(str(raw["host_ip"]), int(raw["host_port"]), int(raw["target"]), str(raw["protocol"]))


def _decode_v1(kind: Kind, data: Mapping[str, Any]) -> Record:
    """composer 0.1's flat ``data`` objects (an interrupted intent may lack the later facts)."""
    match kind:
        case "network":
            addressing = data.get("addressing")
            return NetworkRecord(
                bridge=str(data.get("bridge", "")),
                external=bool(data.get("external", False)),
                subnets=tuple(data.get("subnets", ())),
                addressing=NetworkAddressing.from_dict(addressing) if addressing else None,
            )
        case "volume":
            return VolumeRecord(path=str(data.get("path", "")))
        case "container":
            return ContainerRecord(
                service=str(data.get("service", "")),
                number=int(data.get("number", 0)),
                image_id=str(data.get("image_id", "")),
                folder=str(data.get("dir", "")),
                sandbox=SandboxRecord(
                    netns=str(data.get("netns") or ""),
                    owns_netns=bool(data.get("owns_netns", False)),
                    netns_owner=str(data.get("netns_owner", "")),
                    veths=tuple(data.get("veths", ())),
                    cgroup_paths=dict(data.get("cgroup_paths") or {}),
                ),
                depends_on=tuple(data.get("depends_on", ())),
                networks=tuple(data.get("networks", ())),
                addresses={net: tuple(cidrs) for net, cidrs in (data.get("addresses") or {}).items()},
                ports=tuple(_decode_port(p) for p in data.get("ports", ())),
            )
        case "link":
            return LinkRecord(
                temp_names=tuple(data.get("temp_names", ())),
                a_netns=str(data.get("a_netns", "")),
                b_netns=str(data.get("b_netns", "")),
                a_ifname=str(data.get("a_ifname", "")),
                b_ifname=str(data.get("b_ifname", "")),
            )
        case "firewall":
            return FirewallRecord(project=str(data.get("project", "")))
        case "route" | "interface":
            raise ValueError(f"composer 0.1 stored no {kind} records")


def decode_meta(raw: Mapping[str, Any], *, version: int = SCHEMA_VERSION) -> ProjectMeta:
    addressing = {
        str(name): NetworkAddressing.from_dict(plan) for name, plan in (raw.get("addressing") or {}).items()
    }
    files = raw.get("files") or ()
    if version == LEGACY_VERSION and isinstance(files, str):
        files = [f for f in files.split(",") if f]  # 0.1 joined them with commas
    return ProjectMeta(
        addressing=addressing, files=tuple(str(f) for f in files), host=str(raw.get("host") or "")
    )


def decode_stored(
    rid: ResourceId, phase: str, config_hash: str, raw: Mapping[str, Any], *, version: int, where: str
) -> Stored[Any]:
    """A stored record, or StateError naming ``where`` (the file) when it cannot be read."""
    if phase not in ("creating", "created", "removing"):
        raise StateError(f"{where}: {rid} has an unknown phase {phase!r}")
    try:
        record = decode_record(rid.kind, raw, version=version)
    except (KeyError, TypeError, ValueError) as error:
        raise StateError(
            f"{where}: the record of {rid} cannot be read ({type(error).__name__}: {error})",
            hint="the state was written by another composer version: run `composer down` with that version",
        ) from error
    return Stored(rid, phase, config_hash, record)  # type: ignore[arg-type]
