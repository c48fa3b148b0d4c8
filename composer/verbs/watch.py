"""``composer watch`` and ``up --watch``: ``develop.watch`` rules turned into syncs, restarts and execs.

The rules come from the file (``rules_of``); a batch of changed host paths
(gathered by the host, debounced) becomes steps (``plan_steps``, pure), which
``apply_steps`` runs through the host interface on every running container of
the service:

* ``sync``: each changed file or folder under ``path`` is copied to the same
  place under ``target`` (``cp``'s code, chrooted in the container); one that
  is gone is removed there;
* ``restart``: the service's containers are restarted, once per batch;
* ``sync+restart``, ``sync+exec``: a sync, then the restart or the command;
* ``rebuild`` needs an image build, which composer does not do: refused when
  the watch starts, naming the service.

``ignore`` and ``include`` are shell patterns matched against the path
relative to ``path`` and against each of its parts (``node_modules`` ignores
that folder anywhere below); with ``include``, only what matches is acted on.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from composer.engine.hosts.base import CopyRequest, ExecRequest, Host
from composer.errors import ComposerError
from composer.events import Event, EventSink, discard
from composer.model.ids import container_id
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout
from composer.verbs.targets import targets

if TYPE_CHECKING:
    from composer.project.loader import LoadedProject


@dataclass(frozen=True)
class WatchRule:
    service: str
    path: str  # absolute, on the host
    action: str
    target: str | None = None
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exec_argv: tuple[str, ...] = ()
    exec_user: str | None = None
    exec_workdir: str | None = None
    exec_env: Mapping[str, str] = field(default_factory=dict)
    initial_sync: bool = False


@dataclass(frozen=True)
class Step:
    kind: Literal["sync", "delete", "restart", "exec"]
    service: str
    host_path: str = ""
    container_path: str = ""
    rule: WatchRule | None = None


def rules_of(loaded: LoadedProject, services: Sequence[str] = ()) -> list[WatchRule]:
    """The watch rules of ``services`` (all when empty); ComposerError when none or one cannot be honoured."""
    rules: list[WatchRule] = []
    for name, svc in sorted(loaded.spec.services.items()):
        if services and name not in services:
            continue
        develop = getattr(svc, "develop", None)
        for entry in develop.watch if develop is not None else []:
            if entry.action == "rebuild":
                raise ComposerError(
                    f"services.{name}.develop.watch: action rebuild needs an image build (none here)",
                    hint="use sync+restart with a bind of the sources, or restart",
                )
            rules.append(_rule(name, entry, str(loaded.project_directory)))
    if not rules:
        raise ComposerError(
            "none of the services has develop.watch rules",
            hint="add develop: {watch: [{path: ., action: sync, ...}]}",
        )
    return rules


def _rule(service: str, entry: Any, project_dir: str) -> WatchRule:
    hook = entry.exec
    return WatchRule(
        service=service,
        path=os.path.normpath(os.path.join(project_dir, entry.path)),
        action=entry.action,
        target=entry.target,
        ignore=tuple(entry.ignore),
        include=tuple(entry.include),
        exec_argv=tuple(hook.command) if hook else (),
        exec_user=hook.user if hook else None,
        exec_workdir=hook.working_dir if hook else None,
        exec_env=dict(hook.environment) if hook else {},
        initial_sync=entry.initial_sync,
    )


def matches(rule: WatchRule, path: str) -> bool:
    """``path`` is under the rule's path, not ignored and (when the rule has ``include``) included."""
    if path != rule.path and not path.startswith(rule.path.rstrip("/") + "/"):
        return False
    relative = os.path.relpath(path, rule.path) if path != rule.path else os.path.basename(path)
    parts = relative.split(os.sep)

    def hit(patterns: Sequence[str]) -> bool:
        return any(
            fnmatch.fnmatch(relative, p) or any(fnmatch.fnmatch(part, p) for part in parts) for p in patterns
        )

    if hit(rule.ignore):
        return False
    return not rule.include or hit(rule.include)


def plan_steps(
    rules: Sequence[WatchRule], changed: Sequence[str], exists: Callable[[str], bool]
) -> list[Step]:
    """What a batch of changed paths asks for, in the rules' order; one restart per service.  Pure."""
    steps: list[Step] = []
    restarted: set[str] = set()
    for rule in rules:
        hits = [p for p in changed if matches(rule, p)]
        if not hits:
            continue
        if rule.action.startswith("sync"):
            steps += [_sync(rule, p, exists(p)) for p in _outermost(hits)]
        if rule.action in ("restart", "sync+restart") and rule.service not in restarted:
            restarted.add(rule.service)
            steps.append(Step("restart", rule.service, rule=rule))
        if rule.action == "sync+exec":
            steps.append(Step("exec", rule.service, rule=rule))
    return steps


def initial_steps(rules: Sequence[WatchRule]) -> list[Step]:
    """``initial_sync: true``: the whole path, once, when the watch starts."""
    return [_sync(r, r.path, True) for r in rules if r.initial_sync and r.action.startswith("sync")]


def _sync(rule: WatchRule, path: str, present: bool) -> Step:
    assert rule.target is not None
    relative = os.path.relpath(path, rule.path)
    inside = rule.target if relative == "." else posixpath.join(rule.target, relative.replace(os.sep, "/"))
    return Step("sync" if present else "delete", rule.service, path, inside, rule)


def _outermost(paths: Sequence[str]) -> list[str]:
    """A folder's sync carries what is in it: the paths beneath another changed path are dropped."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def apply_steps(
    layout: ProjectLayout, host: Host, steps: Sequence[Step], *, events: EventSink = discard
) -> None:
    """Run the steps on every running container of their services."""
    from composer.verbs import lifecycle

    store = read_store(layout)
    for step in steps:
        if step.kind == "restart":
            events(Event(f"service:{step.service}", "Restarting", "develop.watch"))
            lifecycle.restart(layout, host, [step.service])
            continue
        for target in targets(store, [step.service], oneoffs=False):
            if host.container_status(layout, target.name).state != "running":
                continue
            _apply_one(layout, host, target.name, step)
            events(Event(container_id(target.name), "Updated", f"{step.kind} {step.container_path}".rstrip()))


def _apply_one(layout: ProjectLayout, host: Host, name: str, step: Step) -> None:
    if step.kind == "sync":
        source = step.host_path + "/." if os.path.isdir(step.host_path) else step.host_path
        host.copy_to_container(layout, name, CopyRequest(step.container_path, source))
    elif step.kind == "delete":
        host.exec_in_container(layout, name, ExecRequest(("rm", "-rf", step.container_path)))
    elif step.kind == "exec" and step.rule is not None:
        rule = step.rule
        request = ExecRequest(
            rule.exec_argv, user=rule.exec_user, working_dir=rule.exec_workdir, env=rule.exec_env
        )
        host.exec_in_container(layout, name, request)
