"""Links with an end outside the project (the host, an existing bridge, a macvlan) against the fake host.

The fake host keeps the host's interfaces with their markers, so these tests see
that up makes the host end marked, that down removes only what carries the
project's marker, and that what is not ours stops up before anything is made.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from composer.errors import SpecError
from composer.model.naming import ifalias
from tests.support.projects import load, write_project

LAB = """\
name: edge
services:
  r1: {rootfs: ROOTFS, network_mode: none, command: [sleep, infinity]}
links:
  - endpoints: ["r1:eth1", {host: r1-eth1}]
    addressing: node
  - endpoints: [{host: lan1, bridge: br-lan}, "r1:eth2"]
    mtu: 1500
  - endpoints: ["r1:eth3", {macvlan: enp0s3, mode: private}]
"""
HOST_LINK = "link:host:r1-eth1--r1:eth1"


@pytest.fixture
def setup(tmp_path: Path, busybox_rootfs: Path) -> tuple[Path, api.Roots, FakeHost]:
    project = write_project(tmp_path / "edge", LAB, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost(bridges={"br-lan"}, host_interfaces={"enp0s3": ("", "")})
    return project, roots, host


def test_up_makes_marked_host_ends_and_down_removes_them_only(
    setup: tuple[Path, api.Roots, FakeHost],
) -> None:
    project, roots, host = setup
    plan = api.up(load(project), api.UpOptions(), roots=roots, host=host).plan.render()
    created = [line.split()[1] for line in plan.splitlines() if line.startswith("create")]
    assert created == [
        "container:edge-r1-1", "link:host:lan1--r1:eth2", HOST_LINK, "link:macvlan:enp0s3--r1:eth3",
    ]  # fmt: skip
    assert host.host_interfaces["r1-eth1"] == ("veth", ifalias("edge", HOST_LINK))
    assert host.host_interfaces["lan1"][1] == ifalias("edge", "link:host:lan1--r1:eth2")
    netns = next(path for path in host.namespaces if path.endswith("/edge-r1-1"))
    assert sorted(host.namespaces[netns].interfaces) == ["eth1", "eth2", "eth3"]  # eth3: the macvlan
    assert (
        api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=host)
        .plan.render()
        .startswith("nothing to do")
    )
    api.down("edge", api.DownOptions(), roots=roots, host=host)
    assert host.bridges == {"br-lan"}  # the user's bridge and the macvlan's parent stay, ours go
    assert host.host_interfaces == {"enp0s3": ("", "")}
    assert host.leftovers() == ["bridge br-lan"]


def test_down_leaves_a_host_interface_that_lost_our_marker(setup: tuple[Path, api.Roots, FakeHost]) -> None:
    project, roots, host = setup
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    host.host_interfaces["r1-eth1"] = ("veth", "")  # no longer ours (say, made again by the user)
    api.down("edge", api.DownOptions(), roots=roots, host=host)
    assert host.host_interfaces["r1-eth1"] == ("veth", "")


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ({"host_interfaces": {"r1-eth1": ("dummy", ""), "enp0s3": ("", "")}, "bridges": {"br-lan"}},
         "host interface r1-eth1 already exists and is not this link's"),
        ({"host_interfaces": {"r1-eth1": ("veth", "composer:other:link:x"), "enp0s3": ("", "")},
          "bridges": {"br-lan"}},
         "host interface r1-eth1 already exists and is not this link's"),
        ({"host_interfaces": {"enp0s3": ("", "")}}, "bridge br-lan does not exist on the host"),
        ({"host_interfaces": {"enp0s3": ("", ""), "br-lan": ("veth", "")}}, "bridge br-lan is a veth interface"),
        ({"bridges": {"br-lan"}}, "host interface enp0s3, the macvlan's parent, does not exist"),
    ],
)  # fmt: skip
def test_what_is_not_ours_or_missing_stops_up_before_anything_is_made(
    setup: tuple[Path, api.Roots, FakeHost], machine: dict[str, object], expected: str
) -> None:
    project, roots, _ = setup
    host = FakeHost(**machine)  # type: ignore[arg-type]
    with pytest.raises(SpecError) as error:
        api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert expected in error.value.render()
    assert re.search(
        r"compose.yaml:\d+:\d+: links\.\d\.endpoints\.\d: ", error.value.render()
    )  # the end, placed
    assert host.calls == []  # nothing was made


def test_without_root_outside_ends_are_refused(setup: tuple[Path, api.Roots, FakeHost]) -> None:
    project, roots, host = setup
    host.rootless = True
    with pytest.raises(SpecError) as error:
        api.up(load(project), api.UpOptions(), roots=roots, host=host)
    text = error.value.render()
    assert text.count("not supported without root") == 3 and "the project's own" in text
    assert host.calls == []


def test_a_crash_after_the_intent_is_repaired_by_up_and_by_down(
    setup: tuple[Path, api.Roots, FakeHost],
) -> None:
    project, roots, host = setup
    rehearsal = FakeHost(bridges={"br-lan"}, host_interfaces={"enp0s3": ("", "")})
    api.up(load(project), api.UpOptions(), roots=api.Roots(state=roots.state.parent / "dry", images=roots.images),
           host=rehearsal)  # fmt: skip
    host.fail_at = rehearsal.calls.index(f"create_outside_end {HOST_LINK}") + 1
    with pytest.raises(Exception, match="injected failure"):
        api.up(load(project), api.UpOptions(), roots=roots, host=host)
    host.fail_at = None
    api.up(load(project), api.UpOptions(), roots=roots, host=host)  # the recorded intent is made again
    assert host.host_interfaces["r1-eth1"][1] == ifalias("edge", HOST_LINK)
    api.down("edge", api.DownOptions(), roots=roots, host=host)
    assert host.leftovers() == ["bridge br-lan"]


def test_a_host_end_moved_to_another_node_interface_is_removed_before_it_is_made_again(
    setup: tuple[Path, api.Roots, FakeHost],
) -> None:
    project, roots, host = setup
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    project.write_text(
        project.read_text().replace('"r1:eth1", {host: r1-eth1}', '"r1:eth4", {host: r1-eth1}')
    )
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    steps = [c for c in host.calls if c.startswith(("remove_link", "create_outside_end link:host:r1-eth1"))]
    assert steps[-2:] == [
        "remove_link",
        "create_outside_end link:host:r1-eth1--r1:eth4",
    ]  # the name is free first
    assert host.host_interfaces["r1-eth1"][1] == ifalias("edge", "link:host:r1-eth1--r1:eth4")


def test_link_views_name_the_outside_end_and_a_live_rate_changes_the_node_end(
    setup: tuple[Path, api.Roots, FakeHost],
) -> None:
    from dataclasses import replace

    from composer.engine import live as engine_live
    from composer.store import live
    from composer.store.layout import StateRoot

    project, roots, host = setup
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    layout = StateRoot(roots.state).project("edge")
    peers = {(view.carrier, view.peer) for view in engine_live.views(layout, host)}
    assert (HOST_LINK, "host end r1-eth1") in peers
    assert ("link:host:lan1--r1:eth2", "host end lan1 on bridge br-lan") in peers
    assert ("link:macvlan:enp0s3--r1:eth3", "macvlan (private) on enp0s3") in peers

    def edit(_file: live.EndSetting, now: live.EndSetting) -> live.EndSetting | None:
        return replace(now, rate=2_000_000)

    plan = engine_live.change(layout, host, "r1:eth1", edit).plan.render()
    assert plan.split()[:2] == ["update", HOST_LINK] and "r1:eth1: rate" in plan
