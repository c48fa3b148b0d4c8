"""Which containers a verb acts on, and in which order: read from the state store, not the file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from composer.errors import ComposerError
from composer.store.journal import ProjectStore


@dataclass(frozen=True)
class Target:
    name: str
    service: str
    number: int
    depends_on: tuple[str, ...]
    oneoff: bool = False  # a `run` container


def targets(store: ProjectStore, services: Sequence[str] = (), *, oneoffs: bool = True) -> list[Target]:
    """The project's complete containers, of ``services`` (all when empty), in start order;
    ``run``'s containers only with ``oneoffs`` (start, stop, restart, kill and pause leave them)."""
    found = [
        Target(rid.name, s.record.service, s.record.number, s.record.depends_on, s.record.oneoff)
        for rid, s in sorted(store.containers().items())
        if s.complete and (oneoffs or not s.record.oneoff)
    ]
    known = {t.service for t in found}
    unknown = [s for s in services if s not in known]
    if unknown:
        raise ComposerError(
            f"no container of service {', '.join(unknown)} in project {store.project}",
            hint="is the project up? see composer ps -a",
        )
    chosen = [t for t in found if not services or t.service in services]
    return start_order(chosen)


def start_order(items: list[Target]) -> list[Target]:
    """Dependencies before their dependents; by service name, then number, where free."""
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


def find_container(store: ProjectStore, service: str, index: int = 1) -> Target:
    for target in targets(store, [service]):
        if target.number == index and not target.oneoff:
            return target
    raise ComposerError(f"service {service} has no container number {index}")


def require_containers(store: ProjectStore) -> None:
    if not store.containers():
        raise ComposerError(f"project {store.project} has no containers", hint="bring it up with composer up")


def stop_waves(items: Sequence[Target]) -> list[list[Target]]:
    """The containers grouped so that dependents stop before what they depend on, as compose does.

    Wave 0 holds the containers of services nothing (among ``items``) depends on;
    a service comes one wave after the last of its dependents.
    """
    chosen = {item.service for item in items}
    dependents: dict[str, set[str]] = {service: set() for service in chosen}
    for item in items:
        for dependency in item.depends_on:
            if dependency in chosen:
                dependents[dependency].add(item.service)
    wave_of: dict[str, int] = {}

    def wave(service: str, seen: frozenset[str] = frozenset()) -> int:
        if service not in wave_of:
            later = [wave(d, seen | {service}) + 1 for d in dependents[service] if d not in seen]
            wave_of[service] = max(later, default=0)
        return wave_of[service]

    waves: list[list[Target]] = [[] for _ in range(1 + max((wave(s) for s in chosen), default=-1))]
    for item in items:
        waves[wave_of[item.service]].append(item)
    return [group for group in waves if group]
