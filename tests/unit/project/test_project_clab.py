"""containerlab topologies read unchanged: what they become, and what is refused with node and key named."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from composer.errors import SpecError
from composer.project.clab import container_name, to_compose
from tests.support.projects import load

TOPOLOGY = """\
name: dc1
mgmt:
  network: fabric
  ipv4-subnet: 172.80.80.0/24
topology:
  defaults: {kind: linux, env: {SITE: dc1}}
  kinds:
    linux: {image: "alpine:3", cmd: "sleep infinity"}
  groups:
    leaves: {env: {ROLE: leaf}, memory: 256MB}
  nodes:
    spine: {mgmt-ipv4: 172.80.80.2, ports: ["8080:80"], binds: ["/tmp:/host-tmp:ro"]}
    leaf1: {group: leaves, exec: ["ip link set eth1 up"], labels: {rack: "1"}}
    leaf2: {group: leaves, env: {ROLE: border}, network-mode: none}
  links:
    - endpoints: ["spine:eth1", "leaf1:eth1"]
    - type: veth
      mtu: 1500
      endpoints: [{node: spine, interface: eth2}, {node: leaf2, interface: eth1}]
"""


def test_a_topology_becomes_a_project_with_containerlab_names_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "dc1.clab.yml"
    path.write_text(TOPOLOGY)
    loaded = load(path)
    spec = loaded.spec
    assert loaded.name == "dc1" and sorted(spec.services) == ["leaf1", "leaf2", "spine"]
    spine, leaf1, leaf2 = spec.services["spine"], spec.services["leaf1"], spec.services["leaf2"]
    assert spine.container_name == "clab-dc1-spine" and spine.hostname == "spine"
    assert spine.environment == {"SITE": "dc1", "CLAB_INTFS": "2"}
    assert leaf1.environment == {"SITE": "dc1", "ROLE": "leaf", "CLAB_INTFS": "1"}  # group over defaults
    assert leaf2.environment["ROLE"] == "border"  # the node over its group
    assert spine.networks["fabric"].ipv4_address == "172.80.80.2"
    assert leaf2.network_mode == "none" and not leaf2.networks
    net = spec.networks["fabric"]
    assert [c.subnet for c in net.ipam.config] == ["172.80.80.0/24", "3fff:172:20:20::/64"]
    assert [(str(link.endpoints[0]), link.mtu, link.addressing) for link in spec.links] == [
        ("spine:eth1", 9500, "node"), ("spine:eth2", 1500, "node"),
    ]  # fmt: skip
    # exec runs before the node's own command, once its links are there.
    assert leaf1.entrypoint == ["/bin/sh", "-c", 'ip link set eth1 up; exec "$@"', "sh"]
    assert leaf1.command == ["sleep", "infinity"]


@pytest.mark.parametrize(
    ("prefix", "name"),
    [(None, "clab-lab-r1"), ("", "r1"), ("__lab-name", "lab-r1"), ("acme", "acme-lab-r1")],
)
def test_node_names_follow_the_prefix(prefix: str | None, name: str) -> None:
    assert container_name(prefix, "lab", "r1") == name


def test_what_composer_cannot_run_is_refused_at_once_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.clab.yml"
    path.write_text("""\
name: bad
topology:
  nodes:
    srl: {kind: nokia_srlinux, image: ghcr.io/nokia/srlinux}
    l1: {kind: linux, image: alpine, startup-delay: 5, exec: ["ip link"]}
  links:
    - endpoints: ["srl:e1-1", "ovs-bridge:srl-e1"]
    - {type: vxlan, endpoint: {node: l1, interface: eth1}, remote: 10.0.0.2, vni: 10}
""")
    with pytest.raises(SpecError) as error:
        load(path)
    lines = error.value.render().splitlines()[1:]
    assert [line.split(": ", 2)[1] for line in lines] == [
        "topology.nodes.srl.kind", "topology.nodes.l1.exec",
        "topology.links.0.endpoints.1", "topology.links.1.type",
    ]  # fmt: skip
    assert "kind 'nokia_srlinux' is not supported" in lines[0] and lines[0].strip().startswith(
        "bad.clab.yml:4:"
    )


def test_only_a_topology_is_converted() -> None:
    with pytest.raises(SpecError, match="needs a name"):
        to_compose({"topology": {"nodes": {}}})


def test_wait_for_on_create_and_healthy_becomes_depends_on(tmp_path: Path) -> None:
    path = tmp_path / "waits.clab.yml"
    path.write_text("""\
