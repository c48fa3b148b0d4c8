"""events: the differences between two readings of a project (composer.verbs.events.changes)."""

from __future__ import annotations

from composer.verbs.events import ContainerView, Snapshot, changes

T = "2026-01-01T00:00:00.000000Z"


def _c(
    state: str, pid: int = 0, health: str = "", code: int | None = None, restarts: int = 0
) -> ContainerView:
    return ContainerView("web", state, pid, health, code, restarts)


def _actions(before: Snapshot, after: Snapshot) -> list[tuple[str, str, str]]:
    return [(e.type, e.action, e.id) for e in changes(before, after, T)]


def test_container_lifecycle() -> None:
    empty = Snapshot()
    created = Snapshot({"w": _c("created")})
    running = Snapshot({"w": _c("running", 10, "starting")})
    healthy = Snapshot({"w": _c("running", 10, "healthy")})
    paused = Snapshot({"w": _c("paused", 10, "healthy")})
    died = Snapshot({"w": _c("exited", 0, "", 137)})
    assert _actions(empty, created) == [("container", "create", "w")]
    assert _actions(empty, running) == [
        ("container", "create", "w"), ("container", "start", "w"), ("container", "health_status: starting", "w"),
    ]  # fmt: skip
    assert _actions(running, healthy) == [("container", "health_status: healthy", "w")]
    assert _actions(healthy, paused) == [("container", "pause", "w")]
    assert _actions(paused, healthy) == [("container", "unpause", "w")]
    assert _actions(healthy, died) == [("container", "die", "w")]
    assert changes(healthy, died, T)[0].attributes == {"exitCode": "137"}
    assert _actions(died, empty) == [("container", "destroy", "w")]
    assert _actions(healthy, healthy) == []


def test_a_new_process_between_readings_is_a_die_and_a_start_and_restarts_are_counted() -> None:
    one = Snapshot({"w": _c("running", 10)})
    other = Snapshot({"w": _c("running", 11)})
    assert _actions(one, other) == [("container", "die", "w"), ("container", "start", "w")]
    restarted = Snapshot({"w": _c("running", 12, restarts=1)})
    assert _actions(one, restarted) == [("container", "restart", "w")]


def test_networks_and_links() -> None:
    before = Snapshot(networks={"default": "cmb1"})
    after = Snapshot(networks={"back": "cmb2"}, links={"r1:eth1--r2:eth1": ("r1:eth1", "r2:eth1")})
    assert _actions(before, after) == [
        ("network", "create", "back"), ("link", "create", "r1:eth1--r2:eth1"), ("network", "destroy", "default"),
    ]  # fmt: skip
    line = changes(before, after, T)[1].render()
    assert line == f"{T} link create r1:eth1--r2:eth1 (name=r1:eth1--r2:eth1, a=r1:eth1, b=r2:eth1)"
