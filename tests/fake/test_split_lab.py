"""A lab split across hosts, against the fake host: each host's part, its plan, its tunnel ends.

The fake host stands in for the machine (the real VXLAN path is in
tests/kernel/hosts); what is tested here is which resources each host's part
holds, that both parts agree on the tunnel, and that a second ``up`` of a part
has nothing to do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from composer.errors import PlanError, SpecError
from composer.model.desired import DesiredState
from composer.model.hosts import vni_of
from composer.model.ids import ResourceId
from tests.support.projects import load, write_project

SPLIT = """\
name: split
hosts:
  h1: {address: 192.0.2.1}
  h2: {address: 192.0.2.2}
x-router: &router
  rootfs: ROOTFS
  network_mode: none
  command: [sleep, infinity]
services:
  r1: {<<: *router, host: h1, routes: ["10.0.23.0/30 via 10.0.12.2"]}
  r2: {<<: *router, host: h2, depends_on: [r1]}
  r3: {<<: *router, host: h2}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/30, 10.0.12.2/30]
    rate: 10mbit
  - endpoints: [r2:eth2, r3:eth1]
    ipv4: [10.0.23.1/30, 10.0.23.2/30]
"""
CROSS = ResourceId("link:r1:eth1--r2:eth1")


def _part(tmp_path: Path, rootfs: Path, host: str | None) -> tuple[DesiredState, str, FakeHost]:
    project = write_project(tmp_path / "split", SPLIT, rootfs)
    roots = api.Roots(state=tmp_path / f"state-{host}", images=tmp_path / "images")
    fake = FakeHost()
    result = api.up(load(project), api.UpOptions(host=host), roots=roots, host=fake)
    again = api.up(load(project), api.UpOptions(host=host, dry_run=True), roots=roots, host=fake)
    return result.desired, again.plan.render(), fake


def test_each_host_makes_its_services_and_a_tunnel_end(tmp_path: Path, busybox_rootfs: Path) -> None:
    h1, h1_again, fake1 = _part(tmp_path, busybox_rootfs, "h1")
    h2, h2_again, _ = _part(tmp_path, busybox_rootfs, "h2")
    assert sorted(c.service for c in h1.containers.values()) == ["r1"]
    assert sorted(c.service for c in h2.containers.values()) == ["r2", "r3"]
    one, two = h1.links[CROSS], h2.links[CROSS]
    assert one.tunnel is not None and two.tunnel is not None
    assert (one.a_container, one.tunnel.local, one.tunnel.remote) == ("split-r1-1", "192.0.2.1", "192.0.2.2")
    assert (two.a_container, two.tunnel.local, two.tunnel.remote) == ("split-r2-1", "192.0.2.2", "192.0.2.1")
    assert one.tunnel.vni == two.tunnel.vni == vni_of("split", CROSS)
    assert h2.links[ResourceId("link:r2:eth2--r3:eth1")].tunnel is None
    end = h1.interfaces[one.interfaces[0]]
    assert (end.ifname, end.addresses, end.mtu, end.rate) == ("eth1", ("10.0.12.1/30",), 1450, 10_000_000)
    assert [r.describe() for r in h1.routes.values()] == ["10.0.23.0/30 via 10.0.12.2"]
    assert h2.containers[ResourceId("container:split-r2-1")].depends_on == {}  # r1 is not waited for from h2
    assert any(step.startswith(f"create_tunnel {CROSS}") for step in fake1.calls)
    assert h1_again.startswith("nothing to do") and h2_again.startswith("nothing to do")


def test_without_host_the_whole_lab_runs_here(tmp_path: Path, busybox_rootfs: Path) -> None:
    whole, _, _ = _part(tmp_path, busybox_rootfs, None)
    assert len(whole.containers) == 3
    assert all(link.tunnel is None for link in whole.links.values())


def test_an_unknown_host_is_refused(tmp_path: Path, busybox_rootfs: Path) -> None:
    with pytest.raises(SpecError, match="no host named 'h9'"):
        _part(tmp_path, busybox_rootfs, "h9")


def test_down_refuses_another_hosts_part(tmp_path: Path, busybox_rootfs: Path) -> None:
    project = write_project(tmp_path / "split", SPLIT, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    fake = FakeHost()
    api.up(load(project), api.UpOptions(host="h1"), roots=roots, host=fake)
    with pytest.raises(PlanError, match="host h1's part, not h2's"):
        api.down("split", api.DownOptions(host="h2"), roots=roots, host=fake)
    api.down("split", api.DownOptions(host="h1"), roots=roots, host=fake)
    assert fake.links == set()


@pytest.mark.parametrize(
    ("r3", "message"),
    [
        ("  r3: {<<: *router, host: h3}", "services.r3.host: unknown host `h3`"),
        ("  r3: {<<: *router}", "services.r3: service `r3` has no `host:`"),
    ],
)
def test_placement_errors_name_the_field(tmp_path: Path, busybox_rootfs: Path, r3: str, message: str) -> None:
    text = SPLIT.replace("  r3: {<<: *router, host: h2}", r3)
    project = write_project(tmp_path / "bad", text, busybox_rootfs)
    with pytest.raises(SpecError, match=message):
        load(project)


def test_a_network_across_hosts_needs_its_subnet(tmp_path: Path, busybox_rootfs: Path) -> None:
    text = SPLIT.replace("  network_mode: none\n", "")
    project = write_project(tmp_path / "bad", text, busybox_rootfs)
    with pytest.raises(SpecError, match="network `default` spans hosts h1, h2: its subnet must be given"):
        load(project)


LAN = """\
name: lan
hosts:
  h1: {address: 192.0.2.1}
  h2: {address: 192.0.2.2}