name: waits
topology:
  defaults: {kind: linux, image: alpine, cmd: "sleep 60"}
  nodes:
    db: {healthcheck: {test: ["CMD", "true"], interval: 1, start-period: 2, timeout: 1.5s, retries: 3}}
    cache: {}
    app:
      wait-for: [cache]
      stages:
        create:
          wait-for: [{node: db, stage: healthy}, {node: cache, stage: create}]
""")
    spec = load(path).spec
    app = spec.services["app"]
    assert {name: dep.condition for name, dep in app.depends_on.items()} == {
        "db": "service_healthy", "cache": "service_started",
    }  # fmt: skip
    assert not spec.services["db"].depends_on
    check = spec.services["db"].healthcheck
    assert check is not None  # containerlab writes whole seconds
    assert (check.interval, check.start_period, check.timeout, check.retries) == (1.0, 2.0, 1.5, 3)


def test_the_stronger_wait_for_one_node_wins() -> None:
    data = {
        "name": "w",
        "topology": {
            "defaults": {"kind": "linux", "image": "alpine"},
            "nodes": {
                "a": {"stages": {"create": {"wait-for": [{"node": "b", "stage": "healthy"}, {"node": "b"}]}}},
                "b": {},
            },
        },
    }
    assert to_compose(data)["services"]["a"]["depends_on"] == {"b": {"condition": "service_healthy"}}


def test_waits_composer_cannot_map_are_refused_naming_node_and_key(tmp_path: Path) -> None:
    path = tmp_path / "badwait.clab.yml"
    path.write_text("""\
name: badwait
topology:
  defaults: {kind: linux, image: alpine}
  nodes:
    a:
      wait-for: [ghost]
      stages:
        create: {wait-for: [{node: b, stage: configure}], exec: ["true"]}
        configure: {wait-for: [{node: b, stage: create}]}
    b: {kind: ext-container}
""")
    with pytest.raises(SpecError) as error:
        load(path)
    lines = error.value.render().splitlines()[1:]
    places = [line.split(": ", 2)[1] for line in lines if line.strip().startswith("badwait")]
    assert places == [
        "topology.nodes.a.wait-for.0", "topology.nodes.a.stages.create.wait-for.0.stage",
        "topology.nodes.a.stages.create.exec", "topology.nodes.a.stages.configure", "topology.nodes.b.kind",
    ]  # fmt: skip
    text = error.value.render()
    assert "'ghost', which is not another node" in text and "waiting for b's stage 'configure'" in text
    assert "no daemon to find a foreign one" in text


def test_topology_data_has_containerlab_documented_shape(tmp_path: Path) -> None:
    import yaml

    from composer.project.clab import lab_directory, topology_data

    data = yaml.safe_load(TOPOLOGY)
    file = tmp_path / "dc1.clab.yml"
    content = topology_data(data, file, {"spine": ("172.80.80.2/24", "3fff:172:20:20::5/64")})
    assert (content["name"], content["type"]) == ("dc1", "clab")
    assert content["clab"]["config"]["prefix"] == "clab"
    assert content["clab"]["config"]["mgmt"]["network"] == "fabric"
    assert list(content["nodes"]) == ["spine", "leaf1", "leaf2"]
    spine, leaf1, leaf2 = (content["nodes"][n] for n in ("spine", "leaf1", "leaf2"))
    folder = lab_directory(file, "dc1")
    assert folder == tmp_path / "clab-dc1"
    assert spine["index"] == "0" and leaf2["index"] == "2"
    assert (spine["shortname"], spine["longname"], spine["fqdn"]) == (
        "spine",
        "clab-dc1-spine",
        "spine.dc1.io",
    )
    assert (spine["kind"], spine["image"], spine["labdir"]) == ("linux", "alpine:3", str(folder / "spine"))
    assert (spine["mgmt-net"], spine["mgmt-ipv4-address"], spine["mgmt-ipv4-prefix-length"]) == (
        "fabric", "172.80.80.2", 24,
    )  # fmt: skip
    assert spine["mgmt-ipv6-address"] == "3fff:172:20:20::5"
    assert leaf1["group"] == "leaves" and leaf1["labels"]["rack"] == "1"
    assert leaf1["labels"]["clab-node-name"] == "leaf1" and "mgmt-ipv4-address" not in leaf1
    assert leaf2["mgmt-net"] == ""  # network-mode: none keeps it off the management network
    assert content["links"] == [
        {"a": {"node": "spine", "interface": "eth1", "peer": "z"}, "z": {"node": "leaf1", "interface": "eth1", "peer": "a"}},
        {"a": {"node": "spine", "interface": "eth2", "peer": "z"}, "z": {"node": "leaf2", "interface": "eth1", "peer": "a"}},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ({"type": "dummy", "endpoint": {"node": "a", "interface": "d0"}}, "no dummy interfaces"),
        ({"type": "mgmt-net", "endpoint": {"node": "a", "interface": "eth1"}}, "already on the management"),
    ],
)  # fmt: skip
def test_link_types_composer_cannot_make_are_refused_with_their_reason(
    link: dict[str, object], reason: str
) -> None:
    data = {"name": "l", "topology": {"nodes": {"a": {"kind": "linux", "image": "alpine"}}, "links": [link]}}
    with pytest.raises(SpecError) as error:
        to_compose(data)
    text = error.value.render()
    assert f"link type {link['type']!r} is not supported" in text and reason in text


@pytest.mark.parametrize(("kind", "reason"), [("host", "host's namespace"), ("ovs-bridge", "Open vSwitch")])
def test_kinds_composer_cannot_run_are_refused_with_their_reason(kind: str, reason: str) -> None:
    with pytest.raises(SpecError) as error:
        to_compose({"name": "k", "topology": {"nodes": {"br": {"kind": kind}}}})
    assert f"kind {kind!r} is not supported" in error.value.render() and reason in error.value.render()


OUTSIDE = """\
name: edge
topology:
  defaults: {kind: linux, image: alpine, cmd: sleep infinity}
  nodes:
    r1: {}
    r2: {}
    br-lan: {kind: bridge}
  links:
    - endpoints: ["r1:eth1", "host:r1-eth1"]
    - type: host
      endpoint: {node: r2, interface: eth1}
      host-interface: r2-eth1
      mtu: 1500
    - endpoints: ["br-lan:lan1", "r1:eth2"]
    - type: veth
      endpoints: [{node: r2, interface: eth2}, {node: br-lan, interface: lan2}]
    - endpoints: ["r1:eth3", "macvlan:enp0s3"]
    - type: macvlan
      endpoint: {node: r2, interface: eth3}
      host-interface: enp0s3
      mode: vepa
