"""A plan is a value: a DAG of actions, each with the resource it acts on and why.

``reconcile()`` builds it purely from the desired and the observed state; the
executor runs it.  Rendering is deterministic (same input, same text), which is
what ``--dry-run`` prints and what the golden-plan tests compare.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

Verb = Literal[
    "create", "start", "stop", "remove", "recreate-stop", "restart",
    "wait-healthy", "wait-completed", "apply", "pull",
]  # fmt: skip

# Where an action of each verb comes when the DAG leaves a tie: removals first, then creation.
VERB_PHASE = {
    "stop": 0, "recreate-stop": 0, "remove": 1, "pull": 2, "create": 3, "apply": 4,
    "start": 5, "restart": 5, "wait-healthy": 6, "wait-completed": 6,
}  # fmt: skip


@dataclass(frozen=True)
class Action:
    verb: Verb
    rid: str  # the ResourceID acted on
    cause: str  # a short reason shown in the plan ("config hash changed")

    @property
    def key(self) -> str:
        return f"{self.verb} {self.rid}"

    @property
    def kind(self) -> str:
        """The resource kind: container, network, link, volume, firewall."""
        return self.rid.partition(":")[0]

    def render(self) -> str:
        return f"{self.verb:<14} {self.rid:<40} {self.cause}".rstrip()


@dataclass
class Plan:
    """Actions and the ordering constraints between them (``after[key]`` = keys that must finish first)."""

    actions: dict[str, Action] = field(default_factory=dict)
    after: dict[str, set[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # warnings worth showing with the plan

    def add(self, action: Action, *, after: Iterable[str] = ()) -> str:
        key = action.key
        if key not in self.actions:
            self.actions[key] = action
            self.after[key] = set()
        self.after[key].update(a for a in after if a != key)
        return key

    def require(self, key: str, *, after: Iterable[str]) -> None:
        """Add ordering edges to an existing action; unknown predecessors are ignored."""
        if key in self.after:
            self.after[key].update(a for a in after if a in self.actions and a != key)

    def has(self, verb: str, rid: str) -> bool:
        return f"{verb} {rid}" in self.actions

    def __bool__(self) -> bool:
        return bool(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def prune_edges(self) -> None:
        """Drop ordering edges to actions that are not in the plan."""
        for key, deps in self.after.items():
            self.after[key] = {d for d in deps if d in self.actions}

    def ordered(self) -> list[Action]:
        """Lexicographical topological order: deterministic, dependencies first."""
        return [self.actions[key] for key in self._topological_keys()]

    def _topological_keys(self) -> Iterator[str]:
        self.prune_edges()
        waiting = {key: len(deps) for key, deps in self.after.items()}
        dependents: dict[str, list[str]] = {key: [] for key in self.actions}
        for key, deps in self.after.items():
            for dep in deps:
                dependents[dep].append(key)
        ready = [self._sort_key(k) for k, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        seen = 0
        while ready:
            _, _, key = heapq.heappop(ready)
            seen += 1
            yield key
            for nxt in dependents[key]:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    heapq.heappush(ready, self._sort_key(nxt))
        if seen != len(self.actions):
            stuck = sorted(k for k, n in waiting.items() if n > 0)
            raise ValueError(f"the plan has a cycle among: {', '.join(stuck)}")

    def _sort_key(self, key: str) -> tuple[int, str, str]:
        action = self.actions[key]
        return (VERB_PHASE[action.verb], action.rid, key)

    def render(self) -> str:
        lines = [action.render() for action in self.ordered()]
        if not lines:
            lines = ["nothing to do: the host matches the project"]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"
