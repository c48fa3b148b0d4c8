"""start, stop, restart and kill on containers that ``up`` made.

These act on what the state store records (the project file is not needed),
through the host interface: containers are started and stopped by the project's
supervisor, in dependency order for start and the reverse for stop.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from composer.engine.hosts.base import Host
from composer.events import Event, EventSink, Status, discard
from composer.model.ids import container_id
from composer.store.journal import ProjectStore, read_store
from composer.store.layout import ProjectLayout
from composer.store.locks import project_lock
from composer.verbs.targets import Target, require_containers, stop_waves, targets


def start(
    layout: ProjectLayout, host: Host, services: Sequence[str] = (), *, events: EventSink = discard
) -> None:
    with project_lock(layout) as store:
        require_containers(store)
        for target in targets(store, services, oneoffs=False):
            if host.container_status(layout, target.name).state in ("running", "paused"):
                continue
            events(Event(container_id(target.name), "Starting"))
            host.start_existing(layout, target.name)
            events(Event(container_id(target.name), "Started"))


def stop(
    layout: ProjectLayout,
    host: Host,
    services: Sequence[str] = (),
    *,
    timeout: float | None = None,
    events: EventSink = discard,
) -> None:
    with project_lock(layout) as store:
        require_containers(store)
        _stop_all(store, host, list(reversed(targets(store, services, oneoffs=False))), timeout, events)


def _stop_all(
    store: ProjectStore, host: Host, items: list[Target], timeout: float | None, events: EventSink
) -> None:
    lock = threading.Lock()

    def one(target: Target) -> None:
        with lock:
            events(Event(container_id(target.name), "Stopping"))
        host.stop_container(store.layout, target.name, timeout)
        with lock:
            events(Event(container_id(target.name), "Stopped"))

    for wave in stop_waves(items):  # each wave at once: one grace period per wave, not per container
        with ThreadPoolExecutor(max_workers=min(len(wave), MAX_PARALLEL_STOPS)) as pool:
            list(pool.map(one, wave))


MAX_PARALLEL_STOPS = 1024  # each waits in a socket for the supervisor's answer: cheap threads


def restart(
    layout: ProjectLayout,
    host: Host,
    services: Sequence[str] = (),
    *,
    timeout: float | None = None,
    events: EventSink = discard,
) -> None:
    stop(layout, host, services, timeout=timeout, events=events)
    start(layout, host, services, events=events)


def kill(
    layout: ProjectLayout,
    host: Host,
    services: Sequence[str] = (),
    *,
    sig: int = signal.SIGKILL,
    events: EventSink = discard,
) -> None:
    store = read_store(layout)
    require_containers(store)
    for target in targets(store, services, oneoffs=False):
        if host.container_status(layout, target.name).state != "running":
            continue
        host.kill_container(layout, target.name, sig)
        what: Status = "Stopped" if sig == signal.SIGKILL else "Info"
        events(Event(container_id(target.name), what, f"sent {signal.Signals(sig).name}"))


def pause(
    layout: ProjectLayout, host: Host, services: Sequence[str] = (), *, events: EventSink = discard
) -> list[str]:
    """Freeze the running containers of ``services`` (all when empty); the names paused."""
    return _freeze(layout, host, services, events, pausing=True)


def unpause(
    layout: ProjectLayout, host: Host, services: Sequence[str] = (), *, events: EventSink = discard
) -> list[str]:
    """Thaw the paused containers of ``services`` (all when empty); the names unpaused."""
    return _freeze(layout, host, services, events, pausing=False)


def _freeze(
    layout: ProjectLayout, host: Host, services: Sequence[str], events: EventSink, *, pausing: bool
) -> list[str]:
    store = read_store(layout)
    require_containers(store)
    done: list[str] = []
    for target in targets(store, services, oneoffs=False):
        state = host.container_status(layout, target.name).state
        if state != ("running" if pausing else "paused"):
            continue
        if pausing:
            host.pause_container(layout, target.name)
        else:
            host.unpause_container(layout, target.name)
        events(Event(container_id(target.name), "Paused" if pausing else "Unpaused"))
        done.append(target.name)
    return done
