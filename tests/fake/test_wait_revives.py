"""``up --wait`` outlives its supervisor: a supervisor killed while ``up`` waits is started again.

The supervisor records statuses and runs healthchecks; without one the wait
never ends.  The fake host reports ``healthy`` only while a supervisor runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import composer
from composer.engine.hosts.fake import FakeHost
from composer.engine.wait import wait_ready
from composer.model.desired import DesiredContainer
from composer.store.container import ContainerStatus
from composer.store.layout import ProjectLayout, StateRoot
from tests.support.projects import load, write_project


class SupervisedHealthHost(FakeHost):
    """Health is only ever seen healthy while the project's supervisor runs."""

    def container_status(self, layout: ProjectLayout, name: str) -> ContainerStatus:
        status = super().container_status(layout, name)
        if str(layout.dir) not in self.supervisors and status.state == "running":
            status.health = "starting"
        return status


def test_wait_starts_a_new_supervisor_when_the_old_one_died(tmp_path: Path, busybox_rootfs: Path) -> None:
    text = (
        f"name: w\nservices:\n  db:\n    rootfs: {busybox_rootfs}\n    command: [sleep, 1d]\n"
        "    healthcheck: {test: [CMD, 'true'], interval: 1s}\n"
    )
    project = load(write_project(tmp_path / "w", text))
    roots = composer.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = SupervisedHealthHost()
    host.healthy = True
    result = composer.up(project, composer.UpOptions(), roots=roots, host=host)
    layout = StateRoot(roots.state).project("w")
    host.supervisors.clear()  # SIGKILLed: nobody answers, nobody runs the healthcheck
    waiter = threading.Thread(target=wait_ready, args=(layout, result.desired, host), kwargs={"timeout": 10})
    waiter.start()
    waiter.join(timeout=8)
    assert not waiter.is_alive(), "up --wait still waits for a dead supervisor"
    assert str(layout.dir) in host.supervisors


class SupervisorDiesAfterStartHost(SupervisedHealthHost):
    """The supervisor is SIGKILLed right after it started ``victim``."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim

    def start_container(self, layout: ProjectLayout, container: DesiredContainer) -> int:
        pid = super().start_container(layout, container)
        if container.name == self.victim:
            self.supervisors.clear()
        return pid


def test_a_health_gated_dependency_is_waited_for_through_a_new_supervisor(
    tmp_path: Path, busybox_rootfs: Path
) -> None:
    text = (
        f"name: g\nservices:\n  db:\n    rootfs: {busybox_rootfs}\n    command: [sleep, 1d]\n"
        "    healthcheck: {test: [CMD, 'true'], interval: 1s}\n"
        f"  web:\n    rootfs: {busybox_rootfs}\n    command: [sleep, 1d]\n"
        "    depends_on: {db: {condition: service_healthy}}\n"
    )
    project = load(write_project(tmp_path / "g", text))
    roots = composer.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = SupervisorDiesAfterStartHost("g-db-1")
    options = composer.UpOptions(wait_timeout=8)
    composer.up(project, options, roots=roots, host=host)
    assert set(host.processes) == {"g-db-1", "g-web-1"}
