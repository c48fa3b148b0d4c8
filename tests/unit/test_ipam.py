"""Address management: pure, no host access."""

from __future__ import annotations

import pytest

from composer.errors import PlanError, SpecError
from composer.model.ipam import (
    EndpointRequest,
    InUse,
    IpamConfig,
    NetworkAddressing,
    NetworkRequest,
    PoolBlock,
    check_ipam,
    plan_addressing,
    plan_network_subnets,
)


def _endpoints(*names: str) -> list[EndpointRequest]:
    return [EndpointRequest(name) for name in names]


def test_pool_allocation_skips_networks_in_use_and_is_deterministic() -> None:
    requests = [NetworkRequest("front"), NetworkRequest("back")]
    in_use = [InUse("172.17.0.0/16", "host route"), InUse("172.19.5.0/24", "project other network x")]
    first = plan_network_subnets(requests, in_use)
    assert {name: str(s[4]) for name, s in first.items()} == {
        "back": "172.18.0.0/16",
        "front": "172.20.0.0/16",
    }
    assert plan_network_subnets(list(reversed(requests)), in_use) == first


def test_configured_subnets_are_placed_before_pool_picks() -> None:
    requests = [NetworkRequest("a"), NetworkRequest("b", (IpamConfig(subnet="172.17.0.0/16"),))]
    subnets = plan_network_subnets(requests)
    assert str(subnets["b"][4]) == "172.17.0.0/16"
    assert str(subnets["a"][4]) == "172.18.0.0/16"


def test_configured_subnet_overlapping_another_project_is_refused() -> None:
    request = NetworkRequest("db", (IpamConfig(subnet="10.5.0.0/16"),))
    with pytest.raises(
        PlanError, match=r"network db: subnet 10.5.0.0/16 overlaps project shop network x \(10.5.3.0/24\)"
    ):
        plan_network_subnets([request], [InUse("10.5.3.0/24", "project shop network x")])


def test_two_networks_of_one_project_may_not_overlap() -> None:
    requests = [
        NetworkRequest("a", (IpamConfig(subnet="10.6.0.0/16"),)),
        NetworkRequest("b", (IpamConfig(subnet="10.6.1.0/24"),)),
    ]
    with pytest.raises(PlanError, match=r"subnet 10\.6\.1\.0/24 overlaps network a of this project"):
        plan_network_subnets(requests)


def test_exhausted_pool_is_a_plan_error() -> None:
    pool = (PoolBlock("10.10.0.0/23", 24),)
    requests = [NetworkRequest(n) for n in ("a", "b", "c")]
    with pytest.raises(PlanError, match="network c: no free IPv4 subnet left"):
        plan_network_subnets(requests, pool4=pool)


def test_addresses_statics_first_then_sorted_names_skipping_gateway() -> None:
    request = NetworkRequest("n", (IpamConfig(subnet="10.1.0.0/24"),))
    endpoints = [
        EndpointRequest("zeta"),
        EndpointRequest("alpha"),
        EndpointRequest("web", ipv4_address="10.1.0.2"),
    ]
    plan = plan_addressing([request], {"n": endpoints})["n"]
    assert plan.ipv4 is not None
    assert plan.ipv4.gateway == "10.1.0.1"
    assert dict(plan.ipv4.addresses) == {"web": "10.1.0.2", "alpha": "10.1.0.3", "zeta": "10.1.0.4"}
    assert plan.ipv4.cidr("alpha") == "10.1.0.3/24"
    assert plan.ipv4.gateway_cidr() == "10.1.0.1/24"
    assert plan.ipv6 is None


def test_ip_range_and_configured_gateway_are_honoured() -> None:
    config = IpamConfig(subnet="10.2.0.0/16", ip_range="10.2.5.0/24", gateway="10.2.5.0")
    plan = plan_addressing([NetworkRequest("n", (config,))], {"n": _endpoints("a", "b")})["n"]
    assert plan.ipv4 is not None
    assert plan.ipv4.gateway == "10.2.5.0"
    assert dict(plan.ipv4.addresses) == {"a": "10.2.5.1", "b": "10.2.5.2"}


