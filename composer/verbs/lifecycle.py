"""start, stop, restart, kill, exec and logs on containers that ``up`` made.

These act on what the state store records (the project file is not needed):
containers are started and stopped through the project's supervisor, in
dependency order for start and the reverse for stop.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ComposerError, ContainerError
from composer.events import Event, EventSink, discard
from composer.store.container import ContainerDir, is_alive
from composer.store.journal import ProjectState, project_lock
from composer.supervisor import client as supervisor_client


@dataclass(frozen=True)
class Target:
    name: str
    service: str
    number: int
    depends_on: tuple[str, ...]


def targets(state: ProjectState, services: Sequence[str] = ()) -> list[Target]:
    """The project's complete containers, of ``services`` (all when empty), in start order."""
    found = [
        Target(
            rid.partition(":")[2],
            str(rec.data.get("service", "")),
            int(rec.data.get("number", 0)),
            tuple(rec.data.get("depends_on", [])),
        )
        for rid, rec in sorted(state.of_kind("container").items())
        if rec.phase == "created"
    ]
    known = {t.service for t in found}
    unknown = [s for s in services if s not in known]
    if unknown:
        raise ComposerError(
            f"no container of service {', '.join(unknown)} in project {state.project}",
            hint="is the project up? see composer ps -a",
        )
    chosen = [t for t in found if not services or t.service in services]
    return _start_order(chosen)


def _start_order(items: list[Target]) -> list[Target]:
    by_service: dict[str, list[Target]] = {}
    for item in items:
        by_service.setdefault(item.service, []).append(item)
    ordered: list[Target] = []
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(service: str) -> None:
        if service in done or service in visiting or service not in by_service:
            return
        visiting.add(service)
        for dep in sorted(by_service[service][0].depends_on):
            visit(dep)
        visiting.discard(service)
        done.add(service)
        ordered.extend(sorted(by_service[service], key=lambda t: t.number))

    for service in sorted(by_service):
        visit(service)
    return ordered


def _require_project(state: ProjectState) -> None:
    if not state.of_kind("container"):
        raise ComposerError(f"project {state.project} has no containers", hint="bring it up with composer up")


def start(
    state_root: Path, project: str, services: Sequence[str] = (), *, events: EventSink = discard
) -> None:
    with project_lock(state_root, project) as state:
        _require_project(state)
        for target in targets(state, services):
            status = ContainerDir(state.container_dir(target.name)).read_status()
            if is_alive(status):
                continue
            events(Event(f"container:{target.name}", "Starting"))
            supervisor_client.start(state.dir, target.name)
            events(Event(f"container:{target.name}", "Started"))


def stop(
    state_root: Path,
    project: str,
    services: Sequence[str] = (),
    *,
    timeout: float | None = None,
    events: EventSink = discard,
) -> None:
    with project_lock(state_root, project) as state:
        _require_project(state)
        _stop_all(state, list(reversed(targets(state, services))), timeout, events)


def _stop_all(state: ProjectState, items: list[Target], timeout: float | None, events: EventSink) -> None:
    from composer.engine.hosts.real import RealHost

    host = RealHost(state.root, state.root)  # stopping needs no image store
    lock = threading.Lock()

    def one(target: Target) -> None:
        with lock:
            events(Event(f"container:{target.name}", "Stopping"))
        host.stop_container(state.dir, target.name, timeout)
        with lock:
            events(Event(f"container:{target.name}", "Stopped"))

    # Dependents first: stop service by service in reverse start order, containers of one service together.
    groups: list[list[Target]] = []
    for item in items:
        if groups and groups[-1][0].service == item.service:
            groups[-1].append(item)
        else:
            groups.append([item])
    with ThreadPoolExecutor(max_workers=8) as pool:
        for group in groups:
            list(pool.map(one, group))


