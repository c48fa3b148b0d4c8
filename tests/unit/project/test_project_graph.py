"""Dependency order and topology rendering, on small projects and the examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from composer.errors import CycleError
from composer.project import graph as topology
from composer.project.models import ProjectSpec

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def project(services: dict[str, object], **rest: object) -> ProjectSpec:
    return ProjectSpec.model_validate({"name": "t", "services": services, **rest})


DIAMOND = project(
    {
        "web": {"image": "x", "depends_on": {"api": {"condition": "service_healthy"}, "cache": {}}},
        "api": {"image": "x", "depends_on": ["db"]},
        "cache": {"image": "x"},
        "db": {"image": "x"},
        "alone": {"image": "x"},
    }
)


def test_graph_edges_go_from_dependency_to_dependent() -> None:
    graph = topology.dependency_graph(DIAMOND)
    assert sorted(graph.edges) == [("api", "web"), ("cache", "web"), ("db", "api")]
    assert graph.edges["api", "web"] == {"condition": "service_healthy", "required": True, "restart": False}


def test_start_order_is_lexicographic_topological() -> None:
    assert topology.start_order(DIAMOND) == ["alone", "cache", "db", "api", "web"]
    assert topology.stop_order(DIAMOND) == ["web", "api", "db", "cache", "alone"]
    assert topology.start_layers(DIAMOND) == [["alone", "cache", "db"], ["api"], ["web"]]


def test_cycle_is_named() -> None:
    spec = project(
        {
            "a": {"image": "x", "depends_on": ["b"]},
            "b": {"image": "x", "depends_on": ["a"]},
            "c": {"image": "x"},
        }
    )
    assert topology.find_cycle(spec) == ["a", "b", "a"]
    assert topology.find_cycle(DIAMOND) is None
    with pytest.raises(CycleError, match="a -> b -> a") as caught:
        topology.start_order(spec)
    assert caught.value.cycle == ["a", "b", "a"]


LAB = project(
    {
        "r1": {"image": "x", "network_mode": "none"},
        "r2": {"image": "x", "networks": {"mgmt": {"ipv4_address": "10.9.0.2"}}},
    },
    networks={"mgmt": {"ipam": {"config": [{"subnet": "10.9.0.0/24"}]}}},
    links=[{"endpoints": ["r1:eth1", "r2:eth1"], "ipv4": ["10.0.0.1/30", "10.0.0.2/30"], "delay": "5ms"}],
)


def test_json_lists_networks_links_interfaces_and_addresses() -> None:
    data = json.loads(topology.render(LAB, "json"))
    assert data["attachments"] == [
        {
            "service": "r2",
            "network": "mgmt",
            "interface": "eth0",
            "ipv4_address": "10.9.0.2",
            "ipv6_address": None,
        }
    ]
    assert data["links"][0]["id"] == "link:r1:eth1--r2:eth1"
    assert data["links"][0]["endpoints"][1] == {
        "service": "r2",
        "interface": "eth1",
        "ipv4": "10.0.0.2/30",
        "ipv6": None,
    }
    assert data["links"][0]["delay"] == 0.005
    assert data["networks"] == {"mgmt": {"subnets": ["10.9.0.0/24"], "internal": False}}


def test_dot_output() -> None:
    text = topology.render(LAB, "dot")
    assert text.startswith('graph "t" {')
    assert '"service:r2" -- "network:mgmt" [label="eth0 10.9.0.2"];' in text
    label = r'label="r1 eth1 10.0.0.1/30\nr2 eth1 10.0.0.2/30"'
    assert f'"service:r1" -- "service:r2" [{label}, penwidth=2];' in text


def test_mermaid_output_uses_safe_ids() -> None:
    spec = project({"web.1": {"image": "x", "depends_on": ["db"]}, "db": {"image": "x"}})
    text = topology.render(spec, "mermaid")
    assert text.splitlines()[:3] == ["flowchart LR", '  s0["web.1"]', '  s1["db"]']
    assert "  s1 -.->|service_started| s0" in text
    assert '  s0 ---|"eth0"| n0' in text


def test_ring_example_layers() -> None:
    from composer.project.loader import load_project

    ring = load_project([EXAMPLES / "ring20" / "compose.yaml"], None, [], None, []).spec
    assert topology.start_layers(ring) == [sorted(ring.services)]
    assert len(json.loads(topology.render(ring, "json"))["links"]) == 20


def test_ends_outside_the_project_are_nodes_of_their_own_and_a_bridge_is_one() -> None:
    spec = project(
        {"r1": {"image": "x"}, "r2": {"image": "x"}},
        links=[
            {"endpoints": ["r1:eth1", {"host": "r1-eth1"}]},
            {"endpoints": [{"host": "lan1", "bridge": "br-lan"}, "r1:eth2"]},
            {"endpoints": ["r2:eth2", {"host": "lan2", "bridge": "br-lan"}]},
            {"endpoints": ["r2:eth3", {"macvlan": "eno1"}]},
        ],
    )
    dot = topology.render(spec, "dot")
    assert '"service:r1" -- "host:r1-eth1" [label="r1 eth1\\nhost:r1-eth1", penwidth=2];' in dot
    assert '"bridge:br-lan" -- "service:r1" [label="br-lan lan1\\nr1 eth2", penwidth=2];' in dot
    assert '"service:r2" -- "bridge:br-lan" [label="r2 eth2\\nbr-lan lan2", penwidth=2];' in dot
    mermaid = topology.render(spec, "mermaid").splitlines()
    assert '  o0[/"bridge:br-lan"/]' in mermaid and '  s1 ===|"eth2 -- br-lan lan2"| o0' in mermaid
    assert '  s1 ===|"eth3 -- macvlan:eno1"| o2' in mermaid
    ends = json.loads(topology.render(spec, "json"))["links"][1]["endpoints"]
    assert ends[0]["outside"] == "host:lan1" and ends[0]["bridge"] == "br-lan" and "outside" not in ends[1]
