"""Links changed while the lab runs, through the CLI, on the real kernel.

Rate and state are real here: the rate is measured with a bulk TCP transfer
between the routers' network namespaces, the lost carrier is read inside the
peer.  This kernel has no sch_netem, so the netem settings are checked against
their netlink messages in tests/unit/kernel/test_netem_messages.py; here only
the refusal is.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time

import pytest

from composer.kernel.net import netns
from tests.support.lab import BUSYBOX, Lab, project_leftovers

pytestmark = pytest.mark.kernel

LAB = """\
name: lb-live
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
    rate: 10mbit
  - endpoints: [r2:eth2, r3:eth1]
    ipv4: [10.0.23.1/30, 10.0.23.2/30]
"""
NOTHING = "nothing to do: the host matches the project\n"


def _netns(lab: Lab, container: str) -> str:
    return str(lab.root / "projects" / "lb-live" / "netns" / container)


def _in(lab: Lab, container: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={_netns(lab, container)}", *argv], capture_output=True,
                          text=True, timeout=20, check=False)  # fmt: skip


def _pids(lab: Lab) -> dict[str, object]:
    return {str(row["Name"]): row["Pid"] for row in lab.ps("lb-live")}


def _root_tbf(lab: Lab, container: str, ifname: str) -> dict[str, object]:
    out = _in(lab, container, "tc", "-s", "-j", "qdisc", "show", "dev", ifname, "root").stdout
    (qdisc,) = json.loads(out)
    assert qdisc["kind"] == "tbf", qdisc
    return dict(qdisc)


def _throughput(lab: Lab, sender: str, receiver: str, address: str, size: int) -> float:
    """Bits per second of a bulk TCP transfer from ``sender``'s netns to ``address`` in ``receiver``'s."""
    with netns.in_netns(_netns(lab, receiver)):
        server = socket.create_server((address, 5201))
    with netns.in_netns(_netns(lab, sender)):
        client = socket.socket()
    marks: dict[str, float] = {}

    def receive() -> None:
        conn, _ = server.accept()
        with conn:
            total = 0
            while chunk := conn.recv(65536):
                marks.setdefault("first", time.monotonic())
                total += len(chunk)
            marks["last"], marks["bytes"] = time.monotonic(), total

    thread = threading.Thread(target=receive)
    thread.start()
    with client, server:
        client.connect((address, 5201))
        client.sendall(b"x" * size)
        client.shutdown(socket.SHUT_WR)
        thread.join(timeout=60)
    assert marks["bytes"] == size
    return marks["bytes"] * 8 / (marks["last"] - marks["first"])


def _ping(lab: Lab, container: str, address: str) -> bool:
    return _in(lab, container, BUSYBOX, "ping", "-c", "1", "-W", "1", address).returncode == 0


def test_a_rate_edit_changes_the_qdisc_in_place_and_the_traffic_follows(lab: Lab) -> None:
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    pids = _pids(lab)
    fast = _throughput(lab, "lb-live-r1-1", "lb-live-r2-1", "10.0.12.2", 2 * 1024 * 1024)
    before = _root_tbf(lab, "lb-live-r1-1", "eth1")
    lab.write(LAB.replace("rate: 10mbit", "rate: 2mbit"))
    assert lab.composer("up", "--dry-run").stdout == (
        "update         link:r1:eth1--r2:eth1                    rate 10mbit -> 2mbit\n"
    )
    lab.composer("up", "-d", "--progress", "quiet")
    after = _root_tbf(lab, "lb-live-r1-1", "eth1")
    slow = _throughput(lab, "lb-live-r1-1", "lb-live-r2-1", "10.0.12.2", 512 * 1024)
    print(f"r1 -> r2: {fast / 1e6:.2f} Mbit/s at 10mbit, {slow / 1e6:.2f} Mbit/s at 2mbit")
    assert 8e6 <= fast <= 12e6 and 1.6e6 <= slow <= 2.4e6
    # Changed, not deleted and added: the same qdisc (handle) with its counters going on.
    assert after["handle"] == before["handle"]
    assert int(str(after["bytes"])) >= int(str(before["bytes"])) > 2 * 1024 * 1024
    assert _pids(lab) == pids
    assert lab.composer("up", "--dry-run").stdout == NOTHING


def test_link_set_is_live_recorded_shown_and_undone_by_up(lab: Lab) -> None:
    path = lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    pids = _pids(lab)
    began = time.monotonic()
    result = lab.composer("link", "set", "r1:eth1", "--rate", "2mbit")
    wall = time.monotonic() - began
    print(f"link set: {result.stderr.splitlines()[0]}; {wall * 1000:.0f} ms for the whole command")
    assert (
        result.stdout
        == "update         link:r1:eth1--r2:eth1                    r1:eth1: rate 10mbit -> 2mbit\n"
    )
    assert "next `composer up` puts the file's values back" in result.stderr
    slow = _throughput(lab, "lb-live-r1-1", "lb-live-r2-1", "10.0.12.2", 512 * 1024)
    assert 1.6e6 <= slow <= 2.4e6, f"{slow / 1e6:.2f} Mbit/s"
    rows = {r["End"]: r for r in json.loads(lab.composer("link", "ls", "--format", "json").stdout)}
    assert rows["r1:eth1"]["DiffersFromFile"] == ["rate 10mbit -> 2mbit"]
    assert rows["r1:eth1"]["Kernel"]["Rate"] == 2_000_000
    assert rows["r2:eth1"]["DiffersFromFile"] == [] and rows["r2:eth1"]["Kernel"]["Rate"] == 10_000_000
    table = lab.composer("ps").stdout
    assert "note: link end r1:eth1 differs from the file: rate 10mbit -> 2mbit (up restores it)" in table
    shown = json.loads(lab.composer("link", "show", "r1:eth1--r2:eth1", "--format", "json").stdout)
    assert [row["Effective"]["rate"] for row in shown] == [2_000_000, 10_000_000]
    assert _pids(lab) == pids

    assert lab.composer("up", "--dry-run").stdout == (
        "update         link:r1:eth1--r2:eth1                    r1:eth1: rate 2mbit -> 10mbit\n"
    )
    lab.composer("up", "-d", "--progress", "quiet")
    assert "differs from the file" not in lab.composer("ps").stdout
    assert lab.composer("link", "ls", "--format", "json").stdout.count('"DiffersFromFile": []') == 4
    assert lab.composer("up", "--dry-run").stdout == NOTHING
    assert _pids(lab) == pids
    path.unlink()
    lab.composer("-p", "lb-live", "down", "-t", "1")
    assert project_leftovers(lab.root, "lb-live") == []


def test_an_end_taken_down_leaves_its_peer_without_carrier_and_up_brings_the_routes_back(lab: Lab) -> None:
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    pids = _pids(lab)
    assert _ping(lab, "lb-live-r1-1", "10.0.23.2")
    down = lab.composer("link", "down", "r2:eth2")
    assert down.stdout == "update         link:r2:eth2--r3:eth1                    r2:eth2: up -> down\n"
    # Inside r3 (its own /sys): the cable is pulled at r2's end.
    carrier = lab.exec("lb-live", "r3", "cat", "/sys/class/net/eth1/carrier").stdout.strip()
    operstate = lab.exec("lb-live", "r3", "cat", "/sys/class/net/eth1/operstate").stdout.strip()
    assert (carrier, operstate) == ("0", "down")  # admin up, no carrier: veth reports "down"
    flags = json.loads(_in(lab, "lb-live-r3-1", "ip", "-j", "link", "show", "eth1").stdout)[0]["flags"]
    assert "NO-CARRIER" in flags and "UP" in flags
    assert not _ping(lab, "lb-live-r1-1", "10.0.23.2")
    rows = {r["End"]: r for r in json.loads(lab.composer("link", "ls", "--format", "json").stdout)}
    assert rows["r2:eth2"]["Kernel"]["Up"] is False and rows["r2:eth2"]["DiffersFromFile"] == [
        "up up -> down"
    ]
    assert rows["r3:eth1"]["Kernel"] == {**rows["r3:eth1"]["Kernel"], "Up": True, "Carrier": False}

    up = lab.composer("link", "up", "r2:eth2")
    assert up.stdout == "update         link:r2:eth2--r3:eth1                    r2:eth2: down -> up\n"
    assert _ping(lab, "lb-live-r1-1", "10.0.23.2")
    assert _ping(lab, "lb-live-r3-1", "10.0.12.1")
    assert "differs" not in lab.composer("ps").stdout  # back as the file says: nothing live left
    assert lab.composer("up", "--dry-run").stdout == NOTHING
    assert _pids(lab) == pids


def test_a_link_taken_down_loses_the_routes_through_it_and_up_puts_them_back(lab: Lab) -> None:
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    result = lab.composer("link", "down", "r1:eth1--r2:eth1")
    assert result.stdout == "update         link:r1:eth1--r2:eth1                    up -> down\n"
    routes = _in(lab, "lb-live-r1-1", "ip", "-4", "route", "show").stdout
    assert "10.0.23.0/30" not in routes  # the kernel dropped it with the interface
    assert not _ping(lab, "lb-live-r3-1", "10.0.12.1")
    assert lab.composer("up", "--dry-run").stdout == (
        "update         link:r1:eth1--r2:eth1                    down -> up\n"
        "create         route:lb-live-r1-1:10.0.23.0/30          via 10.0.12.2: missing from the routing table\n"
    )
    lab.composer("up", "-d", "--progress", "quiet")
    assert _ping(lab, "lb-live-r3-1", "10.0.12.1")
    assert lab.composer("up", "--dry-run").stdout == NOTHING


def test_the_file_can_cut_a_link_and_netem_is_refused_clearly(lab: Lab) -> None:
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    lab.write(LAB.replace("    rate: 10mbit\n", "    rate: 10mbit\n    state: down\n"))
    assert (
        lab.composer("up", "--dry-run").stdout
        == "update         link:r1:eth1--r2:eth1                    up -> down\n"
    )
    lab.composer("up", "-d", "--progress", "quiet")
    assert not _ping(lab, "lb-live-r1-1", "10.0.12.2")
    assert lab.composer("up", "--dry-run").stdout == NOTHING

    refused = lab.composer("link", "set", "r1:eth1", "--delay", "10ms", check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "kernel lacks the netem qdisc (sch_netem)" in refused.stderr
    assert "differs" not in lab.composer("ps").stdout  # nothing recorded for a refused change
    unknown = lab.composer("link", "set", "r9:eth1", "--rate", "1mbit", check=False)
    assert unknown.returncode != 0 and "no link end or interface 'r9:eth1'" in unknown.stderr
    assert "r1:eth1" in unknown.stderr  # the hint lists what exists
    bad = lab.composer("link", "set", "r1:eth1", "--rate", "fast", check=False)
    assert bad.returncode == 2 and "invalid rate 'fast'" in bad.stderr


@pytest.fixture(autouse=True)
def _no_leftovers(lab: Lab) -> object:
    yield None
    lab.composer("-p", "lb-live", "down", "-t", "1", check=False)
    assert project_leftovers(lab.root, "lb-live") == []


BRIDGED = """\
name: lb-live
services:
  a:
    rootfs: ROOTFS
    command: [sleep, infinity]
    networks:
      lan: {ipv4_address: 10.77.0.10, rate: 2mbit}
  b:
    rootfs: ROOTFS
    command: [sleep, infinity]
    networks:
      lan: {ipv4_address: 10.77.0.11}
