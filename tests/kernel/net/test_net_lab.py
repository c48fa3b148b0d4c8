"""Lab links, routing, shaping, namespaces, forwarding and nft tables: against the real kernel."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from net_sandbox import Sandbox

from composer.errors import HostError, PlanError
from composer.kernel.net import forwarding, netlink, netns, nft, tc
from composer.kernel.net.nft import BridgeNat, NatPlan
from composer.model.units import parse_rate

pytestmark = pytest.mark.kernel


def test_three_router_line_passes_traffic_end_to_end(sandbox: Sandbox) -> None:
    r1, r2, r3 = (sandbox.new_netns(name) for name in ("r1", "r2", "r3"))
    netlink.create_p2p_link(
        r1, "eth1", r2, "eth1", "composer:p:link:r1:eth1--r2:eth1", ["10.0.12.1/30"], ["10.0.12.2/30"]
    )
    netlink.create_p2p_link(
        r2, "eth2", r3, "eth1", "composer:p:link:r2:eth2--r3:eth1", ["10.0.23.1/30"], ["10.0.23.2/30"]
    )
    for ns in (r1, r2, r3):  # a new netns inherits the host's IPv4 forwarding setting
        netns.set_sysctl(ns, "net.ipv4.ip_forward", "0")
    netlink.add_route(r1, "10.0.23.0/30", "10.0.12.2")
    netlink.add_route(r3, "10.0.12.0/30", "10.0.23.1")
    assert sandbox.ping(r1, "10.0.12.2")
    assert not sandbox.ping(r1, "10.0.23.2"), "r2 does not forward yet"

    netns.set_sysctl(r2, "net.ipv4.ip_forward", "1")
    assert netns.get_sysctl(r2, "net.ipv4.ip_forward") == "1"
    assert netns.get_sysctl(None, "net.ipv4.ip_forward") == "0", "the sysctl stayed in r2"
    assert sandbox.ping(r1, "10.0.23.2")
    assert sandbox.ping(r3, "10.0.12.1")
    assert netlink.interface_addresses(r2) == {"eth1": ["10.0.12.2/30"], "eth2": ["10.0.23.1/30"]}
    for ns in (r1, r2, r3):
        netns.delete_netns(ns)


def _receive_all(server: socket.socket, result: dict[str, float]) -> None:
    conn, _ = server.accept()
    with conn:
        total = 0
        while chunk := conn.recv(65536):
            if total == 0:
                result["first"] = time.monotonic()
            total += len(chunk)
        result["last"] = time.monotonic()
        result["bytes"] = total


def test_rate_limited_link_carries_bulk_transfer_at_its_rate(sandbox: Sandbox) -> None:
    a, b = sandbox.new_netns("a"), sandbox.new_netns("b")
    netlink.create_p2p_link(a, "eth1", b, "eth1", "composer:p:link:a--b", ["10.0.9.1/30"], ["10.0.9.2/30"])
    rate = parse_rate("2mbit")
    tc.apply_rate(a, "eth1", rate)
    tc.apply_rate(b, "eth1", rate)
    assert tc.qdisc_kinds(a, "eth1") == ["tbf"]

    with netns.in_netns(b):
        server = socket.create_server(("10.0.9.2", 5001))
    with netns.in_netns(a):
        client = socket.socket()
    result: dict[str, float] = {}
    receiver = threading.Thread(target=_receive_all, args=(server, result))
    receiver.start()
    payload = b"x" * (1024 * 1024)
    with client, server:
        client.connect(("10.0.9.2", 5001))
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        receiver.join(timeout=30)
    assert result["bytes"] == len(payload)
    measured = result["bytes"] * 8 / (result["last"] - result["first"])
    print(f"2mbit link: {measured / 1e6:.3f} Mbit/s")
    assert 0.8 * rate <= measured <= 1.2 * rate, f"measured {measured / 1e6:.2f} Mbit/s for 2 Mbit/s"
    for ns in (a, b):
        netns.delete_netns(ns)


def test_netem_is_detected_as_missing_and_refused_before_anything_is_made(sandbox: Sandbox) -> None:
    if tc.netem_available():
        pytest.skip("this kernel has sch_netem")
    with pytest.raises(PlanError, match=r"kernel lacks the netem qdisc \(sch_netem\)"):
        tc.require_netem()
    ns = sandbox.new_netns("c")
    with pytest.raises(PlanError, match="sch_netem"):
        tc.apply_netem(ns, "lo", delay_ms=10)
    assert tc.qdisc_kinds(ns, "lo") == ["noqueue"]
    netns.delete_netns(ns)


def test_delay_on_a_link_needs_netem(sandbox: Sandbox) -> None:
    if not tc.netem_available():
        pytest.skip("kernel lacks sch_netem")
    a, b = sandbox.new_netns("a"), sandbox.new_netns("b")
    netlink.create_p2p_link(a, "eth1", b, "eth1", "composer:p:link:a--b", ["10.0.8.1/30"], ["10.0.8.2/30"])
    tc.apply_netem(a, "eth1", delay_ms=50)
    assert tc.qdisc_kinds(a, "eth1") == ["netem"]
    for ns in (a, b):
        netns.delete_netns(ns)


def test_netns_lifecycle_is_idempotent(sandbox: Sandbox) -> None:
    path = sandbox.netns_path("x")
    netns.create_netns(path)
    assert netns.is_netns_mount(path)
    netns.create_netns(path)  # already there: kept
    netlink.create_p2p_link(
        path, "eth1", "/proc/thread-self/ns/net", "up0", "composer:p:x", ["10.7.0.2/24"], []
    )
    netns.create_netns(path)
    assert netlink.link_exists("eth1", path), "a second create must not replace the namespace"
    assert sandbox.run(path, "ip", "-o", "link", "show", "lo").stdout.count("UP") >= 1
    netns.delete_netns(path)
    assert not Path(path).exists()
    assert not netns.is_netns_mount(path)
    # The kernel destroys an unreferenced namespace asynchronously; its veth goes with it.
    for _ in range(500):
        if not netlink.link_exists("up0"):
            break
        time.sleep(0.01)
    assert not netlink.link_exists("up0"), "the veth died with its namespace"
    netns.delete_netns(path)  # gone: fine
    with pytest.raises(HostError, match="cannot open network namespace"):
        netlink.interface_addresses(path)
    with pytest.raises(HostError, match="only net"):
        netns.set_sysctl(None, "kernel.hostname", "x")


def test_forwarding_is_restored_only_when_composer_turned_it_on(sandbox: Sandbox) -> None:
    record = sandbox.root / "forwarding.json"
    assert netns.get_sysctl(None, "net.ipv4.ip_forward") == "0"
    forwarding.enable_forwarding(record)
    assert netns.get_sysctl(None, "net.ipv4.ip_forward") == "1"
    assert forwarding.forwarding_enabled_by_composer(record) == [4]
    forwarding.release_forwarding(record, still_needed=True)
    assert netns.get_sysctl(None, "net.ipv4.ip_forward") == "1"
    forwarding.release_forwarding(record, still_needed=False)
    assert netns.get_sysctl(None, "net.ipv4.ip_forward") == "0"
    assert forwarding.forwarding_enabled_by_composer(record) == []

    netns.set_sysctl(None, "net.ipv4.ip_forward", "1")  # the admin's choice
    forwarding.enable_forwarding(record, ipv6=True)
    assert forwarding.forwarding_enabled_by_composer(record) == [6]
    forwarding.release_forwarding(record, still_needed=False)
    assert netns.get_sysctl(None, "net.ipv4.ip_forward") == "1"
    assert netns.get_sysctl(None, "net.ipv6.conf.all.forwarding") == "0"


def test_project_table_is_replaced_atomically_and_foreign_tables_are_left_alone(sandbox: Sandbox) -> None:
    subprocess.run(["nft", "add", "table", "inet", "hostfw"], check=True)
    subprocess.run(["nft", "add", "table", "inet", "composer_other"], check=True)  # another project's
    plan = NatPlan(bridges=(BridgeNat("cmbaaaa", ("10.9.0.0/24",)),))
    nft.ensure_project_table(sandbox.project, plan)
    nft.ensure_project_table(sandbox.project, plan)
    assert nft.list_project_tables() == sorted(["other", sandbox.project])
    assert (nft.table_text(sandbox.project) or "").count("masquerade") == 1
    nft.ensure_project_table(sandbox.project, NatPlan())
    assert "masquerade" not in (nft.table_text(sandbox.project) or "")
    nft.delete_project_table(sandbox.project)
    nft.delete_project_table(sandbox.project)
    assert nft.list_project_tables() == ["other"]
    assert (
        "table inet hostfw"
        in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    )
    nft.delete_project_table("other")
