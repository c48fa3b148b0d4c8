"""Live link changes (``composer link ...``) against the fake host: what they plan, record and leave.

The fake host keeps each namespace's interfaces and routes and drops the routes
through an interface taken down, as the kernel does; it has netem (the kernel
the kernel tests run on has not), so netem changes are planned and recorded here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import composer as api
from composer.engine import live as engine_live
from composer.engine.hosts.fake import FakeHost
from composer.errors import PlanError, StateError
from composer.store import live
from composer.store.layout import StateRoot
from tests.fake.test_lab_plans import LAB, NOTHING, R1_ROUTES
from tests.support.projects import load, write_project


@pytest.fixture
def lab(tmp_path: Path, busybox_rootfs: Path) -> tuple[Path, api.Roots, FakeHost]:
    project = write_project(tmp_path / "lab", LAB, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    return project, roots, host


def _change(lab: tuple[Path, api.Roots, FakeHost], target: str | None, **values: object) -> str:
    layout = StateRoot(lab[1].state).project("lab")

    def edit(_file: live.EndSetting, now: live.EndSetting) -> live.EndSetting | None:
        return replace(now, **values) if values else None

    return engine_live.change(layout, lab[2], target, edit).plan.render()


def _plan(lab: tuple[Path, api.Roots, FakeHost]) -> str:
    project, roots, host = lab
    return api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=host).plan.render()


def _interface(host: FakeHost, container: str, ifname: str) -> object:
    netns = next(path for path in host.namespaces if path.endswith(f"/{container}"))
    return host.namespaces[netns].interfaces[ifname]


def test_a_live_rate_changes_one_end_and_is_recorded_until_up(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    _project, roots, host = lab
    pids = dict(host.processes)
    calls = len(host.calls)
    assert _change(lab, "r1:eth1", rate=2_000_000) == (
        "update         link:r1:eth1--r2:eth1                    r1:eth1: rate 10mbit -> 2mbit\n"
    )
    assert host.calls[calls:] == ["update_interface interface:lab-r1-1:eth1",
                                  "update_interface interface:lab-r2-1:eth1"]  # fmt: skip
    assert _interface(host, "lab-r1-1", "eth1").rate == 2_000_000  # type: ignore[attr-defined]
    assert _interface(host, "lab-r2-1", "eth1").rate == 10_000_000  # type: ignore[attr-defined]
    layout = StateRoot(roots.state).project("lab")
    assert engine_live.differences(layout) == [("r1:eth1", ["rate 10mbit -> 2mbit"])]
    assert host.processes == pids
    # The file stays the truth: up puts its value back and forgets the live change.
    assert (
        _plan(lab)
        == "update         link:r1:eth1--r2:eth1                    r1:eth1: rate 2mbit -> 10mbit\n"
    )
    api.up(load(lab[0]), api.UpOptions(), roots=roots, host=host)
    assert engine_live.differences(layout) == []
    assert _plan(lab) == NOTHING
    assert host.processes == pids


def test_netem_settings_and_both_ends_by_the_link_name(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    assert _change(lab, "r1:eth1--r2:eth1", delay=0.01, loss=1.0) == (
        "update         link:r1:eth1--r2:eth1                    delay none -> 10ms; loss none -> 1%\n"
    )
    layout = StateRoot(lab[1].state).project("lab")
    assert [end for end, _ in engine_live.differences(layout)] == ["r1:eth1", "r2:eth1"]
    assert _change(lab, None) == (  # reset: every live change goes
        "update         link:r1:eth1--r2:eth1                    delay 10ms -> none; loss 1% -> none\n"
    )
    assert engine_live.differences(layout) == []
    assert _plan(lab) == NOTHING


def test_an_end_down_drops_its_routes_and_up_puts_them_back(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    host = lab[2]
    assert _change(lab, "r1:eth1", up=False) == (
        "update         link:r1:eth1--r2:eth1                    r1:eth1: up -> down\n"
    )
    netns = next(path for path in host.namespaces if path.endswith("/lab-r1-1"))
    assert host.namespaces[netns].routes == set()
    assert _change(lab, "r1:eth1", up=True) == (
        "update         link:r1:eth1--r2:eth1                    r1:eth1: down -> up\n"
        "create         route:lab-r1-1:10.0.23.0/30              via 10.0.12.2: missing from the routing table\n"
    )
    assert host.namespaces[netns].routes == R1_ROUTES
    assert engine_live.differences(StateRoot(lab[1].state).project("lab")) == []  # the file's values again


def test_a_link_change_never_runs_the_rest_of_the_plan(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    """A container that died is up's business: the link verb changes the link and nothing else."""
    host = lab[2]
    host.processes.pop("lab-r3-1")
    assert "start" in _plan(lab)
    assert _change(lab, "r2:eth2", rate=1_000_000) == (
        "update         link:r2:eth2--r3:eth1                    r2:eth2: rate none -> 1mbit\n"
    )
    assert "lab-r3-1" not in host.processes