def test_previous_assignment_is_reused_and_new_containers_avoid_it() -> None:
    request = NetworkRequest("n")
    first = plan_addressing([request], {"n": _endpoints("b", "c")})
    assert first["n"].ipv4 is not None
    assert dict(first["n"].ipv4.addresses) == {"b": "172.17.0.2", "c": "172.17.0.3"}
    stored = {name: NetworkAddressing.from_dict(value.to_dict()) for name, value in first.items()}
    # "a" sorts first but must not take b's or c's old address; the subnet is kept
    # even though the pool's first block is now free of other users too.
    again = plan_addressing([request], {"n": _endpoints("a", "b", "c")}, previous=stored)
    assert again["n"].ipv4 is not None
    assert dict(again["n"].ipv4.addresses) == {"a": "172.17.0.4", "b": "172.17.0.2", "c": "172.17.0.3"}
    assert again == plan_addressing([request], {"n": _endpoints("c", "a", "b")}, previous=stored)


def test_previous_subnet_is_dropped_when_now_taken_by_someone_else() -> None:
    request = NetworkRequest("n")
    first = plan_addressing([request], {"n": _endpoints("a")})
    again = plan_addressing([request], {"n": _endpoints("a")}, [InUse("172.17.0.0/16", "host route")], first)
    assert again["n"].ipv4 is not None
    assert again["n"].ipv4.subnet == "172.18.0.0/16"
    assert dict(again["n"].ipv4.addresses) == {"a": "172.18.0.2"}


def test_ipv6_gets_a_ula_64_from_the_pool_and_statics() -> None:
    auto = plan_addressing([NetworkRequest("n", enable_ipv6=True)], {"n": _endpoints("a")})["n"]
    assert auto.ipv6 is not None
    assert auto.ipv6.subnet == "fd6d:636f:6d70::/64"
    assert auto.ipv6.gateway == "fd6d:636f:6d70::1"
    assert dict(auto.ipv6.addresses) == {"a": "fd6d:636f:6d70::2"}
    config = (IpamConfig(subnet="10.3.0.0/24"), IpamConfig(subnet="fd00:1::/64"))
    request = NetworkRequest("m", config, enable_ipv6=True)
    endpoints = [EndpointRequest("a", ipv6_address="fd00:1::10"), EndpointRequest("b")]
    assert check_ipam(request, endpoints) == []
    plan = plan_addressing([request], {"m": endpoints})["m"]
    assert plan.ipv6 is not None and plan.ipv4 is not None
    assert dict(plan.ipv6.addresses) == {"a": "fd00:1::10", "b": "fd00:1::2"}
    assert plan.ipv6.cidr("a") == "fd00:1::10/64"
    assert dict(plan.ipv4.addresses) == {"a": "10.3.0.2", "b": "10.3.0.3"}


def _messages(request: NetworkRequest, endpoints: list[EndpointRequest]) -> list[str]:
    return [f"{issue.path}: {issue.message}" for issue in check_ipam(request, endpoints, source="x.yaml")]


def test_check_reports_every_problem_at_once() -> None:
    config = IpamConfig(subnet="10.4.0.0/24", ip_range="10.5.0.0/25", gateway="10.9.9.9")
    request = NetworkRequest("n", (config,))
    endpoints = [
        EndpointRequest("a", ipv4_address="10.4.1.7"),
        EndpointRequest("b", ipv4_address="10.4.0.7"),
        EndpointRequest("c", ipv4_address="10.4.0.7"),
        EndpointRequest("d", ipv4_address="not-an-ip"),
        EndpointRequest("e", ipv6_address="fd00::1"),
    ]
    assert _messages(request, endpoints) == [
        "networks.n.endpoints.a.ipv4_address: 10.4.1.7 is outside the subnet 10.4.0.0/24 of network n",
        "networks.n.endpoints.c: address 10.4.0.7 on network n is also given to b",
        "networks.n.endpoints.d.ipv4_address: 'not-an-ip' is not an IPv4 address",
        "networks.n.endpoints.e.ipv6_address: a static address needs a configured IPv6 subnet on network n",
        "networks.n.ipam.config[0].gateway: 10.9.9.9 is not a usable address of the subnet 10.4.0.0/24",
        "networks.n.ipam.config[0].ip_range: 10.5.0.0/25 is not inside the subnet 10.4.0.0/24",
    ]
    assert all(issue.file == "x.yaml" for issue in check_ipam(request, endpoints, source="x.yaml"))


