"""Rendering progress events: coloured lines on a terminal, plain lines for CI, or JSON lines."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from composer.events import Event, EventSink

_STYLES = {
    "Created": "green", "Started": "green", "Healthy": "green", "Removed": "green", "Stopped": "green",
    "Pulled": "green", "Exited": "cyan", "Error": "red", "Warning": "yellow", "Waiting": "yellow",
}  # fmt: skip


MODES = ("auto", "tty", "plain", "json", "quiet")


def make_sink(
    mode: str, stream: TextIO | None = None, *, ansi: str = "auto"
) -> tuple[EventSink, Callable[[], None]]:
    """An event sink for ``--progress MODE`` (auto, tty, plain, json, quiet) and a function closing it.

    ``ansi`` (the global ``--ansi``): ``never`` prints plain lines even on a terminal, ``always`` the
    live display even when not on one.
    """
    if mode not in MODES:
        from composer.errors import ComposerError

        raise ComposerError(f"--progress {mode!r}: expected one of {', '.join(MODES)}")
    out = stream or sys.stderr
    if mode == "quiet":
        return (lambda _e: None), (lambda: None)
    if mode == "json":
        return _locked(lambda e: out.write(json.dumps(_as_json(e)) + "\n")), out.flush
    styled = ansi == "always" or (ansi != "never" and out.isatty())
    if mode in ("tty", "auto") and styled:
        return _rich_sink(out, force=ansi == "always")
    return _locked(lambda e: out.write(_plain(e) + "\n")), out.flush


def _locked(write: Callable[[Event], object]) -> EventSink:
    lock = threading.Lock()

    def sink(event: Event) -> None:
        with lock:
            write(event)

    return sink


def _as_json(event: Event) -> dict[str, object]:
    return {"time": event.time, "resource": event.resource, "status": event.status, "text": event.text}


def _plain(event: Event) -> str:
    text = f" {event.text}" if event.text else ""
    return f"{event.kind.capitalize()} {event.name} {event.status}{text}"


def _rich_sink(out: TextIO, *, force: bool = False) -> tuple[EventSink, Callable[[], None]]:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, force_terminal=True if force else None)

    def write(event: Event) -> None:
        line = Text(" ✔ " if event.status in _STYLES and _STYLES[event.status] == "green" else " ⠿ ")
        line.append(f"{event.kind.capitalize():<10}", style="bold")
        line.append(f"{event.name:<32} ")
        line.append(event.status, style=_STYLES.get(event.status, "blue"))
        if event.text:
            line.append(f"  {event.text}", style="dim")
        console.print(line)

    return _locked(write), (lambda: None)