"""


def test_host_bridge_and_macvlan_ends_become_outside_link_ends(tmp_path: Path) -> None:
    path = tmp_path / "edge.clab.yml"
    path.write_text(OUTSIDE)
    spec = load(path).spec
    assert sorted(spec.services) == ["r1", "r2"]  # a kind: bridge node is the host's bridge, not a container
    ends = [
        (str(link.endpoints[0]), link.endpoints[1].model_dump(exclude_defaults=True)) for link in spec.links
    ]
    assert ends == [
        ("r1:eth1", {"host": "r1-eth1"}),
        ("r2:eth1", {"host": "r2-eth1"}),
        ("host:lan1", {"service": "r1", "interface": "eth2"}),
        ("r2:eth2", {"host": "lan2", "bridge": "br-lan"}),
        ("r1:eth3", {"macvlan": "enp0s3"}),
        ("r2:eth3", {"macvlan": "enp0s3", "mode": "vepa"}),
    ]
    assert spec.links[2].endpoints[0].bridge == "br-lan"  # the bridge end may come first
    # containerlab's veth MTU on host and bridge ends; a macvlan keeps its parent's unless given
    assert [link.mtu for link in spec.links] == [9500, 1500, 9500, 9500, None, None]
    assert spec.services["r1"].environment["CLAB_INTFS"] == "3"  # the ends in the node only
    assert "networks" not in spec.model_dump(exclude_defaults=True).get("services", {}).get("br-lan", {})


def test_outside_ends_build_one_ended_links_with_the_node_end_only(tmp_path: Path) -> None:
    from composer.model.build import BuildInputs, build_desired
    from composer.model.desired import OutsideEnd
    from composer.model.ids import ResourceId
    from composer.store.layout import ProjectLayout

    path = tmp_path / "edge.clab.yml"
    path.write_text(OUTSIDE)
    image = SimpleNamespace(image_id="sha256:" + "0" * 64, layer_dirs=(), config=None)
    inputs = BuildInputs(ProjectLayout(tmp_path / "state", "edge"), {"r1": image, "r2": image}, {})
    desired = build_desired(load(path), inputs)
    by_end = {link.outside: link for link in desired.links.values()}
    host = by_end[OutsideEnd(host_ifname="r1-eth1")]
    assert (host.a_container, host.a_ifname, host.b_container, host.ends) == (
        "clab-edge-r1", "eth1", "", (ResourceId("container:clab-edge-r1"),),
    )  # fmt: skip
    bridged = by_end[OutsideEnd(host_ifname="lan1", bridge="br-lan")]
    assert (bridged.a_container, bridged.a_ifname) == ("clab-edge-r1", "eth2")  # the node's end is a
    assert by_end[OutsideEnd(macvlan="enp0s3", mode="vepa")].a_ifname == "eth3"
    assert len(desired.interfaces) == len({i.rid for i in desired.interfaces.values()})
    ends = {(i.container, i.ifname) for i in desired.interfaces.values() if i.carrier.kind == "link"}
    assert ("clab-edge-r1", "eth1") in ends and not any(c == "" for c, _ in ends)
    from composer.model.codec import desired_from_json, desired_to_json

    assert desired_from_json(desired_to_json(desired)) == desired  # what a no-op up reads back


@pytest.mark.parametrize(
    ("links", "nodes", "expected"),
    [
        ([{"endpoints": ["br0:p1", "host:p2"]}], {"br0": {"kind": "bridge"}}, "a node of the lab at one end"),
        ([{"type": "host", "endpoint": {"node": "a", "interface": "eth1"}}], {}, "needs host-interface"),
        ([{"type": "macvlan", "host-interface": "eno1"}], {}, "needs endpoint"),
        ([{"endpoints": ["a:eth1", "mgmt-net:a-eth1"]}], {}, "outside the lab"),
        (
            [
                {
                    "type": "macvlan",
                    "endpoint": {"node": "a", "interface": "eth1"},
                    "host-interface": "eno1",
                    "mode": "shared",
                }
            ],
            {},
            "macvlan mode 'shared' is not one of bridge, vepa, private, passthru",
        ),
        ([], {"br0": {"kind": "bridge", "image": "alpine"}}, "'image' has no meaning for a kind: bridge"),
        ([], {"a-bridge-named-too-long": {"kind": "bridge"}}, "cannot name a Linux bridge"),
    ],
)
def test_outside_ends_composer_cannot_make_are_refused_at_load(
    links: list[object], nodes: dict[str, object], expected: str
) -> None:
    data = {"name": "l", "topology": {"nodes": {"a": {"kind": "linux", "image": "alpine"}, **nodes},
                                      "links": links}}  # fmt: skip
    with pytest.raises(SpecError) as error:
        to_compose(data)
    assert expected in error.value.render()


def test_topology_data_names_host_and_macvlan_ends_as_containerlab_does(tmp_path: Path) -> None:
    import yaml

    from composer.project.clab import topology_data

    content = topology_data(yaml.safe_load(OUTSIDE), tmp_path / "edge.clab.yml", {})
    pairs = [(link["a"]["node"], link["z"]["node"], link["z"]["interface"]) for link in content["links"]]
    assert pairs[:2] == [("r1", "host", "r1-eth1"), ("r2", "host", "r2-eth1")]
    assert pairs[5] == ("r2", "macvlan", "enp0s3")
    assert content["nodes"]["br-lan"]["kind"] == "bridge" and content["nodes"]["br-lan"]["mgmt-net"] == ""


def test_startup_delay_starts_the_nodes_command_later() -> None:
    data = {
        "name": "sd",
        "topology": {
            "nodes": {
                "late": {"kind": "linux", "image": "alpine", "cmd": "sleep 60", "startup-delay": 3},
                "both": {"kind": "linux", "image": "alpine", "cmd": ["top"], "startup-delay": 2,
                         "exec": ["ip link set eth1 up"]},
                "bad": {"kind": "linux", "image": "alpine", "cmd": "true", "startup-delay": "5s"},
            }
        },
    }  # fmt: skip
    with pytest.raises(SpecError) as caught:
        to_compose(data)
    assert [issue.path for issue in caught.value.issues] == ["topology.nodes.bad.startup-delay"]
    del data["topology"]["nodes"]["bad"]  # type: ignore[attr-defined]
    services = to_compose(data)["services"]
    assert services["late"]["entrypoint"] == ["/bin/sh", "-c", 'sleep 3; exec "$@"', "sh"]
    assert services["late"]["command"] == ["sleep", "60"]
    assert services["both"]["entrypoint"] == [
        "/bin/sh",
        "-c",
        'sleep 2; ip link set eth1 up; exec "$@"',
        "sh",
    ]
