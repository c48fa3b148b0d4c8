"""run (one-off containers), rm and create against the fake host; the state store is real (tmp folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from composer.engine.remove import remove_containers
from composer.engine.run import RunRequest, oneoff_project, oneoff_service, run_oneoff
from composer.errors import ComposerError
from composer.store.journal import read_store
from composer.store.layout import StateRoot
from composer.verbs.remove import removal
from tests.support.projects import load, write_project

SHOP = """\
name: shop
services:
  db:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    healthcheck: {test: [CMD, "true"], interval: 1s}
  web:
    rootfs: ROOTFS
    command: [httpd, -f]
    ports: ["18080:80"]
    environment: {A: "1"}
    restart: always
    networks: {default: {aliases: [www], ipv4_address: 10.99.0.10}}
    depends_on: {db: {condition: service_healthy}}
networks:
  default: {ipam: {config: [{subnet: 10.99.0.0/24}]}}
"""


@pytest.fixture
def project(tmp_path: Path, busybox_rootfs: Path) -> Path:
    return write_project(tmp_path / "shop", SHOP, busybox_rootfs)


@pytest.fixture
def roots(tmp_path: Path) -> api.Roots:
    return api.Roots(state=tmp_path / "state", images=tmp_path / "images")


def _containers(roots: api.Roots) -> dict[str, tuple[str, bool]]:
    store = read_store(StateRoot(roots.state).project("shop"))
    return {rid.name: (s.record.service, s.record.oneoff) for rid, s in store.containers().items()}


def test_oneoff_service_drops_ports_aliases_static_addresses_and_restart(project: Path) -> None:
    loaded = load(project)
    request = RunRequest("web", command=("sh", "-c", "env"), env={"B": "2"}, publish=("9000:80",))
    svc = oneoff_service(loaded.spec.services["web"], request, "shop-web-run-x", loaded.project_directory)
    assert svc.container_name == "shop-web-run-x" and svc.restart == "no"
    assert [(p.published, p.target) for p in svc.ports] == [("9000", 80)]
    attach = svc.networks["default"]
    assert attach.aliases == [] and attach.ipv4_address is None
    assert svc.environment == {"A": "1", "B": "2"} and svc.command == ["sh", "-c", "env"]
    assert svc.depends_on  # kept without --no-deps
    kept = oneoff_service(
        loaded.spec.services["web"], RunRequest("web", service_ports=True, use_aliases=True, no_deps=True),
        "n", loaded.project_directory,
    )  # fmt: skip
    assert len(kept.ports) == 1 and kept.networks["default"].aliases == ["www"] and not kept.depends_on
    scaled = loaded.spec.services["web"].model_copy(update={"scale": 3})
    assert oneoff_service(scaled, request, "n", loaded.project_directory).replicas == 1  # one container


def test_bad_flag_values_are_reported_not_raised(project: Path) -> None:
    loaded = load(project)
    with pytest.raises(ComposerError, match="run -p"):
        oneoff_project(loaded, RunRequest("web", publish=("notaport",)), "n")
    with pytest.raises(ComposerError, match="no such service: nope"):
        oneoff_project(loaded, RunRequest("nope"), "n")


def test_run_starts_dependencies_then_the_oneoff_and_up_leaves_it(project: Path, roots: api.Roots) -> None:
    host = FakeHost()
    made = run_oneoff(
        load(project), RunRequest("web", command=("sleep", "9")), roots=roots, host=host, suffix="ab"
    )
    assert made.name == "shop-web-run-ab" and made.oneoff and made.service == "web"
    assert made.ports == () and made.restart == "no"
    assert _containers(roots) == {"shop-db-1": ("db", False), "shop-web-run-ab": ("web", True)}
    starts = [c for c in host.calls if c.startswith("start_container")]
    assert starts == ["start_container shop-db-1", "start_container shop-web-run-ab"]
    plan = api.up(load(project), api.UpOptions(remove_orphans=True), roots=roots, host=host).plan.render()
    assert "shop-web-run-ab" not in plan and "create         container:shop-web-1" in plan
    assert not api.up(load(project), api.UpOptions(), roots=roots, host=host).plan  # nothing to do
    api.down("shop", api.DownOptions(), roots=roots, host=host)
    assert host.leftovers() == []


def test_run_no_deps_makes_only_the_oneoff(project: Path, roots: api.Roots) -> None:
    host = FakeHost()
    run_oneoff(load(project), RunRequest("web", no_deps=True, name="job"), roots=roots, host=host)
    assert _containers(roots) == {"job": ("web", True)}
    with pytest.raises(ComposerError, match="exists already"):
        run_oneoff(load(project), RunRequest("web", no_deps=True, name="job"), roots=roots, host=host)


def test_rm_removes_stopped_and_with_stop_running(project: Path, roots: api.Roots) -> None:
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    layout = StateRoot(roots.state).project("shop")
    host.processes.pop("shop-web-1")  # it exited
    chosen = removal(layout, host)
    assert chosen.names == ("shop-web-1",) and chosen.running == ("shop-db-1",)
    remove_containers("shop", chosen.names, roots=roots, host=host)
    assert set(_containers(roots)) == {"shop-db-1"}
    assert removal(layout, host, ["db"], stop=True).names == ("shop-db-1",)
    with pytest.raises(ComposerError, match="no such service: nope"):
        removal(layout, host, ["nope"])
    plan = api.up(load(project), api.UpOptions(), roots=roots, host=host).plan.render()
    assert "create         container:shop-web-1" in plan and "container:shop-db-1 " not in plan.replace(
        "wait-healthy   container:shop-db-1 ", ""
    )  # db is kept (same PID): only waited for


def test_create_makes_without_starting(project: Path, roots: api.Roots) -> None:
    host = FakeHost()
    api.up(load(project), api.UpOptions(no_start=True), roots=roots, host=host)
    assert not [c for c in host.calls if c.startswith("start")]
    assert set(_containers(roots)) == {"shop-db-1", "shop-web-1"}


def test_pause_unpause_and_wait_on_the_fake_host(project: Path, roots: api.Roots) -> None:
    from composer.verbs import lifecycle
    from composer.verbs.views import ps
    from composer.verbs.wait import wait_exits

    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    layout = StateRoot(roots.state).project("shop")
    assert lifecycle.pause(layout, host, ["web"]) == ["shop-web-1"]
    assert {r.Name: r.State for r in ps(layout, host)} == {"shop-db-1": "running", "shop-web-1": "paused"}
    assert lifecycle.pause(layout, host, ["web"]) == []  # already paused
    assert not api.up(load(project), api.UpOptions(), roots=roots, host=host).plan  # paused is not stopped
    assert lifecycle.unpause(layout, host) == ["shop-web-1"]
    host.exited["shop-db-1"] = 3
    seen: list[tuple[str, int]] = []

    def web_exits(_: float) -> None:
        host.exited["shop-web-1"] = 0

    code = wait_exits(layout, host, on_exit=lambda n, c: seen.append((n, c)), sleep=web_exits)
    assert seen == [("shop-db-1", 3), ("shop-web-1", 0)] and code == 0
    first = wait_exits(layout, host, on_exit=lambda n, c: None, first_only=True)
    assert first == 3


def test_stats_rows_from_two_readings(project: Path, roots: api.Roots) -> None:
    from composer.kernel.stats import Sample
    from composer.verbs.stats import stats

    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    layout = StateRoot(roots.state).project("shop")
    host.samples["shop-web-1"] = [
        Sample(cpu_ns=0, memory_limit=1 << 30),
        Sample(cpu_ns=10**9, memory_limit=1 << 30),
    ]
    ticks = iter([0.0, 2.0])
    rows = stats(layout, host, sleep=lambda _: None, clock=lambda: next(ticks), total=True)
    by_name = {r.Name: r for r in rows}
    assert by_name["shop-web-1"].CPUPerc == "50.00%" and by_name["shop-db-1"].CPUPerc == "0.00%"
    assert by_name["shop"].Service == "(project)"
    host.processes.pop("shop-web-1")
    assert [r.Name for r in stats(layout, host, sleep=lambda _: None)] == ["shop-db-1"]


def test_a_oneoff_keeps_its_address_when_up_scales_the_service(project: Path, roots: api.Roots) -> None:
    host = FakeHost()
    made = run_oneoff(load(project), RunRequest("web", no_deps=True), roots=roots, host=host, suffix="cd")
    address = made.attachments[0].addresses[0]
    scaled = api.up(load(project), api.UpOptions(scale={"web": 3}), roots=roots, host=host).desired
    others = {a for c in scaled.containers.values() for att in c.attachments for a in att.addresses}
    assert address not in others  # no new replica takes the one-off's address
    assert len([c for c in scaled.containers.values() if c.service == "web"]) == 3


def test_watch_steps_run_on_the_running_containers(project: Path, roots: api.Roots, tmp_path: Path) -> None:
    from composer.verbs.watch import WatchRule, apply_steps, plan_steps

    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host)
    layout = StateRoot(roots.state).project("shop")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.js").write_text("x")
    rules = [WatchRule("web", str(src), "sync+restart", target="/app")]
    host.calls.clear()
    apply_steps(
        layout, host, plan_steps(rules, [str(src / "a.js"), str(src / "b.js")], exists=os.path.exists)
    )
    assert host.calls[:2] == [
        f"copy_to_container {src / 'a.js'} shop-web-1:/app/a.js",  # a.js is there: synced
        "exec_in_container shop-web-1 rm -rf /app/b.js",  # b.js is gone: removed in the container
    ]
    assert "stop_container shop-web-1" in host.calls and "start_existing shop-web-1" in host.calls
