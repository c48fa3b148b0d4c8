"""Pull progress as events, and two renderers.

The store never prints: it calls ``progress.event(ev)`` on the object it was given
(from worker threads, so renderers lock).  :class:`PlainProgress` writes one line
per layer state change, for CI logs; :class:`RichProgress` draws one bar per layer
on a terminal; :class:`CollectingProgress` keeps the events (tests, benchmarks).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import IO, Literal, Protocol

LayerPhase = Literal["waiting", "downloading", "downloaded", "extracting", "done", "exists"]


@dataclass(frozen=True)
class PullStarted:
    reference: str
    layers: int


@dataclass(frozen=True)
class LayerEvent:
    """A layer changed phase, or (``advanced`` > 0) more of it was downloaded."""

    reference: str
    digest: str
    phase: LayerPhase
    total: int
    advanced: int = 0


@dataclass(frozen=True)
class PullDone:
    reference: str
    image_id: str
    downloaded_bytes: int
    layers_unpacked: int
    up_to_date: bool = False


PullEvent = PullStarted | LayerEvent | PullDone


class PullProgress(Protocol):
    def event(self, ev: PullEvent) -> None: ...


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


class PlainProgress:
    """One line per state change: readable in CI logs, no control characters."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def event(self, ev: PullEvent) -> None:
        line = self._line(ev)
        if line is None:
            return
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    @staticmethod
    def _line(ev: PullEvent) -> str | None:
        if isinstance(ev, PullStarted):
            return f"{ev.reference}: pulling ({ev.layers} layers)"
        if isinstance(ev, PullDone):
            state = "up to date" if ev.up_to_date else f"pulled, {ev.downloaded_bytes} bytes downloaded"
            return f"{ev.reference}: {state} ({short(ev.image_id)})"
        if ev.advanced or ev.phase == "waiting":
            return None
        return f"{ev.reference}: {short(ev.digest)} {ev.phase} ({ev.total} bytes)"


class RichProgress:
    """A bar per layer on a terminal; use as a context manager around the pulls."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskID,
            TextColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),  # stdout stays for what the verb prints
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def event(self, ev: PullEvent) -> None:
        if isinstance(ev, PullStarted):
            self._progress.console.print(f"{ev.reference}: pulling {ev.layers} layers")
            return
        if isinstance(ev, PullDone):
            state = "up to date" if ev.up_to_date else "pulled"
            self._progress.console.print(f"{ev.reference}: {state} ({short(ev.image_id)})")
            return
        with self._lock:
            key = (ev.reference, ev.digest)
            if key not in self._tasks:
                self._tasks[key] = self._progress.add_task(short(ev.digest), total=ev.total)
            task = self._tasks[key]
        description = f"{short(ev.digest)} {ev.phase}"
        if ev.advanced:
            self._progress.update(task, advance=ev.advanced)
        elif ev.phase in ("done", "exists"):
            self._progress.update(task, completed=ev.total, description=description)
        else:
            self._progress.update(task, description=description)


@dataclass
class CollectingProgress:
    """Keeps every event; thread-safe enough for list.append under the GIL."""

    events: list[PullEvent] = field(default_factory=list)

    def event(self, ev: PullEvent) -> None:
        self.events.append(ev)

    def done(self) -> list[PullDone]:
        return [ev for ev in self.events if isinstance(ev, PullDone)]