def restart(
    state_root: Path,
    project: str,
    services: Sequence[str] = (),
    *,
    timeout: float | None = None,
    events: EventSink = discard,
) -> None:
    stop(state_root, project, services, timeout=timeout, events=events)
    start(state_root, project, services, events=events)


def kill(
    state_root: Path,
    project: str,
    services: Sequence[str] = (),
    *,
    sig: int = signal.SIGKILL,
    events: EventSink = discard,
) -> None:
    state = ProjectState(state_root, project).load()
    _require_project(state)
    for target in targets(state, services):
        status = ContainerDir(state.container_dir(target.name)).read_status()
        if not is_alive(status):
            continue
        if supervisor_client.is_running(state.dir):
            supervisor_client.request(state.dir, {"op": "kill", "name": target.name, "signal": sig})
        else:
            os.kill(status.pid, sig)
        events(
            Event(
                f"container:{target.name}",
                "Stopped" if sig == signal.SIGKILL else "Info",
                f"sent {signal.Signals(sig).name}",
            )
        )


def find_container(state: ProjectState, service: str, index: int = 1) -> Target:
    for target in targets(state, [service]):
        if target.number == index:
            return target
    raise ComposerError(f"service {service} has no container number {index}")


def exec_in(
    state_root: Path,
    project: str,
    service: str,
    argv: Sequence[str],
    *,
    index: int = 1,
    user: str | None = None,
    working_dir: str | None = None,
    env: dict[str, str] | None = None,
    tty: bool = False,
) -> int:
    from composer.kernel.cgroups import open_handle
    from composer.kernel.process import exec_in_container

    state = ProjectState(state_root, project).load()
    target = find_container(state, service, index)
    cdir = ContainerDir(state.container_dir(target.name))
    status = cdir.read_status()
    if not is_alive(status):
        raise ContainerError(f"container {target.name} is not running", hint=f"composer start {service}")
    spec = cdir.read_spec()
    return exec_in_container(
        status.pid, list(argv), user=user if user is not None else spec.config.user,
        working_dir=working_dir, env=env, tty=tty, cgroup=open_handle(spec.cgroup_paths), cfg=spec.config,
    )  # fmt: skip


@dataclass(frozen=True)
class Tagged:
    container: str
    service: str
    text: str
    stream: str


def logs(
    state_root: Path,
    project: str,
    services: Sequence[str] = (),
    *,
    tail: int | None = None,
    follow: bool = False,
    timestamps: bool = False,
    until: object = None,
) -> Iterator[Tagged]:
    """Lines of the containers' logs; with ``follow``, interleaved as they come."""
    from composer.kernel.logs import read_logs

    state = ProjectState(state_root, project).load()
    chosen = targets(state, services)
    if not follow:
        for target in chosen:
            log_file = str(ContainerDir(state.container_dir(target.name)).log_file)
            for line in read_logs(log_file, tail=tail, timestamps=timestamps):
                yield Tagged(target.name, target.service, line.render(), line.stream)
        return
    yield from _follow_all(state, chosen, tail, timestamps, until)


def _follow_all(
    state: ProjectState, chosen: list[Target], tail: int | None, timestamps: bool, until: object
) -> Iterator[Tagged]:
    import queue

    from composer.kernel.logs import read_logs

    lines: queue.Queue[Tagged | None] = queue.Queue()
    stop_flag = threading.Event()
    done = (lambda: stop_flag.is_set()) if until is None else (lambda: stop_flag.is_set() or until())  # type: ignore[operator]

    def pump(target: Target) -> None:
        log_file = str(ContainerDir(state.container_dir(target.name)).log_file)
        for line in read_logs(log_file, tail=tail, follow=True, timestamps=timestamps, until=done):
            lines.put(Tagged(target.name, target.service, line.render(), line.stream))
        lines.put(None)

    threads = [threading.Thread(target=pump, args=(t,), daemon=True) for t in chosen]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < len(threads):
            item = lines.get()
            if item is None:
                finished += 1
                continue
            yield item
    finally:
        stop_flag.set()