networks:
  lan: {ipam: {config: [{subnet: 10.77.0.0/24}]}}
"""


def test_an_attachment_to_a_bridge_is_impaired_on_what_its_container_sends(lab: Lab) -> None:
    lab.write(BRIDGED)
    lab.composer("up", "-d", "--progress", "quiet")
    pids = _pids(lab)
    sent = _throughput(lab, "lb-live-a-1", "lb-live-b-1", "10.77.0.11", 512 * 1024)
    assert 1.6e6 <= sent <= 2.4e6, f"a -> b {sent / 1e6:.2f} Mbit/s for 2mbit"
    lab.write(BRIDGED.replace("rate: 2mbit", "rate: 5mbit"))
    assert lab.composer("up", "--dry-run").stdout == (
        "update         interface:lb-live-a-1:eth0               rate 2mbit -> 5mbit\n"
    )
    lab.composer("up", "-d", "--progress", "quiet")
    assert _root_tbf(lab, "lb-live-a-1", "eth0")["kind"] == "tbf"
    changed = lab.composer("link", "set", "b:eth0", "--rate", "3mbit")
    assert changed.stdout == "update         interface:lb-live-b-1:eth0               rate none -> 3mbit\n"
    back = _throughput(lab, "lb-live-b-1", "lb-live-a-1", "10.77.0.10", 768 * 1024)
    assert 2.4e6 <= back <= 3.6e6, f"b -> a {back / 1e6:.2f} Mbit/s for a live 3mbit"
    rows = {r["End"]: r for r in json.loads(lab.composer("link", "ls", "--format", "json").stdout)}
    assert rows["b:eth0"]["Link"] == "network:lan" and rows["b:eth0"]["DiffersFromFile"] == [
        "rate none -> 3mbit"
    ]
    assert _pids(lab) == pids
    lab.composer("up", "-d", "--progress", "quiet")
    assert lab.composer("up", "--dry-run").stdout == NOTHING
    assert _pids(lab) == pids
