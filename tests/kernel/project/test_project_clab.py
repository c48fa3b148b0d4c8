"""containerlab topology files, read unchanged, brought up and checked, on the real kernel.

The corpus in tests/kernel/project/clab/ is written from containerlab's
documented format (kind linux nodes; FRR-style routers replaced by busybox with
static routes set by ``exec``).  The image is busybox, built offline and pushed
to a registry that runs inside the test's network namespace.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import Pusher, build_image, tar_tree
from tests.support.lab import Lab, project_leftovers
from tests.support.registry import start_registry

pytestmark = [pytest.mark.kernel, pytest.mark.registry]

CORPUS = Path(__file__).parent / "clab"
CONFIG = {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]}


def _in(lab: Lab, container: str, *argv: str, project: str = "lb-clab") -> subprocess.CompletedProcess[str]:
    netns = lab.root / "projects" / project / "netns" / container
    return subprocess.run(["nsenter", f"--net={netns}", *argv], capture_output=True, text=True, timeout=20,
                          check=False)  # fmt: skip


def test_a_line_of_three_routers_from_a_clab_file(lab: Lab, busybox_rootfs: Path) -> None:
    registry = start_registry(lab.folder / "registry")  # started inside the test's network namespace
    try:
        with Pusher(registry.url) as pusher:
            pusher.push_image("lab/busybox", "1", build_image([tar_tree(busybox_rootfs)], CONFIG))
        text = (CORPUS / "line.clab.yml").read_text().replace("IMAGE", f"{registry.host}/lab/busybox:1")
        path = lab.folder / "line.clab.yml"
        path.write_text(text)
        lab.composer("-f", str(path), "up", "-d", "--progress", "quiet", timeout=180)
        rows = {row["Name"]: row for row in lab.ps("lb-clab")}
        assert sorted(rows) == ["clab-lb-clab-r1", "clab-lb-clab-r2", "clab-lb-clab-r3"]
        assert all(row["State"] == "running" for row in rows.values())
        ping = lab.exec("lb-clab", "r1", "ping", "-c", "1", "-W", "2", "10.0.23.2")
        assert ping.returncode == 0, ping.stdout + ping.stderr  # through r2, routed by exec's routes
        env = lab.exec("lb-clab", "r2", "sh", "-c", "echo $CLAB_INTFS $ROLE").stdout.split()
        assert env == ["2", "transit"]
        links = {
            link["ifname"]: link
            for link in json.loads(_in(lab, "clab-lb-clab-r2", "ip", "-j", "link").stdout)
        }
        assert (links["eth1"]["mtu"], links["eth2"]["mtu"]) == (9500, 1500)  # containerlab's default MTU
        mgmt = json.loads(_in(lab, "clab-lb-clab-r1", "ip", "-j", "-4", "addr", "show", "eth0").stdout)
        assert [a["local"] for a in mgmt[0]["addr_info"]] == ["172.20.20.11"]
        assert lab.composer("-f", str(path), "up", "--dry-run").stdout.startswith("nothing to do")
        data = json.loads((lab.folder / "clab-lb-clab" / "topology-data.json").read_text())
        assert (data["name"], data["type"], list(data["nodes"])) == ("lb-clab", "clab", ["r1", "r2", "r3"])
        assert data["nodes"]["r1"]["mgmt-ipv4-address"] == "172.20.20.11"
        assert data["nodes"]["r2"]["mgmt-ipv4-address"].startswith("172.20.20.")  # as IPAM gave it
        assert (lab.folder / "clab-lb-clab" / "r2").is_dir()
        lab.composer("-f", str(path), "down", "-t", "1")
        assert not (lab.folder / "clab-lb-clab").exists()  # down removes the lab directory
        assert project_leftovers(lab.root, "lb-clab") == []
    finally:
        registry.stop()


def _status(lab: Lab, project: str, name: str) -> dict[str, object]:
    path = lab.root / "projects" / project / "containers" / name / "status.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_a_node_waits_for_another_nodes_health(lab: Lab, busybox_rootfs: Path) -> None:
    registry = start_registry(lab.folder / "registry")
    try:
        with Pusher(registry.url) as pusher:
            pusher.push_image("lab/busybox", "1", build_image([tar_tree(busybox_rootfs)], CONFIG))
        text = (CORPUS / "waits.clab.yml").read_text().replace("IMAGE", f"{registry.host}/lab/busybox:1")
        path = lab.folder / "waits.clab.yml"
        path.write_text(text)
        lab.composer("-f", str(path), "up", "-d", "--progress", "quiet", timeout=180)
        db, app = (_status(lab, "cl-waits", f"clab-cl-waits-{n}") for n in ("db", "app"))
        assert db["health"] == "healthy"  # up held app back until then
        assert float(app["started_at"]) >= float(db["started_at"]) + 2.0  # type: ignore[arg-type]
        lab.composer("-f", str(path), "down", "-t", "1")
        assert project_leftovers(lab.root, "cl-waits") == []
    finally:
        registry.stop()


def _host_links() -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in json.loads(_run("ip", "-d", "-j", "link").stdout)}


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    """A command in the test's own network namespace (the lab fixture's): never the machine's."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True)


