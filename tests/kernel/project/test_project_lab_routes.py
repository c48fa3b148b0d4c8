"""A routed lab stays routed through every kind of change, on the real kernel.

Table-driven: each change is applied with ``up`` (or the verb), then the whole
reachability matrix of the lab is checked (every router pings every link address of
every other router, through the routes the file declares) and every router's
route table is compared with exactly what the file declares: the connected
prefixes of its interfaces plus its ``routes:``.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.lab import BUSYBOX, Lab, project_leftovers

pytestmark = pytest.mark.kernel

LAB = """\
name: routed
x-router: &router
  rootfs: ROOTFS
  network_mode: none
  command: [sleep, infinity]
  sysctls: {net.ipv4.ip_forward: 1}
services:
  r1:
    <<: *router
    routes: [{to: 10.0.23.0/30, via: 10.0.12.2}]
  r2: *router
  r3:
    <<: *router
    routes: ["10.0.12.0/30 via 10.0.23.1"]
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/30, 10.0.12.2/30]
  - endpoints: [r2:eth2, r3:eth1]
    ipv4: [10.0.23.1/30, 10.0.23.2/30]
"""


@dataclass(frozen=True)
class Change:
    name: str
    apply: Callable[[Lab, Path], None]


def _edit(old: str, new: str) -> Callable[[Lab, Path], None]:
    def apply(lab: Lab, path: Path) -> None:
        path.write_text(path.read_text().replace(old, new, 1))
        lab.composer("up", "-d", "--progress", "quiet")

    return apply


def _edits(*pairs: tuple[str, str]) -> Callable[[Lab, Path], None]:
    def apply(lab: Lab, path: Path) -> None:
        text = path.read_text()
        for old, new in pairs:
            text = text.replace(old, new, 1)
        path.write_text(text)
        lab.composer("up", "-d", "--progress", "quiet")

    return apply


def _restart(service: str) -> Callable[[Lab, Path], None]:
    def apply(lab: Lab, _path: Path) -> None:
        lab.composer("restart", "-t", "1", service)

    return apply


def _delete_route(container: str, destination: str) -> Callable[[Lab, Path], None]:
    def apply(lab: Lab, path: Path) -> None:
        _in(lab, container, "ip", "route", "del", destination)
        assert all(route[0] != destination for route in _routes(lab, container))
        lab.composer("up", "-d", "--progress", "quiet")

    return apply


def _attachment_out_and_in(lab: Lab, path: Path) -> None:
    text = path.read_text()
    r2 = "  r2:\n    rootfs: ROOTFS\n    command: [sleep, infinity]\n    sysctls: {net.ipv4.ip_forward: 1}\n"
    attached = text.replace(
        "  r2: *router\n", r2.replace("ROOTFS", str(lab.rootfs)) + "    networks: [mgmt]\n"
    )
    attached += "networks:\n  mgmt: {ipam: {config: [{subnet: 10.99.0.0/24}]}}\n"
    for version in (attached, text, attached):
        path.write_text(version)
        lab.composer("up", "-d", "--progress", "quiet", "--remove-orphans")


CHANGES = [
    Change("nothing", lambda lab, path: lab.composer("up", "-d", "--progress", "quiet") and None),
    Change("link rate", _edit("    ipv4: [10.0.12.1/30, 10.0.12.2/30]\n", "    ipv4: [10.0.12.1/30, 10.0.12.2/30]\n    rate: 20mbit\n")),
    Change("link mtu", _edit("    ipv4: [10.0.23.1/30, 10.0.23.2/30]\n", "    ipv4: [10.0.23.1/30, 10.0.23.2/30]\n    mtu: 1400\n")),
    Change("link addresses", _edits(("[10.0.23.1/30, 10.0.23.2/30]", "[10.0.34.1/30, 10.0.34.2/30]"),
                                    ("to: 10.0.23.0/30", "to: 10.0.34.0/30"), ("via 10.0.23.1", "via 10.0.34.1"))),
    Change("link ends", _edit("endpoints: [r1:eth1, r2:eth1]", "endpoints: [r1:eth5, r2:eth1]")),
    Change("recreate r2", _edit("  r2: *router\n", "  r2:\n    <<: *router\n    hostname: middle\n")),
    Change("restart r2", _restart("r2")),
    Change("route deleted by hand", _delete_route("routed-r1-1", "10.0.23.0/30")),
    Change("attachment removed and added", _attachment_out_and_in),
]  # fmt: skip


def _netns(lab: Lab, container: str) -> str:
    project = container.split("-")[0]
    return str(lab.root / "projects" / project / "netns" / container)


def _in(lab: Lab, container: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={_netns(lab, container)}", *argv], capture_output=True,
                          text=True, timeout=20, check=False)  # fmt: skip


def _routes(lab: Lab, container: str) -> set[tuple[str, str, str]]:
    out = _in(lab, container, "ip", "-j", "-4", "route", "show").stdout
    return {(r["dst"], r.get("gateway", ""), r["dev"]) for r in json.loads(out or "[]")}


def _declared(path: Path) -> dict[str, set[tuple[str, str, str]]]:
    """What the file declares each router's table holds: connected prefixes and routes."""
    import yaml

    spec = yaml.safe_load(path.read_text().replace("*router", "{}").replace("<<: ", "x: "))
    project = spec["name"]
    tables: dict[str, set[tuple[str, str, str]]] = {f"{project}-{s}-1": set() for s in spec["services"]}
    interfaces: dict[str, list[tuple[str, str]]] = {name: [] for name in tables}
    for link in spec["links"]:
        for end, cidr in zip(link["endpoints"], link["ipv4"], strict=True):
            service, ifname = end.split(":")
            container = f"{project}-{service}-1"
            net = str(ipaddress.ip_interface(cidr).network)
            tables[container].add((net, "", ifname))
            interfaces[container].append((net, ifname))
    for service, body in spec["services"].items():
        container = f"{project}-{service}-1"
        if body and body.get("networks"):
            tables[container].add(("10.99.0.0/24", "", "eth0"))
            tables[container].add(("default", "10.99.0.1", "eth0"))
            interfaces[container].append(("10.99.0.0/24", "eth0"))
        for route in (body or {}).get("routes", []):
            to, via = (route["to"], route["via"]) if isinstance(route, dict) else route.split(" via ")
            dev = next(ifname for net, ifname in interfaces[container]
                       if ipaddress.ip_address(via) in ipaddress.ip_network(net))  # fmt: skip
            tables[container].add((to, via, dev))
    return tables


