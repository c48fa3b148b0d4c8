"""Golden plans of a routed lab: every kind of change keeps the declared routes and interfaces.

The fake host keeps each namespace's interfaces and routes, and drops the routes
through an interface when the interface goes, as the kernel does; so a plan that
forgets to put a route back leaves the fake lab unrouted, and the checks after
each change see it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from tests.support.projects import load, write_project

LAB = """\
name: lab
x-router: &router
  rootfs: ROOTFS
  network_mode: none
  command: [sleep, infinity]
services:
  r1:
    <<: *router
    routes: [{to: 10.0.23.0/30, via: 10.0.12.2}]
  r2:
    <<: *router
    sysctls: {net.ipv4.ip_forward: 1, net.ipv4.conf.eth1.rp_filter: 0}
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
R1_ROUTES = {("10.0.23.0/30", "10.0.12.2", "eth1")}
R3_ROUTES = {("10.0.12.0/30", "10.0.23.1", "eth1")}


@pytest.fixture
def lab(tmp_path: Path, busybox_rootfs: Path) -> tuple[Path, api.Roots, FakeHost]:
    project = write_project(tmp_path / "lab", LAB, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    return project, roots, host


def _plan(lab: tuple[Path, api.Roots, FakeHost]) -> str:
    project, roots, host = lab
    return api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=host).plan.render()


