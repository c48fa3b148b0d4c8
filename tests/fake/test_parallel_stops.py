"""Stops run all at once: ``down`` and ``stop`` of N containers wait out one grace period, not N / workers.

The fake host's stop waits at a barrier for every container of the wave: it
passes only when all those stops are in flight together (a serial or bounded
stop times the barrier out and the test fails).
"""

from __future__ import annotations

import threading
from pathlib import Path

import composer
from composer.engine.hosts.fake import FakeHost
from composer.store.layout import ProjectLayout, StateRoot
from composer.verbs import lifecycle
from composer.verbs.targets import Target, stop_waves
from tests.support.projects import load, write_project

COUNT = 40


class BarrierHost(FakeHost):
    """Each stop blocks until ``parties`` stops have started."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10.0)
        self.stopped: list[str] = []

    def stop_container(self, layout: ProjectLayout, name: str, timeout: float | None) -> None:
        if name in self.processes:
            self.barrier.wait()  # BrokenBarrierError when the stops do not overlap
            self.stopped.append(name)
        super().stop_container(layout, name, timeout)


def _flat_project(tmp_path: Path, rootfs: Path) -> Path:
    services = "".join(
        f"  s{index:02d}:\n    rootfs: {rootfs}\n    command: [sleep, 1d]\n" for index in range(COUNT)
    )
    return write_project(tmp_path / "flat", f"name: flat\nservices:\n{services}")


def test_down_stops_every_container_at_once(tmp_path: Path, busybox_rootfs: Path) -> None:
    project = load(_flat_project(tmp_path, busybox_rootfs))
    roots = composer.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = BarrierHost(COUNT)
    composer.up(project, composer.UpOptions(parallel=2), roots=roots, host=host)
    composer.down("flat", composer.DownOptions(parallel=2), roots=roots, host=host)
    assert len(host.stopped) == COUNT and not host.processes


def test_stop_verb_stops_independent_services_at_once(tmp_path: Path, busybox_rootfs: Path) -> None:
    project = load(_flat_project(tmp_path, busybox_rootfs))
    roots = composer.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = BarrierHost(COUNT)
    composer.up(project, composer.UpOptions(), roots=roots, host=host)
    lifecycle.stop(StateRoot(roots.state).project("flat"), host)
    assert len(host.stopped) == COUNT


def _target(service: str, *depends_on: str) -> Target:
    return Target(f"p-{service}-1", service, 1, depends_on)


def test_stop_waves_put_dependents_first() -> None:
    items = [
        _target("db"),
        _target("cache"),
        _target("web", "db", "cache"),
        _target("worker", "db"),
        _target("proxy", "web"),
        _target("gone", "not-chosen"),
    ]
    waves = [sorted(t.service for t in wave) for wave in stop_waves(items)]
    assert waves == [["gone", "proxy", "worker"], ["web"], ["cache", "db"]]


def test_stop_waves_survive_a_dependency_cycle() -> None:
    waves = stop_waves([_target("a", "b"), _target("b", "a")])
    assert sorted(t.service for wave in waves for t in wave) == ["a", "b"]
