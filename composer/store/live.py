"""The live state of a lab's links: what ``composer link set/down/up`` changed, next to the file's values.

``up`` writes this file (``<project>/live.json``) with the desired state it
applied and no changes; the ``link`` verbs read the desired state from it (no
project file needed, as for ``ps``) and record each change here *before* they
make it, so that ``ps`` and ``link ls`` can say what differs from the file even
after a crash half-way.  The next ``up`` puts the file's values back and writes
the file afresh: the project file stays the truth, a live change is an
experiment on top of it.

A change is kept as the whole setting of one interface (state and every
impairment), not as a difference, so that "no rate" and "the file's rate" are
not confused.  Versioned like every stored form; another version reads as
"nothing recorded".
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from composer.model.codec import desired_from_json, desired_to_json
from composer.model.desired import DesiredInterface, DesiredState
from composer.model.ids import ResourceId
from composer.store.files import atomic_write
from composer.store.layout import ProjectLayout

LIVE_VERSION = 1


@dataclass(frozen=True)
class EndSetting:
    """What one interface is set to: its state and what its egress suffers (None: nothing)."""

    up: bool = True
    rate: int | None = None  # bits per second
    delay: float | None = None  # seconds
    jitter: float | None = None
    loss: float | None = None  # percent
    corrupt: float | None = None
    duplicate: float | None = None
    reorder: float | None = None

    @classmethod
    def of(cls, interface: DesiredInterface) -> EndSetting:
        return cls(**{f.name: getattr(interface, f.name) for f in fields(cls)})

    def values(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LiveLinks:
    desired: DesiredState  # what the last `up` applied from the file
    changes: Mapping[ResourceId, EndSetting] = field(default_factory=dict)  # interface -> live setting


def save(layout: ProjectLayout, live: LiveLinks) -> None:
    payload = {
        "version": LIVE_VERSION,
        "desired": desired_to_json(live.desired),
        "changes": [{"interface": str(rid), **s.values()} for rid, s in sorted(live.changes.items())],
    }
    atomic_write(layout.live_links, json.dumps(payload, separators=(",", ":")))


def load(layout: ProjectLayout) -> LiveLinks | None:
    """What the last ``up`` applied and the live changes since; None when nothing (readable) is there."""
    try:
        raw = json.loads(layout.live_links.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("version") != LIVE_VERSION:
        return None
    desired = desired_from_json(raw.get("desired") or {})
    if desired is None:
        return None
    try:
        changes = {
            ResourceId(item["interface"]): EndSetting(**{k: v for k, v in item.items() if k != "interface"})
            for item in raw.get("changes", [])
        }
    except (KeyError, TypeError, ValueError):
        return None
    return LiveLinks(desired, changes)


def changed(layout: ProjectLayout) -> bool:
    """Whether live changes are recorded (cheap: ``ps`` asks on every call)."""
    try:
        text = layout.live_links.read_text()
    except OSError:
        return False
    return '"changes":[]' not in text


def forget(layout: ProjectLayout) -> None:
    with contextlib.suppress(FileNotFoundError):
        layout.live_links.unlink()
