"""up's foreground rules (composer.verbs.attach): what is shown, when it aborts, its exit status."""

from __future__ import annotations

from composer.verbs.attach import (
    AbortPolicy,
    Seen,
    abort_trigger,
    attached_services,
    exit_status,
    has_finished,
)

EVERY = ["db", "tests", "web"]


def test_attached_services() -> None:
    assert attached_services(EVERY, [], []) == EVERY
    assert attached_services(EVERY, ["tests"], ["db"]) == ["tests"]
    assert attached_services(EVERY, ["tests"], ["db"], attach_dependencies=True) == ["db", "tests"]
    assert attached_services(EVERY, ["tests"], ["db"], attach=["web"]) == ["web"]
    assert attached_services(EVERY, [], [], no_attach=["db"]) == ["tests", "web"]


def test_a_zombie_without_a_recorded_code_has_not_finished() -> None:
    assert not has_finished("exited", None)
    assert has_finished("exited", 0) and has_finished("dead", 1) and not has_finished("running", None)


def test_abort_triggers() -> None:
    ok = Seen("p-db-1", "db", "exited", 0)
    failed = Seen("p-tests-1", "tests", "exited", 5)
    running = Seen("p-web-1", "web", "running", None)
    assert abort_trigger(AbortPolicy(), [ok]) is None
    assert abort_trigger(AbortPolicy(on_exit=True), [running, ok, failed]) == ok
    assert abort_trigger(AbortPolicy(on_failure=True), [ok, running]) is None
    assert abort_trigger(AbortPolicy(on_failure=True), [ok, failed]) == failed
    assert abort_trigger(AbortPolicy(exit_code_from="web"), [running, failed]) == failed


def test_exit_status_is_the_chosen_service_s_own() -> None:
    cut = {"p-db-1": Seen("p-db-1", "db", "exited", 1), "p-web-1": Seen("p-web-1", "web", "exited", 143)}
    trigger = cut["p-db-1"]
    assert exit_status(AbortPolicy(exit_code_from="web"), trigger, cut) == 143  # never 0 (compose #5966)
    assert exit_status(AbortPolicy(on_exit=True), trigger, cut) == 1  # the trigger's
    assert exit_status(AbortPolicy(), None, cut) == 0
