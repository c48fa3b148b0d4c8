"""Progress as events: the core reports what it does through a callback, never by printing.

The CLI turns events into a live rich display, plain lines, or JSON lines
(``--progress``).  Event names follow docker compose's vocabulary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Status = Literal[
    "Pulling", "Pulled", "Building", "Built",
    "Creating", "Created", "Starting", "Started", "Waiting", "Healthy", "Exited",
    "Stopping", "Stopped", "Removing", "Removed", "Restarting", "Recreate",
    "Running", "Updating", "Updated", "Warning", "Error", "Info", "Paused", "Unpaused",
]  # fmt: skip


@dataclass(frozen=True)
class Event:
    resource: str  # a ResourceID: container:web-1, network:backend, ...
    status: Status
    text: str = ""
    time: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return self.resource.partition(":")[0]

    @property
    def name(self) -> str:
        return self.resource.partition(":")[2]


EventSink = Callable[[Event], None]


def discard(_event: Event) -> None:
    """An event sink that drops everything (library use, tests)."""


class Recorder:
    """An event sink that keeps the events, for tests and for the final summary."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def statuses(self, resource: str) -> list[str]:
        return [e.status for e in self.events if e.resource == resource]
