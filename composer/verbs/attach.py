"""``up`` in the foreground: which containers it shows, when it aborts, and its exit status.

docker compose's rules:

* shown: the services named on the command line (all when none), plus their
  dependencies with ``--attach-dependencies``; ``--attach`` replaces that set,
  ``--no-attach`` takes services out of it;
* ``--abort-on-container-exit`` stops every container once a shown one exits,
  ``--abort-on-container-failure`` once one exits non-zero; ``--exit-code-from
  S`` implies the first;
* the exit status is, with ``--exit-code-from S``, S's own exit status as
  recorded once everything stopped (143 or 137 when the abort stopped it,
  never 0 for a service that was cut short: compose #5966); else the status of
  the container whose exit caused the abort; else 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FINISHED = ("exited", "dead")


def has_finished(state: str, exit_code: int | None) -> bool:
    """Exited, and its status recorded: between the process's end and the supervisor's reaping
    it, the process is a zombie that shows as exited without an exit code yet."""
    return state in FINISHED and exit_code is not None


@dataclass(frozen=True)
class AbortPolicy:
    on_exit: bool = False
    on_failure: bool = False
    exit_code_from: str | None = None

    @property
    def aborts(self) -> bool:
        return self.on_exit or self.on_failure or self.exit_code_from is not None


@dataclass(frozen=True)
class Seen:
    """One shown container as last read."""

    name: str
    service: str
    state: str
    exit_code: int | None


def attached_services(
    all_services: Sequence[str],
    named: Sequence[str],
    dependencies: Sequence[str],
    *,
    attach: Sequence[str] = (),
    no_attach: Sequence[str] = (),
    attach_dependencies: bool = False,
) -> list[str]:
    """The services whose output ``up`` shows (and whose exits it watches)."""
    if attach:
        chosen = list(attach)
    elif named:
        chosen = [*named, *(dependencies if attach_dependencies else ())]
    else:
        chosen = list(all_services)
    return sorted(set(chosen) - set(no_attach))


def abort_trigger(policy: AbortPolicy, seen: Sequence[Seen]) -> Seen | None:
    """The first finished container that makes ``up`` abort, or None."""
    for item in seen:
        if not has_finished(item.state, item.exit_code):
            continue
        if policy.on_exit or policy.exit_code_from is not None:
            return item
        if policy.on_failure and (item.exit_code or 0) != 0:
            return item
    return None


def exit_status(policy: AbortPolicy, trigger: Seen | None, final: Mapping[str, Seen]) -> int:
    """``up``'s exit status once it is over; ``final`` is every container's last state by name."""
    if policy.exit_code_from is not None:
        codes = [s.exit_code for s in sorted(final.values(), key=lambda s: s.name)
                 if s.service == policy.exit_code_from]  # fmt: skip
        return next((code for code in codes if code is not None), 1)
    if trigger is not None:
        return trigger.exit_code if trigger.exit_code is not None else 1
    return 0
