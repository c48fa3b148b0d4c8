"""The supervisor's restart, back-off and health rules, against Docker's documented semantics.

Pure functions: no process, no clock, no root.  The whole-project kernel tests
prove the server applies them.
"""

from __future__ import annotations

import itertools

import pytest

from composer.model.health import HealthCheck
from composer.model.restart import RestartPolicy
from composer.supervisor.policy import (
    BACKOFF_MAX,
    BACKOFF_RESET_AFTER,
    BACKOFF_START,
    Exit,
    HealthState,
    Restart,
    after_probe,
    first_probe_in,
    restart_after,
)


def _exit(code: int | None, count: int = 0, *, by_user: bool = False, ran_for: float = 1.0) -> Exit:
    return Exit(exit_code=code, restart_count=count, stopped_by_user=by_user, ran_for=ran_for)


RESTART_CASES: list[tuple[str, Exit, bool]] = [
    # policy, the exit, restarted?
    ("no", _exit(1), False),
    ("no", _exit(0), False),
    ("always", _exit(0), True),
    ("always", _exit(137), True),
    ("always", _exit(1, by_user=True), False),  # docker stop: not restarted
    ("unless-stopped", _exit(2), True),
    ("unless-stopped", _exit(0, by_user=True), False),  # stopped by hand stays stopped
    ("on-failure", _exit(0), False),  # a clean exit is done
    ("on-failure", _exit(1, 100), True),  # no limit
    ("on-failure", _exit(-1), True),  # an adopted container's unknown exit counts as a failure
    ("on-failure", _exit(None), False),  # no exit code at all: nothing failed
    ("on-failure:3", _exit(1, 0), True),
    ("on-failure:3", _exit(1, 2), True),
    ("on-failure:3", _exit(1, 3), False),  # three restarts done: MaximumRetryCount reached
    ("on-failure:3", _exit(1, 0, by_user=True), False),
]


@pytest.mark.parametrize(("text", "exit", "restarted"), RESTART_CASES)
def test_restart_follows_the_policy(text: str, exit: Exit, restarted: bool) -> None:
    assert (restart_after(RestartPolicy.parse(text), exit) is not None) is restarted


def test_backoff_doubles_from_100ms_to_its_cap() -> None:
    always = RestartPolicy.parse("always")
    delays: list[float] = []
    backoff = BACKOFF_START
    for count in range(12):
        restart = restart_after(always, _exit(1, count, ran_for=0.05), backoff)
        assert restart is not None
        delays.append(restart.delay)
        backoff = restart.next_backoff
    assert delays[:5] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])
    assert max(delays) == BACKOFF_MAX
    assert delays[-1] == BACKOFF_MAX  # it stays at the cap
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))


@pytest.mark.parametrize(
    ("ran_for", "delay"), [(BACKOFF_RESET_AFTER - 0.01, 6.4), (BACKOFF_RESET_AFTER, 0.1)]
)
def test_a_run_of_ten_seconds_resets_the_backoff(ran_for: float, delay: float) -> None:
    restart = restart_after(RestartPolicy.parse("on-failure"), _exit(1, 7, ran_for=ran_for), 6.4)
    assert restart == Restart(delay=pytest.approx(delay), next_backoff=pytest.approx(delay * 2))


CHECK = HealthCheck(
    argv=("true",), interval=30.0, timeout=5.0, retries=3, start_period=60.0, start_interval=2.0
)


def test_the_first_probe_comes_after_start_interval_within_a_start_period() -> None:
    assert first_probe_in(CHECK) == 2.0
    assert first_probe_in(HealthCheck(argv=("true",), interval=30.0, start_period=0.0)) == 30.0
    assert (
        first_probe_in(HealthCheck(argv=("true",), interval=1.0, start_period=5.0, start_interval=5.0)) == 1.0
    )


def _run(probes: list[tuple[int, float]], check: HealthCheck = CHECK) -> list[tuple[str, int, float]]:
    """Apply probes (exit code, seconds since start); each step's health, streak and next delay."""
    state = HealthState()
    seen = []
    for code, since_start in probes:
        state, delay = after_probe(state, check, code, since_start)
        seen.append((state.health, state.failing_streak, delay))
    return seen


def test_failures_within_the_start_period_do_not_count_while_starting() -> None:
    steps = _run([(1, 2.0), (1, 4.0), (1, 6.0), (1, 8.0)])
    assert steps == [("starting", 0, 2.0)] * 4  # probed every start_interval, never unhealthy


def test_a_success_in_the_start_period_ends_it_and_failures_count_from_then() -> None:
    steps = _run([(0, 2.0), (1, 32.0), (1, 62.0), (1, 92.0)])
    assert steps == [
        ("healthy", 0, 30.0),  # now every interval
        ("healthy", 1, 30.0),  # within 60 s of the start, but no longer starting: it counts
        ("healthy", 2, 30.0),
        ("unhealthy", 3, 30.0),  # retries failures in a row
    ]


def test_after_the_start_period_failures_count_and_a_success_resets_the_streak() -> None:
    steps = _run([(1, 61.0), (1, 91.0), (0, 121.0), (1, 151.0), (1, 181.0), (1, 211.0), (0, 241.0)])
    assert [(health, streak) for health, streak, _ in steps] == [
        ("starting", 1),
        ("starting", 2),
        ("healthy", 0),
        ("healthy", 1),
        ("healthy", 2),
        ("unhealthy", 3),
        ("healthy", 0),  # one success is enough to be healthy again
    ]
    assert {delay for _, _, delay in steps} == {30.0}


def test_without_a_start_period_the_first_failures_count() -> None:
    check = HealthCheck(argv=("true",), interval=1.0, retries=2)
    assert _run([(1, 1.0), (1, 2.0)], check) == [("starting", 1, 1.0), ("unhealthy", 2, 1.0)]