def _converge(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    """Apply the plan, then check that nothing is left to do and the declared routes are there."""
    project, roots, host = lab
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert _plan(lab) == NOTHING
    assert _routes(host, "lab-r1-1") == R1_ROUTES
    assert _routes(host, "lab-r3-1") == R3_ROUTES


def _netns(host: FakeHost, container: str) -> str:
    return next(path for path in host.namespaces if path.endswith(f"/{container}"))


def _routes(host: FakeHost, container: str) -> set[tuple[str, str, str]]:
    return host.namespaces[_netns(host, container)].routes


def _edit(project: Path, old: str, new: str) -> None:
    project.write_text(project.read_text().replace(old, new, 1))


def test_first_up_makes_the_routes_after_their_links(tmp_path: Path, busybox_rootfs: Path) -> None:
    project = write_project(tmp_path / "lab", LAB, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    plan = api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=FakeHost()).plan
    assert plan.render(edges=True) == (
        "create         container:lab-r1-1                       missing\n"
        "create         container:lab-r2-1                       missing\n"
        "create         container:lab-r3-1                       missing\n"
        "create         link:r1:eth1--r2:eth1                    missing\n"
        "    after create container:lab-r1-1, create container:lab-r2-1\n"
        "create         link:r2:eth2--r3:eth1                    missing\n"
        "    after create container:lab-r2-1, create container:lab-r3-1\n"
        "create         route:lab-r1-1:10.0.23.0/30              via 10.0.12.2: link r1:eth1--r2:eth1 made\n"
        "    after create container:lab-r1-1, create link:r1:eth1--r2:eth1\n"
        "create         route:lab-r3-1:10.0.12.0/30              via 10.0.23.1: link r2:eth2--r3:eth1 made\n"
        "    after create container:lab-r3-1, create link:r2:eth2--r3:eth1\n"
        "start          container:lab-r1-1                       created\n"
        "    after create container:lab-r1-1, create link:r1:eth1--r2:eth1, create route:lab-r1-1:10.0.23.0/30\n"
        "start          container:lab-r2-1                       created\n"
        "    after create container:lab-r2-1, create link:r1:eth1--r2:eth1, create link:r2:eth2--r3:eth1\n"
        "start          container:lab-r3-1                       created\n"
        "    after create container:lab-r3-1, create link:r2:eth2--r3:eth1, create route:lab-r3-1:10.0.12.0/30\n"
    )


def test_a_rate_edit_changes_both_ends_in_place(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    pids = dict(lab[2].processes)
    _edit(lab[0], "rate: 10mbit", "rate: 2mbit")
    assert _plan(lab) == ("update         link:r1:eth1--r2:eth1                    rate 10mbit -> 2mbit\n")
    _converge(lab)
    assert lab[2].processes == pids  # the same containers, the same PIDs


def test_an_mtu_edit_is_made_in_place(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    _edit(
        lab[0],
        "    ipv4: [10.0.23.1/30, 10.0.23.2/30]",
        "    ipv4: [10.0.23.1/30, 10.0.23.2/30]\n    mtu: 1400",
    )
    assert _plan(lab) == ("update         link:r2:eth2--r3:eth1                    mtu 1500 -> 1400\n")
    _converge(lab)


def test_an_address_edit_moves_the_address_and_the_route_with_it(
    lab: tuple[Path, api.Roots, FakeHost],
) -> None:
    project, _, host = lab
    _edit(project, "[10.0.23.1/30, 10.0.23.2/30]", "[10.0.23.5/30, 10.0.23.6/30]")
    _edit(project, '"10.0.12.0/30 via 10.0.23.1"', '"10.0.12.0/30 via 10.0.23.5"')
    assert _plan(lab) == (
        "remove         route:lab-r3-1:10.0.12.0/30              via 10.0.23.5: changed\n"
        "update         link:r2:eth2--r3:eth1                    r2:eth2: address 10.0.23.5/30 missing, address 10.0.23.1/30 not in the file; r3:eth1: address 10.0.23.6/30 missing, address 10.0.23.2/30 not in the file\n"
        "create         route:lab-r3-1:10.0.12.0/30              via 10.0.23.5: changed\n"
    )
    api.up(load(project), api.UpOptions(), roots=lab[1], host=host)
    assert _plan(lab) == NOTHING
    assert _routes(host, "lab-r3-1") == {("10.0.12.0/30", "10.0.23.5", "eth1")}


def test_new_ends_make_a_new_link_and_move_the_route(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    project, _, host = lab
    _edit(project, "endpoints: [r1:eth1, r2:eth1]", "endpoints: [r1:eth7, r2:eth1]")
    assert _plan(lab) == (
        "remove         link:r1:eth1--r2:eth1                    no longer in the project\n"
        "create         link:r1:eth7--r2:eth1                    missing\n"
        "create         route:lab-r1-1:10.0.23.0/30              via 10.0.12.2: link r1:eth7--r2:eth1 made\n"
    )
    api.up(load(project), api.UpOptions(), roots=lab[1], host=host)
    assert _plan(lab) == NOTHING
    assert _routes(host, "lab-r1-1") == {("10.0.23.0/30", "10.0.12.2", "eth7")}


def test_recreating_the_middle_router_keeps_its_network_and_its_neighbours_ends(
    lab: tuple[Path, api.Roots, FakeHost],
) -> None:
    project, _roots, host = lab
    neighbours = {c: dict(host.namespaces[_netns(host, c)].interfaces) for c in ("lab-r1-1", "lab-r3-1")}
    r2 = host.namespaces[_netns(host, "lab-r2-1")]
    _edit(project, "net.ipv4.ip_forward: 1,", "net.ipv4.ip_forward: 1, net.ipv4.conf.all.rp_filter: 0,")
    assert _plan(lab) == (
        "recreate       container:lab-r2-1                       config hash changed (network kept)\n"
        "start          container:lab-r2-1                       config hash changed\n"
    )
    calls = len(host.calls)
    _converge(lab)
    assert host.calls[calls:calls + 3] == [
        "stop_container lab-r2-1", "remove_sandbox lab-r2-1 (network kept)",
        "create_sandbox lab-r2-1 (network kept)",
    ]  # fmt: skip
    assert host.namespaces[_netns(host, "lab-r2-1")] is r2  # the same namespace, interfaces and all
    for container, interfaces in neighbours.items():
        assert host.namespaces[_netns(host, container)].interfaces == interfaces


def test_force_recreate_makes_the_middle_router_afresh_and_puts_both_routes_back(
    lab: tuple[Path, api.Roots, FakeHost],
) -> None:
    project, roots, host = lab
    plan = api.up(
        load(project), api.UpOptions(dry_run=True, force_recreate=True), roots=roots, host=host
    ).plan
    r2 = [line for line in plan.render().splitlines() if "lab-r2-1" in line or "link:" in line]
    assert r2 == [
        "stop           container:lab-r2-1                       --force-recreate",
        "remove         link:r1:eth1--r2:eth1                    an end's container is recreated",
        "remove         link:r2:eth2--r3:eth1                    an end's container is recreated",
        "remove         container:lab-r2-1                       --force-recreate",
        "create         container:lab-r2-1                       --force-recreate",
        "create         link:r1:eth1--r2:eth1                    an end's container is recreated",
        "create         link:r2:eth2--r3:eth1                    an end's container is recreated",
        "start          container:lab-r2-1                       --force-recreate",
    ]
    api.up(load(project), api.UpOptions(force_recreate=True), roots=roots, host=host)
    assert _plan(lab) == NOTHING
    assert _routes(host, "lab-r1-1") == R1_ROUTES
    assert _routes(host, "lab-r3-1") == R3_ROUTES


def test_a_per_interface_sysctl_is_changed_in_place(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    _edit(lab[0], "net.ipv4.conf.eth1.rp_filter: 0", "net.ipv4.conf.eth1.rp_filter: 2")
    assert _plan(lab) == (
        "update         link:r1:eth1--r2:eth1                    r2:eth1: net.ipv4.conf.eth1.rp_filter 0 -> 2\n"
    )
    _converge(lab)


def test_a_route_deleted_by_hand_is_put_back(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    lab[2].namespaces[_netns(lab[2], "lab-r1-1")].routes.clear()
    assert _plan(lab) == (
        "create         route:lab-r1-1:10.0.23.0/30              via 10.0.12.2: missing from the routing table\n"
    )
    _converge(lab)


def test_a_link_end_deleted_by_hand_makes_the_link_again(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    host = lab[2]
    host.drop_interface(_netns(host, "lab-r3-1"), "eth1")
    assert _plan(lab) == (
        "remove         link:r2:eth2--r3:eth1                    its end lab-r3-1:eth1 is gone\n"
        "create         link:r2:eth2--r3:eth1                    its end lab-r3-1:eth1 is gone\n"
        "create         route:lab-r3-1:10.0.12.0/30              via 10.0.23.1: link r2:eth2--r3:eth1 re-created\n"
    )
    _converge(lab)


def test_restarting_a_router_changes_nothing(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    _project, roots, host = lab
    from composer.store.layout import StateRoot
    from composer.verbs import lifecycle

    lifecycle.restart(StateRoot(roots.state).project("lab"), host, ["r2"])
    assert _plan(lab) == NOTHING
    _converge(lab)


def test_a_route_dropped_from_the_file_is_removed(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    project, roots, host = lab
    _edit(project, "    routes: [{to: 10.0.23.0/30, via: 10.0.12.2}]\n", "")
    assert _plan(lab) == "remove         route:lab-r1-1:10.0.23.0/30              no longer in the project\n"
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert _routes(host, "lab-r1-1") == set()
    assert _plan(lab) == NOTHING


def test_an_attachment_removed_and_added_again_keeps_the_default_route(
    tmp_path: Path, busybox_rootfs: Path
) -> None:
    text = """\
name: net
services:
  app:
    rootfs: ROOTFS
    command: [sleep, infinity]
    networks: [front, back]
networks:
  front: {ipam: {config: [{subnet: 10.30.0.0/24}]}}
  back: {ipam: {config: [{subnet: 10.31.0.0/24}]}}
"""
    project = write_project(tmp_path / "net", text, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    netns = next(iter(host.namespaces))
    assert ("0.0.0.0/0", "10.30.0.1", "eth0") in host.namespaces[netns].routes
    _edit(project, "networks: [front, back]", "networks: [back]")
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert host.namespaces[netns].routes == {("0.0.0.0/0", "10.31.0.1", "eth0")}
    _edit(project, "networks: [back]", "networks: [front, back]")
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert ("0.0.0.0/0", "10.30.0.1", "eth0") in host.namespaces[netns].routes
    plan = api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=host).plan
    assert plan.render() == NOTHING


def test_down_leaves_no_route_record(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    _project, roots, host = lab
    result = api.down("lab", api.DownOptions(), roots=roots, host=host)
    assert result.leftovers == []
    assert host.leftovers() == []


def test_netem_settings_are_changed_in_place_and_named_in_the_plan(
    lab: tuple[Path, api.Roots, FakeHost],
) -> None:
    """The fake host has netem (this kernel has not): the plan compares every netem field."""
    pids = dict(lab[2].processes)
    _edit(lab[0], "rate: 10mbit", "rate: 10mbit\n    delay: 10ms\n    loss: 1%\n    corrupt: 0.1%")
    assert _plan(lab) == (
        "update         link:r1:eth1--r2:eth1                    "
        "delay none -> 10ms; loss none -> 1%; corrupt none -> 0.1%\n"
    )
    _converge(lab)
    _edit(lab[0], "delay: 10ms", "delay: 20ms\n    jitter: 2ms\n    reorder: 25%")
    assert _plan(lab) == (
        "update         link:r1:eth1--r2:eth1                    "
        "delay 10ms -> 20ms; jitter none -> 2ms; reorder none -> 25%\n"
    )
    _converge(lab)
    assert lab[2].processes == pids


def test_one_direction_is_shaped_on_the_sending_end_only(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    _edit(lab[0], "    ipv4: [10.0.23.1/30, 10.0.23.2/30]", "    ipv4: [10.0.23.1/30, 10.0.23.2/30]\n"
          "    b_to_a: {rate: 5mbit}")  # fmt: skip
    assert (
        _plan(lab) == "update         link:r2:eth2--r3:eth1                    r3:eth1: rate none -> 5mbit\n"
    )
    _converge(lab)
    _edit(lab[0], "rate: 10mbit", "rate: 10mbit\n    a_to_b: {rate: 1mbit}")
    assert (
        _plan(lab)
        == "update         link:r1:eth1--r2:eth1                    r1:eth1: rate 10mbit -> 1mbit\n"
    )
    _converge(lab)


def test_a_link_set_down_in_the_file_loses_its_routes_until_it_is_up_again(
    lab: tuple[Path, api.Roots, FakeHost],
) -> None:
    project, roots, host = lab
    pids = dict(host.processes)
    _edit(project, "    rate: 10mbit", "    rate: 10mbit\n    state: down")
    assert _plan(lab) == "update         link:r1:eth1--r2:eth1                    up -> down\n"
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert _routes(host, "lab-r1-1") == set()  # gone with the interface, as in the kernel
    assert _plan(lab) == NOTHING  # and not put back while the file wants the link down
    _edit(project, "    state: down\n", "")
    assert _plan(lab) == (
        "update         link:r1:eth1--r2:eth1                    down -> up\n"
        "create         route:lab-r1-1:10.0.23.0/30              via 10.0.12.2: missing from the routing table\n"
    )
    _converge(lab)
    assert host.processes == pids
