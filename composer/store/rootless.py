"""The records of a rootless project's helpers: its namespace keeper and its pasta (versioned JSON).

Both are processes on the host (outside the project's namespaces), found again by
PID and start time, never by name or command line.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RECORD_VERSION = 1


@dataclass(frozen=True)
class KeeperRecord:
    pid: int
    start_time: int
    single_id: bool  # only the caller's id is mapped


@dataclass(frozen=True)
class PastaRecord:
    pid: int
    start_time: int
    argv: tuple[str, ...]  # what it was started with: a different port set means a restart


def write_record(path: Path, record: KeeperRecord | PastaRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": RECORD_VERSION, **asdict(record)}) + "\n")
    os.replace(temporary, path)


def read_keeper(path: Path) -> KeeperRecord | None:
    raw = _read(path)
    if raw is None:
        return None
    try:
        return KeeperRecord(int(raw["pid"]), int(raw["start_time"]), bool(raw["single_id"]))
    except (KeyError, TypeError, ValueError):
        return None


def read_pasta(path: Path) -> PastaRecord | None:
    raw = _read(path)
    if raw is None:
        return None
    try:
        return PastaRecord(int(raw["pid"]), int(raw["start_time"]), tuple(str(a) for a in raw["argv"]))
    except (KeyError, TypeError, ValueError):
        return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("version") != RECORD_VERSION:
        return None
    return raw


def remove_record(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
