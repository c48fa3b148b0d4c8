"""containerlab topology files, read unchanged, brought up and checked, on the real kernel.

The corpus in tests/kernel/project/clab/ is written from containerlab's
documented format (kind linux nodes; FRR-style routers replaced by busybox with
static routes set by ``exec``).  The image is busybox, built offline and pushed
to a registry that runs inside the test's network namespace.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.images import Pusher, build_image, tar_tree
from tests.support.lab import Lab, project_leftovers
from tests.support.registry import start_registry

pytestmark = [pytest.mark.kernel, pytest.mark.registry]

CORPUS = Path(__file__).parent / "clab"
CONFIG = {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]}


def _in(lab: Lab, container: str, *argv: str) -> subprocess.CompletedProcess[str]:
    netns = lab.root / "projects" / "lb-clab" / "netns" / container
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