services:
  c1: {rootfs: ROOTFS, host: h1, command: [sleep, infinity], networks: [lan]}
  c2: {rootfs: ROOTFS, host: h2, command: [sleep, infinity], networks: [lan]}
  c3: {rootfs: ROOTFS, host: h2, command: [sleep, infinity], networks: [local]}
networks:
  lan: {ipam: {config: [{subnet: 10.77.0.0/24}]}}
  local: {}
"""


def test_a_network_across_hosts_is_one_segment(tmp_path: Path, busybox_rootfs: Path) -> None:
    project = write_project(tmp_path / "lan", LAN, busybox_rootfs)
    parts = {}
    for host in ("h1", "h2"):
        roots = api.Roots(state=tmp_path / f"state-{host}", images=tmp_path / "images")
        parts[host] = api.up(load(project), api.UpOptions(host=host), roots=roots, host=FakeHost()).desired
    lan1, lan2 = (parts[h].networks[ResourceId("network:lan")] for h in ("h1", "h2"))
    assert lan1.segment is not None and lan2.segment is not None
    assert lan1.segment.vni == lan2.segment.vni
    assert (lan1.segment.local, lan1.segment.remotes) == ("192.0.2.1", ("192.0.2.2",))
    assert lan1.segment.gateway_here and not lan2.segment.gateway_here
    assert lan1.bridge_addresses == ["10.77.0.1/24"] and lan2.bridge_addresses == []
    assert lan1.mtu == lan2.mtu == 1450
    assert parts["h2"].networks[ResourceId("network:local")].segment is None  # only h2's
    assert "network:local" not in [str(rid) for rid in parts["h1"].networks]
    roots = api.Roots(state=tmp_path / "state-whole", images=tmp_path / "images")
    whole = api.up(load(project), api.UpOptions(), roots=roots, host=FakeHost()).desired
    for host, name in (("h1", "lan-c1-1"), ("h2", "lan-c2-1")):  # every host plans the whole's addresses
        rid = ResourceId(f"container:{name}")
        assert parts[host].containers[rid].attachments == whole.containers[rid].attachments
    assert {i.mtu for i in parts["h2"].interfaces.values() if i.container == "lan-c2-1"} == {1450}


def test_graph_draws_hosts_as_clusters_and_tunnels_dashed(tmp_path: Path, busybox_rootfs: Path) -> None:
    from composer.project.graph import render_dot

    text = render_dot(load(write_project(tmp_path / "split", SPLIT, busybox_rootfs)).spec)
    assert 'subgraph cluster_0 {\n    label="h1 (192.0.2.1)"; style=rounded;\n    "service:r1"' in text
    assert '"service:r1" -- "service:r2"' in text and "penwidth=2, style=dashed]" in text
    assert text.count("style=dashed]") == 1  # r2 -- r3 is a local veth


def test_a_host_needs_no_image_of_another_hosts_service(tmp_path: Path, busybox_rootfs: Path) -> None:
    remote = "  r3: {image: example/router:1, network_mode: none, host: h2, command: [sleep, infinity]}"
    project = write_project(
        tmp_path / "split", SPLIT.replace("  r3: {<<: *router, host: h2}", remote), busybox_rootfs
    )
    fake = FakeHost()  # it has no image example/router:1: asking for it would raise ImageError
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    result = api.up(load(project), api.UpOptions(host="h1"), roots=roots, host=fake)
    assert [c.service for c in result.desired.containers.values()] == ["r1"]
