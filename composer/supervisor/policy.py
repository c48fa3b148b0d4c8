"""The supervisor's rules as pure functions: restart or not, how long to wait, what a probe means.

Nothing here reads a clock or touches a process: the server passes the times in
(how long the container ran, how long since it started) and applies what comes
back.  The rules are Docker's, as its documentation and moby's restart manager
and health monitor apply them:

* **Restart.**  A container the user stopped is never restarted, whatever the
  policy; otherwise :meth:`composer.model.restart.RestartPolicy.restarts_after`
  decides, with the restarts done so far (``on-failure:N`` allows N).  Docker
  also restarts an ``always`` container that was stopped by hand when its
  daemon starts again; composer has no daemon that starts again (a new
  supervisor adopts the running containers only), so ``always`` and
  ``unless-stopped`` behave alike, and the next ``up`` starts either.
* **Back-off.**  The delay before a restart starts at 100 ms and doubles with
  each restart, up to :data:`BACKOFF_MAX`; a run of at least 10 s resets it, so
  a container that crashes once a day restarts at once each time.
* **Health.**  A probe that exits 0 makes the container healthy and ends its
  failing streak.  A failed probe adds to the streak, and ``retries`` failures
  in a row make it unhealthy, except while the container is still ``starting``
  within its ``start_period``: those failures do not count (a success during the
  start period ends it).  While starting within the start period the probes
  come every ``start_interval``, afterwards every ``interval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from composer.model.health import HealthCheck
from composer.model.restart import RestartPolicy

BACKOFF_START = 0.1
BACKOFF_MAX = 30.0
BACKOFF_RESET_AFTER = 10.0

Health = Literal["starting", "healthy", "unhealthy"]


@dataclass(frozen=True, slots=True)
class Exit:
    """What the supervisor knows when PID 1 has exited."""

    exit_code: int | None  # None or -1: unknown (an adopted container)
    restart_count: int  # restarts done so far
    stopped_by_user: bool
    ran_for: float  # seconds between its start and its exit


@dataclass(frozen=True, slots=True)
class Restart:
    """Restart after ``delay`` seconds; the restart after that waits ``next_backoff``."""

    delay: float
    next_backoff: float


def restart_after(policy: RestartPolicy, exit: Exit, backoff: float = BACKOFF_START) -> Restart | None:
    """The restart that follows ``exit`` under ``policy`` (None: it stays exited).

    ``backoff`` is the delay this container's next restart would wait (the
    ``next_backoff`` of its previous :class:`Restart`; :data:`BACKOFF_START` at first).
    """
    if exit.stopped_by_user or not policy.restarts_after(exit.exit_code, exit.restart_count):
        return None
    delay = BACKOFF_START if exit.ran_for >= BACKOFF_RESET_AFTER else min(backoff, BACKOFF_MAX)
    return Restart(delay=delay, next_backoff=min(BACKOFF_MAX, delay * 2))


@dataclass(frozen=True, slots=True)
class HealthState:
    """A container's health and its count of failed probes in a row."""

    health: Health = "starting"
    failing_streak: int = 0


def first_probe_in(check: HealthCheck) -> float:
    """Seconds from the container's start to its first probe."""
    first = check.start_interval if check.start_period > 0 else check.interval
    return min(first, check.interval)


def after_probe(
    state: HealthState, check: HealthCheck, exit_code: int, since_start: float
) -> tuple[HealthState, float]:
    """The health after a probe that exited ``exit_code``, ``since_start`` s after the container
    started, and the seconds until the next probe."""
    in_start_period = since_start < check.start_period
    if exit_code == 0:
        state = HealthState("healthy", 0)
    elif not (state.health == "starting" and in_start_period):
        streak = state.failing_streak + 1
        health: Health = "unhealthy" if streak >= check.retries else state.health
        state = HealthState(health, streak)
    still_starting = state.health == "starting" and in_start_period
    return state, check.start_interval if still_starting else check.interval
