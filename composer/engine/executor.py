"""Runs a plan: the one place where the host changes (through the action handler).

Actions run as soon as everything they come after has finished, several at a
time (``max_workers``, ``--parallel``), so independent containers start side by
side while a dependent waits for its dependency.  Among ready actions, later
phases go first (a container starts as soon as it exists, its start running in
the supervisor beside the creates still going on), and ties keep the plan's own
order.  Actions that only wait (a stop waits out the grace period, a wait for
health or completion polls) do not take a worker: they run in a pool of their
own, as many at once as are ready (up to ``max_waiters``), so ``down -t 1`` of a
hundred containers costs one grace period, not one per ``--parallel`` of them.
The first failure stops new actions from starting; those already
running finish, then the error is raised.  What was done is in the state store,
so the next ``up`` or ``down`` goes on from there.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from composer.engine.plan import VERB_PHASE, Action, ActionKey, Plan, Verb
from composer.errors import ComposerError

ActionHandler = Callable[[Action], None]

WAITING_VERBS = frozenset((Verb.STOP, Verb.WAIT_HEALTHY, Verb.WAIT_COMPLETED))
MAX_WAITERS = 1024  # threads that sleep in a socket or a poll: cheap, but bounded


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
    def __init__(
        self, handler: ActionHandler, *, max_workers: int = 8, max_waiters: int = MAX_WAITERS
    ) -> None:
        self.handler = handler
        self.max_workers = max(1, max_workers)
        self.max_waiters = max(1, max_waiters)

    def apply(self, plan: Plan) -> None:
        if not plan:
            return
        rank = {k: (-VERB_PHASE[k.verb], index) for index, k in enumerate(plan.order)}
        waiting = {k: len(plan.after[k]) for k in plan.order}
        dependents: dict[ActionKey, list[ActionKey]] = {k: [] for k in plan.order}
        for k in plan.order:
            for dep in plan.after[k]:
                dependents[dep].append(k)
        # One ready queue per pool: a full pool leaves its queue alone (popping and pushing back every
        # queued action after each completion made a first up of N containers quadratic).
        ready: dict[bool, list[tuple[tuple[int, int], ActionKey]]] = {False: [], True: []}
        for k in plan.order:
            if waiting[k] == 0:
                ready[k.verb in WAITING_VERBS].append((rank[k], k))
        for queue in ready.values():
            heapq.heapify(queue)
        failures: list[tuple[Action, BaseException]] = []
        running: dict[Future[None], ActionKey] = {}
        busy = {False: 0, True: 0}  # running actions, by whether they only wait
        workers = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="composer")
        waiters = ThreadPoolExecutor(max_workers=self.max_waiters, thread_name_prefix="composer-wait")
        limit = {False: self.max_workers, True: self.max_waiters}
        with workers, waiters:
            while True:
                # Submit no more than there are threads: after a failure nothing queued runs.
                for waits, queue in ready.items():
                    pool = waiters if waits else workers
                    while queue and not failures and busy[waits] < limit[waits]:
                        _, key = heapq.heappop(queue)
                        busy[waits] += 1
                        running[pool.submit(self.handler, plan.actions[key])] = key
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    k = running.pop(future)
                    busy[k.verb in WAITING_VERBS] -= 1
                    error = future.exception()
                    if error is not None:
                        failures.append((plan.actions[k], error))
                        continue
                    for nxt in dependents[k]:
                        waiting[nxt] -= 1
                        if waiting[nxt] == 0:
                            heapq.heappush(ready[nxt.verb in WAITING_VERBS], (rank[nxt], nxt))
        if failures:
            raise PlanFailed(failures)
