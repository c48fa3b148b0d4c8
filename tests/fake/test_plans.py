"""Golden plans: the rendered plan of each situation compared with the expected text.

The host is composer.engine.hosts.fake.FakeHost (an in-memory kernel that records calls),
so these run without root; the state store is real, in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import composer as api
from composer.engine.hosts.fake import FakeHost
from tests.support.projects import load, write_project

SHOP = """\
name: shop
services:
  db:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    healthcheck: {test: [CMD, "true"], interval: 1s}
  cache:
    rootfs: ROOTFS
    command: [sleep, "1d"]
  migrate:
    rootfs: ROOTFS
    command: ["true"]
    depends_on: {db: {condition: service_healthy}}
  web:
    rootfs: ROOTFS
    command: [httpd, -f]
    ports: ["18080:80"]
    depends_on:
      db: {condition: service_healthy, restart: true}
      cache: {condition: service_started}
      migrate: {condition: service_completed_successfully}
  worker:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    depends_on: [web]
"""

FIRST_UP = """\
create         network:default                          missing
create         container:shop-cache-1                   missing
create         container:shop-db-1                      missing
create         container:shop-migrate-1                 missing
create         container:shop-web-1                     missing
create         container:shop-worker-1                  missing
apply          firewall:shop                            missing
start          container:shop-cache-1                   created
start          container:shop-db-1                      created
wait-healthy   container:shop-db-1                      a dependent needs it healthy
start          container:shop-migrate-1                 created
wait-completed container:shop-migrate-1                 a dependent needs it completed
start          container:shop-web-1                     created
start          container:shop-worker-1                  created
"""


@pytest.fixture
def project_dir(tmp_path: Path, busybox_rootfs: Path) -> Path:
    write_project(tmp_path / "shop", SHOP, busybox_rootfs)
    return tmp_path / "shop"


@pytest.fixture
def roots(tmp_path: Path) -> api.Roots:
    return api.Roots(state=tmp_path / "state", images=tmp_path / "images")


def _up(project_dir: Path, roots: api.Roots, host: FakeHost, **options: object) -> str:
    loaded = load(project_dir / "compose.yaml")
    return api.up(loaded, api.UpOptions(**options), roots=roots, host=host).plan.render()  # type: ignore[arg-type]


def _edit(project_dir: Path, old: str, new: str) -> None:
    path = project_dir / "compose.yaml"
    path.write_text(path.read_text().replace(old, new, 1))


def test_first_up(project_dir: Path, roots: api.Roots) -> None:
    assert _up(project_dir, roots, FakeHost(), dry_run=True) == FIRST_UP


def test_dry_run_changes_nothing(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost()
    _up(project_dir, roots, host, dry_run=True)
    assert host.calls == []
    assert host.leftovers() == []


def test_second_up_does_nothing(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost()
    _up(project_dir, roots, host)
    calls = len(host.calls)
    assert _up(project_dir, roots, host) == "nothing to do: the host matches the project\n"
    assert len(host.calls) == calls


def test_one_service_edited(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost()
    _up(project_dir, roots, host)
    worker_pid = host.processes["shop-worker-1"]
    _edit(
        project_dir,
        'command: [sleep, "1d"]\n    depends_on: [web]',
        'command: [sleep, "2d"]\n    depends_on: [web]',
    )
    assert _up(project_dir, roots, host, dry_run=True) == (
        "stop           container:shop-worker-1                  config hash changed\n"
        "remove         container:shop-worker-1                  config hash changed\n"
        "create         container:shop-worker-1                  config hash changed\n"
        "start          container:shop-worker-1                  config hash changed\n"
    )
    _up(project_dir, roots, host)
    assert host.processes["shop-worker-1"] != worker_pid


def test_dependency_edited_restarts_dependents_that_ask(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost()
    _up(project_dir, roots, host)
    cache_pid = host.processes["shop-cache-1"]
    _edit(project_dir, "interval: 1s", "interval: 2s")
    assert _up(project_dir, roots, host, dry_run=True) == (
        "stop           container:shop-db-1                      config hash changed\n"
        "remove         container:shop-db-1                      config hash changed\n"
        "create         container:shop-db-1                      config hash changed\n"
        "start          container:shop-db-1                      config hash changed\n"
        "wait-healthy   container:shop-db-1                      a dependent needs it healthy\n"
        "wait-completed container:shop-migrate-1                 a dependent needs it completed\n"
        "restart        container:shop-web-1                     dependency db was recreated\n"
    )
    _up(project_dir, roots, host)
    assert host.processes["shop-cache-1"] == cache_pid  # unchanged services keep running


def test_scale_up_then_down_removes_highest(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost()
    _up(project_dir, roots, host)
    assert _up(project_dir, roots, host, dry_run=True, scale={"worker": 3}) == (
        "create         container:shop-worker-2                  missing\n"
        "create         container:shop-worker-3                  missing\n"
        "start          container:shop-worker-2                  created\n"
        "start          container:shop-worker-3                  created\n"
    )
    _up(project_dir, roots, host, scale={"worker": 3})
    assert _up(project_dir, roots, host, dry_run=True, scale={"worker": 1}) == (
        "stop           container:shop-worker-2                  scaled down\n"
        "stop           container:shop-worker-3                  scaled down\n"
        "remove         container:shop-worker-2                  scaled down\n"
        "remove         container:shop-worker-3                  scaled down\n"
    )


def test_orphans_are_named_then_removed_on_request(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost()
    _up(project_dir, roots, host)
    text = (project_dir / "compose.yaml").read_text()
    (project_dir / "compose.yaml").write_text(text.split("  worker:")[0])
    assert _up(project_dir, roots, host, dry_run=True) == (
        "nothing to do: the host matches the project\n"
        "note: orphan containers (services no longer in the project): shop-worker-1; "
        "run up --remove-orphans to remove them\n"
    )
    assert _up(project_dir, roots, host, dry_run=True, remove_orphans=True) == (
        "stop           container:shop-worker-1                  orphan: its service is no longer in the project\n"
        "remove         container:shop-worker-1                  orphan: its service is no longer in the project\n"
    )


def test_down_of_half_created_project(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost(fail_at=3)  # the network, the firewall, then the first sandbox fails half-way
    with pytest.raises(Exception, match="injected failure"):
        _up(project_dir, roots, host, parallel=1)
    plan = api.down("shop", api.DownOptions(dry_run=True), roots=roots, host=host).plan.render()
    assert plan == (
        "remove         container:shop-cache-1                   down (half-made)\n"
        "remove         firewall:shop                            down\n"
        "remove         network:default                          down\n"
    )
    result = api.down("shop", api.DownOptions(), roots=roots, host=host)
    assert result.leftovers == []
    assert host.leftovers() == []


def test_down_of_nothing_succeeds(roots: api.Roots) -> None:
    result = api.down("ghost", api.DownOptions(), roots=roots, host=FakeHost())
    assert not result.plan
    assert result.leftovers == []
    assert not (roots.state / "projects" / "ghost").exists()


def test_up_of_one_service_leaves_the_others_alone(project_dir: Path, roots: api.Roots) -> None:
    host = FakeHost()
    _up(project_dir, roots, host)
    _edit(project_dir, 'command: [sleep, "1d"]\n  migrate', 'command: [sleep, "2d"]\n  migrate')  # cache
    _edit(
        project_dir,
        'command: [sleep, "1d"]\n    depends_on: [web]',
        'command: [sleep, "2d"]\n    depends_on: [web]',
    )
    # Only cache is asked for: worker changed too but is neither recreated nor called an orphan.
    assert _up(project_dir, roots, host, dry_run=True, services=("cache",), remove_orphans=True) == (
        "stop           container:shop-cache-1                   config hash changed\n"
        "remove         container:shop-cache-1                   config hash changed\n"
        "create         container:shop-cache-1                   config hash changed\n"
        "start          container:shop-cache-1                   config hash changed\n"
    )


def test_optional_dependencies_order_but_never_gate(
    tmp_path: Path, busybox_rootfs: Path, roots: api.Roots
) -> None:
    text = """\
name: opt
services:
  db:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    healthcheck: {test: [CMD, "true"]}
  app:
    rootfs: ROOTFS
    command: [sleep, "1d"]
    depends_on:
      db: {condition: service_healthy, required: false}
      ghost: {condition: service_started, required: false}
"""
    project = write_project(tmp_path / "opt", text, busybox_rootfs)
    from composer.events import Recorder

    events = Recorder()
    result = api.up(load(project), api.UpOptions(dry_run=True), roots=roots, host=FakeHost(), events=events)
    assert "wait-healthy" not in result.plan.render()
    order = [a.rid for a in result.plan.ordered() if a.verb == "start"]
    assert order == ["container:opt-db-1", "container:opt-app-1"]
    assert [e.text for e in events.events if e.status == "Warning"] == [
        "optional dependency ghost is not in the project; starting without it"
    ]
    from composer.project.graph import render

    for fmt in ("dot", "mermaid", "json"):  # the graph still draws what the file says
        assert "opt" in render(load(project).spec, fmt) or "app" in render(load(project).spec, fmt)