def _edge_file(lab: Lab, registry_host: str) -> Path:
    text = (CORPUS / "edge.clab.yml").read_text().replace("IMAGE", f"{registry_host}/lab/busybox:1")
    path = lab.folder / "edge.clab.yml"
    path.write_text(text)
    return path


def test_host_links_a_bridge_node_and_a_macvlan_reach_the_host(lab: Lab, busybox_rootfs: Path) -> None:
    registry = start_registry(lab.folder / "registry")
    try:
        with Pusher(registry.url) as pusher:
            pusher.push_image("lab/busybox", "1", build_image([tar_tree(busybox_rootfs)], CONFIG))
        path = _edge_file(lab, registry.host)
        missing = lab.composer("-f", str(path), "up", "-d", "--progress", "quiet", check=False)
        assert missing.returncode != 0 and "bridge br-edge does not exist on the host" in missing.stderr
        assert re.search(r"edge\.clab\.yml:30:\d+: links\.2\.endpoints\.1: ", missing.stderr), missing.stderr
        assert "Traceback" not in missing.stderr
        assert lab.ps("edge-clab") == []  # refused before anything was made
        _run("ip", "link", "add", "br-edge", "type", "bridge")  # the user's bridge and uplink
        _run("ip", "link", "set", "br-edge", "up")
        _run("ip", "link", "add", "edge-uplink", "type", "veth", "peer", "name", "edge-wire")  # no dummy here
        for name in ("edge-uplink", "edge-wire"):
            _run("ip", "link", "set", name, "up")
        _run("ip", "addr", "add", "10.61.4.1/24", "dev", "edge-wire")  # the far side of the uplink
        lab.composer("-f", str(path), "up", "-d", "--progress", "quiet", timeout=180)
        links = _host_links()
        assert links["r1-eth1"]["linkinfo"]["info_kind"] == "veth" and "UP" in links["r1-eth1"]["flags"]
        assert links["r1-eth1"]["ifalias"].startswith("composer:edge-clab:link:")
        assert (links["r1-eth1"]["mtu"], links["r2-eth2"]["mtu"]) == (9500, 9500)  # containerlab's MTU
        assert links["edge-p1"]["master"] == "br-edge" and links["edge-p2"]["master"] == "br-edge"
        _run("ip", "addr", "add", "10.61.1.1/30", "dev", "r1-eth1")
        _run("ip", "addr", "add", "10.61.3.1/30", "dev", "r2-eth2")
        _run("ping", "-c", "1", "-W", "2", "10.61.1.2")  # the host reaches r1 over its host end
        _run("ping", "-c", "1", "-W", "2", "10.61.3.2")  # and r2 over the extended type: host link
        ping = lab.exec("edge-clab", "r1", "ping", "-c", "1", "-W", "2", "10.61.2.2")
        assert ping.returncode == 0, ping.stdout + ping.stderr  # r1 to r2 across the user's bridge
        inside = {
            link["ifname"]: link
            for link in json.loads(
                _in(
                    lab, "clab-edge-clab-r2", "ip", "-d", "-j", "link", "show", "eth3", project="edge-clab"
                ).stdout
            )
        }
        assert inside["eth3"]["linkinfo"]["info_kind"] == "macvlan"
        assert inside["eth3"]["linkinfo"]["info_data"]["mode"] == "bridge"
        _run("ping", "-c", "1", "-W", "2", "10.61.4.2")  # through the uplink and r2's macvlan on it
        assert lab.composer("-f", str(path), "up", "--dry-run").stdout.startswith("nothing to do")
        lab.composer("-f", str(path), "down", "-t", "1")
        left = _host_links()
        assert {"br-edge", "edge-uplink"} <= set(left)  # the user's bridge and parent stay
        assert not {"r1-eth1", "r2-eth2", "edge-p1", "edge-p2"} & set(left)  # ours go
        assert project_leftovers(lab.root, "edge-clab") == []
    finally:
        registry.stop()


def test_a_host_interface_that_is_not_ours_stops_up_and_is_left_alone(lab: Lab, busybox_rootfs: Path) -> None:
    registry = start_registry(lab.folder / "registry")
    try:
        with Pusher(registry.url) as pusher:
            pusher.push_image("lab/busybox", "1", build_image([tar_tree(busybox_rootfs)], CONFIG))
        path = _edge_file(lab, registry.host)
        _run("ip", "link", "add", "br-edge", "type", "bridge")
        _run("ip", "link", "add", "edge-uplink", "type", "veth", "peer", "name", "edge-wire")
        _run("ip", "link", "add", "r2-eth2", "type", "bridge")  # the user's, named as a host end
        result = lab.composer("-f", str(path), "up", "-d", "--progress", "quiet", check=False)
        assert result.returncode != 0
        assert "host interface r2-eth2 already exists and is not this link's" in result.stderr
        assert lab.ps("edge-clab") == []
        assert _host_links()["r2-eth2"]["linkinfo"]["info_kind"] == "bridge"  # the user's, untouched
        lab.composer("-f", str(path), "down", "-t", "1")
        assert {"br-edge", "edge-uplink", "r2-eth2"} <= set(_host_links())
    finally:
        registry.stop()
