"""Runs a plan: the only place where the host changes.

Actions run as soon as everything they come after has finished, several at a
time (``max_workers``, ``--parallel``), so independent containers start side by
side while a dependent waits for its dependency.  The first failure stops new
actions from starting; those already running finish, then the error is raised.
What was done is in the state store, so the next ``up`` or ``down`` goes on from
there.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from composer.engine.plan import VERB_PHASE, Action, Plan
from composer.errors import ComposerError

ActionHandler = Callable[[Action], None]


class PlanFailed(ComposerError):
    """One or more actions failed; ``failures`` keeps each action with its error."""

    def __init__(self, failures: list[tuple[Action, BaseException]]) -> None:
        self.failures = failures
        lines = [f"{action.verb} {action.rid}: {_describe(error)}" for action, error in failures]
        super().__init__("\n".join(lines))
        first = failures[0][1]
        self.exit_code = first.exit_code if isinstance(first, ComposerError) else 1


def _describe(error: BaseException) -> str:
    return error.render() if isinstance(error, ComposerError) else f"{type(error).__name__}: {error}"


class Executor:
    def __init__(self, handler: ActionHandler, *, max_workers: int = 8) -> None:
        self.handler = handler
        self.max_workers = max(1, max_workers)

    def apply(self, plan: Plan) -> None:
        if not plan:
            return
        order = [action.key for action in plan.ordered()]  # validates: no cycle
        # Among ready actions, later phases go first: a container starts as soon as it is created
        # (its start runs in the supervisor, beside the creates still going on here).
        rank = {key: (-VERB_PHASE[plan.actions[key].verb], index) for index, key in enumerate(order)}
        waiting = {key: len(plan.after[key]) for key in order}
        dependents: dict[str, list[str]] = {key: [] for key in order}
        for key in order:
            for dep in plan.after[key]:
                dependents[dep].append(key)
        position = {rank[key]: key for key in order}
        ready = [rank[key] for key in order if waiting[key] == 0]
        heapq.heapify(ready)
        failures: list[tuple[Action, BaseException]] = []
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="composer") as pool:
            while True:
                # Submit no more than there are workers: after a failure nothing queued runs.
                while ready and not failures and len(running) < self.max_workers:
                    key = position[heapq.heappop(ready)]
                    running[pool.submit(self.handler, plan.actions[key])] = key
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    key = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        failures.append((plan.actions[key], error))
                        continue
                    for nxt in dependents[key]:
                        waiting[nxt] -= 1
                        if waiting[nxt] == 0:
                            heapq.heappush(ready, rank[nxt])
        if failures:
            raise PlanFailed(failures)
