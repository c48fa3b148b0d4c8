"""A plan is a value: a DAG of actions, each with the resource it acts on and why.

``reconcile()`` builds one with a :class:`PlanBuilder` purely from the desired
and the observed state; :meth:`PlanBuilder.build` freezes it into a
:class:`Plan` and computes, once, its order: the lexicographic topological
order (dependencies first; among ready actions removals before creations, then
by resource id).  The renderer prints that order (``--dry-run``, the golden-plan
tests) and the executor ranks ready actions by it, so the two never disagree.
The same input gives the same plan and the same text.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from composer.errors import PlanError
from composer.model.ids import Kind, ResourceId


class Verb(StrEnum):
    CREATE = "create"
    START = "start"
    STOP = "stop"
    REMOVE = "remove"
    RESTART = "restart"
    WAIT_HEALTHY = "wait-healthy"
    WAIT_COMPLETED = "wait-completed"
    APPLY = "apply"
    UPDATE = "update"  # change what differs in place (an interface's addresses, MTU, qdisc, sysctls)
    RECREATE = "recreate"  # stop, remove and create a container again in the network namespace it has


# Where an action of each verb comes when the DAG leaves a tie: removals first, then creation.
VERB_PHASE: Mapping[Verb, int] = {
    Verb.STOP: 0, Verb.REMOVE: 1, Verb.CREATE: 3, Verb.RECREATE: 3, Verb.APPLY: 4, Verb.UPDATE: 4,
    Verb.START: 5, Verb.RESTART: 5, Verb.WAIT_HEALTHY: 6, Verb.WAIT_COMPLETED: 6,
}  # fmt: skip


class ActionKey(NamedTuple):
    """What identifies an action in a plan: at most one action per verb and resource."""

    verb: Verb
    rid: ResourceId

    def __str__(self) -> str:
        return f"{self.verb} {self.rid}"


def key(verb: Verb, rid: ResourceId) -> ActionKey:
    return ActionKey(verb, rid)


@dataclass(frozen=True)
class Action:
    verb: Verb
    rid: ResourceId
    cause: str  # a short reason shown in the plan ("config hash changed")

    @property
    def key(self) -> ActionKey:
        return ActionKey(self.verb, self.rid)

    @property
    def kind(self) -> Kind:
        return self.rid.kind

    def render(self) -> str:
        return f"{self.verb:<14} {self.rid:<40} {self.cause}".rstrip()


class PlanCycleError(PlanError):
    """The actions cannot be ordered: the project's dependencies form a cycle."""

    def __init__(self, stuck: list[ActionKey]) -> None:
        self.stuck = stuck
        super().__init__(
            f"the plan cannot be ordered: a cycle among {', '.join(str(k) for k in stuck)}",
            hint="look for a cycle through depends_on, network_mode: service:NAME and links",
        )


@dataclass(frozen=True)
class Plan:
    """Actions, the ordering constraints between them (``after[k]`` = keys that finish first), the order."""

    actions: Mapping[ActionKey, Action] = field(default_factory=dict)
    after: Mapping[ActionKey, frozenset[ActionKey]] = field(default_factory=dict)
    order: tuple[ActionKey, ...] = ()
    notes: tuple[str, ...] = ()  # warnings worth showing with the plan

    def __bool__(self) -> bool:
        return bool(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def has(self, verb: Verb, rid: ResourceId) -> bool:
        return ActionKey(verb, rid) in self.actions

    def ordered(self) -> list[Action]:
        return [self.actions[k] for k in self.order]

    def render(self, *, edges: bool = False) -> str:
        """The plan as text, one action per line in order; ``edges`` adds what each waits for."""
        lines: list[str] = []
        for k in self.order:
            lines.append(self.actions[k].render())
            if edges and self.after[k]:
                waits = sorted(self.after[k], key=lambda dep: self.order.index(dep))
                lines.append("    after " + ", ".join(str(dep) for dep in waits))
        if not lines:
            lines = ["nothing to do: the host matches the project"]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


class PlanBuilder:
    """The mutable side of a plan, used by reconcile(); :meth:`build` gives the frozen Plan."""

    def __init__(self) -> None:
        self._actions: dict[ActionKey, Action] = {}
        self._after: dict[ActionKey, set[ActionKey]] = {}
        self._notes: list[str] = []

    def add(self, action: Action, *, after: Iterable[ActionKey] = ()) -> ActionKey:
        k = action.key
        if k not in self._actions:
            self._actions[k] = action
            self._after[k] = set()
        self._after[k].update(a for a in after if a != k)
        return k

    def require(self, k: ActionKey, *, after: Iterable[ActionKey]) -> None:
        """Order an existing action after others; unknown actions on either side are ignored."""
        if k in self._after:
            self._after[k].update(a for a in after if a in self._actions and a != k)

    def has(self, verb: Verb, rid: ResourceId) -> bool:
        return ActionKey(verb, rid) in self._actions

    def actions(self) -> Iterable[Action]:
        return self._actions.values()

    def note(self, text: str) -> None:
        self._notes.append(text)

    def build(self) -> Plan:
        after = {k: frozenset(d for d in deps if d in self._actions) for k, deps in self._after.items()}
        return Plan(dict(self._actions), after, _topological(self._actions, after), tuple(self._notes))


def _sort_key(action: Action) -> tuple[int, str, str]:
    return (VERB_PHASE[action.verb], action.rid, action.verb)


def _topological(
    actions: Mapping[ActionKey, Action], after: Mapping[ActionKey, frozenset[ActionKey]]
) -> tuple[ActionKey, ...]:
    """Lexicographical topological order: deterministic, dependencies first."""
    waiting = {k: len(deps) for k, deps in after.items()}
    dependents: dict[ActionKey, list[ActionKey]] = {k: [] for k in actions}
    for k, deps in after.items():
        for dep in deps:
            dependents[dep].append(k)
    ready = [(_sort_key(actions[k]), k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[ActionKey] = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(k)
        for nxt in dependents[k]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, (_sort_key(actions[nxt]), nxt))
    if len(order) != len(actions):
        raise PlanCycleError(sorted((k for k, n in waiting.items() if n > 0), key=str))
    return tuple(order)