def test_check_rejects_bad_subnets_and_statics_on_gateway_or_broadcast() -> None:
    assert _messages(NetworkRequest("n", (IpamConfig(subnet="10.4.0.1/24"),)), []) == [
        "networks.n.ipam.config[0].subnet: '10.4.0.1/24' has host bits set; the subnet is 10.4.0.0/24"
    ]
    assert _messages(NetworkRequest("n", (IpamConfig(subnet="bogus"),)), []) == [
        "networks.n.ipam.config[0].subnet: 'bogus' is not a subnet in CIDR form (like 172.28.0.0/16)"
    ]
    request = NetworkRequest("n", (IpamConfig(subnet="10.4.0.0/24", gateway="10.4.0.1"),))
    assert _messages(request, [EndpointRequest("a", "10.4.0.1"), EndpointRequest("b", "10.4.0.255")]) == [
        "networks.n.endpoints.a.ipv4_address: 10.4.0.1 is the gateway of network n",
        "networks.n.endpoints.b.ipv4_address: 10.4.0.255 is outside the subnet 10.4.0.0/24 of network n",
    ]
    default_gateway = NetworkRequest("n", (IpamConfig(subnet="10.4.0.0/24"),))
    assert _messages(default_gateway, [EndpointRequest("a", "10.4.0.1")]) == [
        "networks.n.endpoints.a.ipv4_address: 10.4.0.1 is the gateway of network n"
    ]
    v6 = NetworkRequest("n", (IpamConfig(subnet="fd00::/64"),))
    assert _messages(v6, []) == ["networks.n.enable_ipv6: an IPv6 subnet needs enable_ipv6: true"]


def test_static_colliding_with_a_dynamic_previous_address_wins() -> None:
    request = NetworkRequest("n", (IpamConfig(subnet="10.1.0.0/24"),))
    first = plan_addressing([request], {"n": _endpoints("a")})
    endpoints = [EndpointRequest("a"), EndpointRequest("b", ipv4_address="10.1.0.2")]
    again = plan_addressing([request], {"n": endpoints}, previous=first)["n"]
    assert again.ipv4 is not None
    assert dict(again.ipv4.addresses) == {"a": "10.1.0.3", "b": "10.1.0.2"}


def test_small_ip_range_runs_out() -> None:
    request = NetworkRequest("n", (IpamConfig(subnet="10.1.0.0/24", ip_range="10.1.0.0/30"),))
    with pytest.raises(PlanError, match=r"no free address left in 10\.1\.0\.0/30 for c"):
        plan_addressing([request], {"n": _endpoints("a", "b", "c")})


def test_plan_addressing_refuses_bad_statics_with_every_issue() -> None:
    request = NetworkRequest("n", (IpamConfig(subnet="10.1.0.0/24"),))
    endpoints = [
        EndpointRequest("a", "10.2.0.5", path="services.a.networks.n"),
        EndpointRequest("b", "10.1.0.9", path="services.b.networks.n"),
        EndpointRequest("c", "10.1.0.9", path="services.c.networks.n"),
    ]
    with pytest.raises(SpecError) as caught:
        plan_addressing([request], {"n": endpoints})
    assert [f"{i.path}: {i.message}" for i in caught.value.issues] == [
        "services.a.networks.n.ipv4_address: 10.2.0.5 is outside the subnet 10.1.0.0/24 of network n",
        "services.c.networks.n: address 10.1.0.9 on network n is also given to b",
    ]