def test_bad_targets_and_missing_netem_are_refused_before_anything_is_recorded(
    lab: tuple[Path, api.Roots, FakeHost],
) -> None:
    layout = StateRoot(lab[1].state).project("lab")
    with pytest.raises(StateError, match=r"no link end or interface 'r9:eth1'") as error:
        _change(lab, "r9:eth1", rate=1)
    assert error.value.hint is not None and "r1:eth1" in error.value.hint
    with pytest.raises(PlanError, match="reorder needs a delay"):
        _change(lab, "r1:eth1", reorder=5.0)
    lab[2].has_netem = False
    with pytest.raises(PlanError, match=r"kernel lacks the netem qdisc \(sch_netem\)"):
        _change(lab, "r1:eth1", delay=0.01)
    assert engine_live.differences(layout) == []
    assert _change(lab, "r1:eth1", rate=5_000_000).startswith("update ")  # rate needs no netem


def test_the_link_verbs_need_a_lab_that_is_up(tmp_path: Path) -> None:
    layout = StateRoot(tmp_path / "state").project("nothing")
    with pytest.raises(StateError, match="has no links to change"):
        engine_live.change(layout, FakeHost(), "r1:eth1", lambda f, n: n)
    assert engine_live.views(layout, FakeHost()) == []


def test_down_forgets_the_live_state(lab: tuple[Path, api.Roots, FakeHost]) -> None:
    _change(lab, "r1:eth1", rate=2_000_000)
    layout = StateRoot(lab[1].state).project("lab")
    api.down("lab", api.DownOptions(), roots=lab[1], host=lab[2])
    assert not layout.live_links.exists()


BRIDGED = """\
name: br
services:
  a:
    rootfs: ROOTFS
    command: [sleep, infinity]
    networks:
      lan: {rate: 2mbit, delay: 5ms}
  b:
    rootfs: ROOTFS
    command: [sleep, infinity]
    networks: [lan]
networks:
  lan: {ipam: {config: [{subnet: 10.77.0.0/24}]}}
"""


def test_a_bridge_attachment_is_born_impaired_and_edited_without_a_recreate(
    tmp_path: Path, busybox_rootfs: Path
) -> None:
    project = write_project(tmp_path / "br", BRIDGED, busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    a = _interface(host, "br-a-1", "eth0")
    assert (a.qdisc, a.rate, a.netem.delay) == ("netem", 2_000_000, 0.005)  # type: ignore[attr-defined]
    assert _interface(host, "br-b-1", "eth0").qdisc == "noqueue"  # type: ignore[attr-defined]
    pids = dict(host.processes)
    project.write_text(project.read_text().replace("delay: 5ms", "delay: 50ms"))
    plan = api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=host).plan.render()
    assert plan == "update         interface:br-a-1:eth0                    delay 5ms -> 50ms\n"
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    assert host.processes == pids
    assert _interface(host, "br-a-1", "eth0").netem.delay == 0.05  # type: ignore[attr-defined]
