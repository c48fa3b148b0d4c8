"""Bridges, veths, isolation, internal networks, published ports: against the real kernel."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from net_sandbox import Sandbox
from pyroute2 import IPRoute

from composer.errors import HostError, PlanError
from composer.kernel.net import forwarding, netlink, netns, nft, ports
from composer.kernel.net.nft import BridgeNat, NatPlan, PortForward
from composer.model import naming

pytestmark = pytest.mark.kernel
HERE = "/proc/thread-self/ns/net"  # the sandbox host's own namespace, as a path


def _bridge(box: Sandbox, network: str, gateway_cidr: str) -> str:
    name = naming.bridge_name(box.project, network)
    netlink.ensure_bridge(name, naming.ifalias(box.project, f"network:{network}"), None, [gateway_cidr])
    return name


def _endpoint(
    box: Sandbox, bridge: str, container: str, cidr: str, gateway: str | None, network: str = "n"
) -> tuple[str, str]:
    """A netns plugged into ``bridge``: (netns path, host veth name)."""
    ns = box.new_netns(container)
    resource = f"endpoint:{container}:{network}"
    host_if = naming.veth_host_name(box.project, resource)
    netlink.attach_to_bridge(
        bridge, host_if, naming.ifalias(box.project, resource), ns, "eth0", [cidr], gateway4=gateway
    )
    return ns, host_if


def _teardown(box: Sandbox, links: list[str], namespaces: list[str]) -> None:
    for link in links:
        netlink.delete_link(link)
    for ns in namespaces:
        netns.delete_netns(ns)
    nft.delete_project_table(box.project)
    forwarding.release_forwarding(box.root / "forwarding.json", still_needed=False)


def _default_routes(ns: str) -> list[object]:
    with netns.netns_iproute(ns) as ipr:
        return [r for r in ipr.get_routes(family=2, table=254) if r["dst_len"] == 0]


def test_two_endpoints_on_one_bridge_ping_each_other(sandbox: Sandbox) -> None:
    bridge = _bridge(sandbox, "front", "10.88.0.1/24")
    a, va = _endpoint(sandbox, bridge, "a", "10.88.0.2/24", "10.88.0.1")
    b, vb = _endpoint(sandbox, bridge, "b", "10.88.0.3/24", "10.88.0.1")

    assert sandbox.ping(a, "10.88.0.3")
    assert sandbox.ping(b, "10.88.0.1")
    assert netlink.interface_addresses(a) == {"eth0": ["10.88.0.2/24"]}
    owned = {(link.name, link.kind, link.resource_id) for link in netlink.list_owned_links(sandbox.project)}
    assert owned == {
        (bridge, "bridge", "network:front"),
        (va, "veth", "endpoint:a:n"),
        (vb, "veth", "endpoint:b:n"),
    }
    assert netlink.list_owned_links("other-project") == []
    assert "10.88.0.0/24" in netlink.routed_networks()
    assert len(_default_routes(a)) == 1

    netlink.ensure_bridge(bridge, naming.ifalias(sandbox.project, "network:front"), None, ["10.88.0.1/24"])
    assert sandbox.ping(a, "10.88.0.3"), "ensure_bridge again must keep the bridge working"
    _teardown(sandbox, [va, vb, bridge], [a, b])
    assert not netlink.link_exists(bridge)


def test_endpoints_on_different_bridges_are_isolated(sandbox: Sandbox) -> None:
    br1 = _bridge(sandbox, "one", "10.81.0.1/24")
    br2 = _bridge(sandbox, "two", "10.82.0.1/24")
    a, va = _endpoint(sandbox, br1, "a", "10.81.0.2/24", "10.81.0.1", "one")
    b, vb = _endpoint(sandbox, br2, "b", "10.82.0.2/24", "10.82.0.1", "two")
    forwarding.enable_forwarding(sandbox.root / "forwarding.json")
    assert sandbox.ping(a, "10.82.0.2"), "routing between bridges works before the rules"

    nft.ensure_project_table(
        sandbox.project,
        NatPlan(bridges=(BridgeNat(br1, ("10.81.0.0/24",)), BridgeNat(br2, ("10.82.0.0/24",)))),
    )
    assert not sandbox.ping(a, "10.82.0.2")
    assert not sandbox.ping(b, "10.81.0.2")
    assert sandbox.ping(a, "10.81.0.1"), "a still reaches its own gateway"
    _teardown(sandbox, [va, vb, br1, br2], [a, b])


def test_internal_network_has_no_route_out_and_no_masquerade(sandbox: Sandbox) -> None:
    # An outside host with no route back to the project's subnets: only masquerade lets replies return.
    outside = sandbox.new_netns("outside")
    uplink = (["198.51.100.2/24"], ["198.51.100.1/24"])
    netlink.create_p2p_link(outside, "eth0", HERE, "uplink0", "test:uplink", *uplink)
    internal_br = _bridge(sandbox, "internal", "10.83.0.1/24")
    public_br = _bridge(sandbox, "public", "10.84.0.1/24")
    i, vi = _endpoint(sandbox, internal_br, "i", "10.83.0.2/24", None, "internal")
    p, vp = _endpoint(sandbox, public_br, "p", "10.84.0.2/24", "10.84.0.1", "public")
    forwarding.enable_forwarding(sandbox.root / "forwarding.json")
    internal = BridgeNat(internal_br, ("10.83.0.0/24",), internal=True)
    plan = NatPlan(bridges=(internal, BridgeNat(public_br, ("10.84.0.0/24",))))
    nft.ensure_project_table(sandbox.project, plan)

    assert _default_routes(i) == []
    assert len(_default_routes(p)) == 1
    assert sandbox.ping(p, "198.51.100.2"), "masquerade carries the public network out"
    assert not sandbox.ping(i, "198.51.100.2")
    listing = nft.table_text(sandbox.project) or ""
    assert "10.84.0.0/24" in listing and "masquerade" in listing
    assert "10.83.0.0/24" not in listing
    _teardown(sandbox, [vi, vp, internal_br, public_br], [i, p, outside])


def _http_get(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        chunks = []
        while chunk := conn.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def _wait_listening(ns: str, port: int) -> None:
    for _ in range(200):
        with netns.in_netns(ns):
            if ports.ports_in_use("tcp", None, [port]):
                return
        subprocess.run(["sleep", "0.02"], check=True)
    raise AssertionError(f"nothing listens on {port} in {ns}")


def test_published_port_answers_on_localhost_and_from_another_host(sandbox: Sandbox, tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from composer\n")
    bridge = _bridge(sandbox, "web", "10.85.0.1/24")
    web, vweb = _endpoint(sandbox, bridge, "web", "10.85.0.2/24", "10.85.0.1", "web")
    sandbox.spawn(web, "httpd", "-f", "-p", "8080", "-h", str(www))
    _wait_listening(web, 8080)
    # Another host, wired to the sandbox host by a plain veth.
    other = sandbox.new_netns("other")
    uplink = (["203.0.113.2/24"], ["203.0.113.1/24"])
    netlink.create_p2p_link(other, "eth0", HERE, "uplink0", "test:uplink", *uplink)

    ports.ensure_ports_free("tcp", None, [18080])
    forwarding.enable_forwarding(sandbox.root / "forwarding.json")
    forward = PortForward("tcp", 18080, "10.85.0.2", 8080, bridge)
    plan = NatPlan(bridges=(BridgeNat(bridge, ("10.85.0.0/24",)),), ports=(forward,))
    nft.ensure_project_table(sandbox.project, plan)

    assert b"hello from composer" in _http_get("127.0.0.1", 18080)
    with netns.in_netns(other):  # the socket belongs to the other host's namespace
        assert b"hello from composer" in _http_get("203.0.113.1", 18080)
    assert netns.get_sysctl(None, f"net/ipv4/conf/{bridge}/route_localnet") == "1"
    sandbox.stop_processes()
    _teardown(sandbox, [vweb, bridge, "uplink0"], [web, other])


def test_port_taken_by_a_host_socket_is_refused(sandbox: Sandbox) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ports.ports_in_use("tcp", "127.0.0.1", [port, port + 1]) == [port]
        assert ports.ports_in_use("tcp", None, [port]) == [port]
        assert ports.ports_in_use("tcp", "10.0.0.1", [port]) == []
        assert ports.ports_in_use("udp", "127.0.0.1", [port]) == []
        with pytest.raises(PlanError, match=f"tcp port {port} on 127.0.0.1 already in use"):
            ports.ensure_ports_free("tcp", "127.0.0.1", [port])
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
        udp.bind(("::", 0))
        udp_port = udp.getsockname()[1]
        assert ports.ports_in_use("udp", "127.0.0.1", [udp_port]) == [udp_port]


def test_failed_attach_removes_its_veth(sandbox: Sandbox) -> None:
    bridge = _bridge(sandbox, "n", "10.86.0.1/24")
    ns = sandbox.new_netns("c")
    host_if = naming.veth_host_name(sandbox.project, "endpoint:c:n")
    alias = naming.ifalias(sandbox.project, "endpoint:c:n")
    with pytest.raises(HostError) as caught:
        # The gateway is not on the endpoint's subnet: the default route fails after the veth exists.
        netlink.attach_to_bridge(bridge, host_if, alias, ns, "eth0", ["10.86.0.2/24"], gateway4="192.0.2.1")
    assert caught.value.errno is not None
    assert not netlink.link_exists(host_if)
    assert not netlink.link_exists("eth0", ns)
    with pytest.raises(HostError, match="does not exist"):
        netlink.attach_to_bridge("cmbmissing", host_if, alias, ns, "eth0", [])
    _teardown(sandbox, [bridge], [ns])


def test_ensure_bridge_refuses_a_non_bridge_with_that_name(sandbox: Sandbox) -> None:
    with IPRoute() as ipr:
        ipr.link("add", ifname="cmbtaken", kind="veth", peer="cmbtaken-peer")
    with pytest.raises(HostError, match="exists"):
        netlink.ensure_bridge("cmbtaken", "composer:x:network:y", None, [])
    netlink.delete_link("cmbtaken")
    netlink.delete_link("cmbtaken")  # idempotent


def test_ipv6_endpoints_reach_each_other_and_the_gateway(sandbox: Sandbox) -> None:
    bridge = naming.bridge_name(sandbox.project, "v6")
    netlink.ensure_bridge(bridge, "composer:x:network:v6", 1400, ["10.87.0.1/24", "fd00:87::1/64"])
    a, b = sandbox.new_netns("a"), sandbox.new_netns("b")
    va, vb = "cmvtesta", "cmvtestb"
    for ns, veth, last in ((a, va, 2), (b, vb, 3)):
        cidrs = [f"10.87.0.{last}/24", f"fd00:87::{last}/64"]
        netlink.attach_to_bridge(
            bridge, veth, "composer:x:e", ns, "eth0", cidrs, 1400, "10.87.0.1", "fd00:87::1"
        )
    netlink.add_route(b, "fd00:99::/64", "fd00:87::1")

    assert sandbox.run(a, "ping", "-6", "-c", "1", "-W", "2", "fd00:87::3").returncode == 0
    assert sandbox.run(a, "ping", "-6", "-c", "1", "-W", "2", "fd00:87::1").returncode == 0
    assert "fd00:99::/64" in netlink.routed_networks(b)
    assert netlink.interface_addresses(a)["eth0"] == ["10.87.0.2/24", "fd00:87::2/64"]
    with netns.netns_iproute(a) as ipr:
        assert [
            r.get_attr("RTA_GATEWAY") for r in ipr.get_routes(family=10, table=254) if r["dst_len"] == 0
        ] == ["fd00:87::1"]
        assert ipr.get_links(ifname="eth0")[0].get_attr("IFLA_MTU") == 1400
    _teardown(sandbox, [va, vb, bridge], [a, b])


def test_published_udp_port_range_keeps_the_offset(sandbox: Sandbox) -> None:
    bridge = _bridge(sandbox, "udp", "10.89.0.1/24")
    ns, veth = _endpoint(sandbox, bridge, "u", "10.89.0.2/24", "10.89.0.1", "udp")
    with netns.in_netns(ns):
        receivers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    forwarding.enable_forwarding(sandbox.root / "forwarding.json")
    forward = PortForward("udp", 25000, "10.89.0.2", 5000, bridge, count=2)
    nft.ensure_project_table(
        sandbox.project, NatPlan(bridges=(BridgeNat(bridge, ("10.89.0.0/24",)),), ports=(forward,))
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for offset, receiver in enumerate(receivers):
            receiver.bind(("10.89.0.2", 5000 + offset))
            receiver.settimeout(5)
            sender.sendto(f"to {offset}".encode(), ("127.0.0.1", 25000 + offset))
            assert receiver.recv(100) == f"to {offset}".encode()
            receiver.close()
    _teardown(sandbox, [veth, bridge], [ns])