def _ring(lab: Lab) -> Path:
    text = (Path(__file__).resolve().parents[3] / "examples" / "ring20" / "compose.yaml").read_text()
    return lab.write(text.replace("../rootfs/busybox", str(lab.rootfs)))


def _one_address_each(lab: Lab, routers: list[str]) -> list[str]:
    failures = []
    targets = {target: _addresses(lab, target)[0] for target in routers}
    for source in routers:
        for target, address in targets.items():
            if (
                target != source
                and _in(lab, source, BUSYBOX, "ping", "-c", "1", "-W", "1", address).returncode
            ):
                failures.append(f"{source} -> {address} ({target})")
    return failures


RING_CHANGES = [
    Change("link rate", _edit("    ipv4: [10.0.5.1/30, 10.0.5.2/30]\n", "    ipv4: [10.0.5.1/30, 10.0.5.2/30]\n    rate: 50mbit\n")),
    Change("recreate r10", _edit("    hostname: r10\n", "    hostname: ten\n")),
    Change("restart r10", _restart("r10")),
    Change("default route deleted by hand", _delete_route("ring20-r15-1", "default")),
]  # fmt: skip


@pytest.mark.parametrize("change", RING_CHANGES, ids=[c.name for c in RING_CHANGES])
def test_every_change_keeps_the_ring_routed(lab: Lab, change: Change) -> None:
    path = _ring(lab)
    lab.composer("up", "-d", "--progress", "quiet")
    if change.name == "link rate":  # an edit of one link touches nothing but that link's ends
        edited = path.read_text().replace("    ipv4: [10.0.5.1/30, 10.0.5.2/30]\n",
                                          "    ipv4: [10.0.5.1/30, 10.0.5.2/30]\n    rate: 50mbit\n")  # fmt: skip
        path.write_text(edited)
        assert lab.composer("up", "--dry-run").stdout == (
            "update         link:r05:eth1--r06:eth2                  rate none -> 50mbit\n"
        )
        path.write_text(edited.replace("    rate: 50mbit\n", "", 1))
    change.apply(lab, path)
    routers = sorted(_declared(path))
    for container, expected in _declared(path).items():
        assert _routes(lab, container) == expected, f"{change.name}: {container}"
    assert _one_address_each(lab, routers) == [], change.name
    assert lab.composer("up", "--dry-run").stdout == "nothing to do: the host matches the project\n"
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "ring20") == []


def _addresses(lab: Lab, container: str) -> list[str]:
    out = _in(lab, container, "ip", "-j", "-4", "addr", "show").stdout
    # The lab's own addresses: a management network is not routed between the routers.
    return [a["local"] for link in json.loads(out) for a in link.get("addr_info", [])
            if a["local"] != "127.0.0.1" and not a["local"].startswith("10.99.")]  # fmt: skip


def _unreachable(lab: Lab, routers: list[str]) -> list[str]:
    failures = []
    for source in routers:
        for target in routers:
            if target == source:
                continue
            for address in _addresses(lab, target):
                if _in(lab, source, BUSYBOX, "ping", "-c", "1", "-W", "1", address).returncode != 0:
                    failures.append(f"{source} -> {address} ({target})")
    return failures


@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
def test_every_change_keeps_the_lab_routed(lab: Lab, change: Change) -> None:
    path = lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    before = {row["Name"]: row["Pid"] for row in lab.ps("routed")}
    change.apply(lab, path)
    routers = sorted(_declared(path))
    for container, expected in _declared(path).items():
        assert _routes(lab, container) == expected, f"{change.name}: {container}"
    assert _unreachable(lab, routers) == [], change.name
    assert lab.composer("up", "--dry-run").stdout == "nothing to do: the host matches the project\n"
    after = {row["Name"]: row["Pid"] for row in lab.ps("routed")}
    if change.name in (
        "nothing",
        "link rate",
        "link mtu",
        "link addresses",
        "link ends",
        "route deleted by hand",
    ):
        assert after == before, f"{change.name} restarted a container"
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "routed") == []
