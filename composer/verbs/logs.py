"""``composer logs``: the containers' JSON log files, tagged with their container and service."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from composer.kernel.logs import read_logs
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout
from composer.verbs.targets import Target, targets


@dataclass(frozen=True)
class Tagged:
    container: str
    service: str
    text: str
    stream: str


def logs(
    layout: ProjectLayout,
    services: Sequence[str] = (),
    *,
    tail: int | None = None,
    follow: bool = False,
    timestamps: bool = False,
    until: Callable[[], bool] | None = None,
) -> Iterator[Tagged]:
    """Lines of the containers' logs; with ``follow``, interleaved as they come until ``until()``."""
    chosen = targets(read_store(layout), services)
    if not follow:
        for target in chosen:
            for line in read_logs(str(layout.container(target.name).log), tail=tail, timestamps=timestamps):
                yield Tagged(target.name, target.service, line.render(), line.stream)
        return
    yield from _follow_all(layout, chosen, tail, timestamps, until)


def _follow_all(
    layout: ProjectLayout,
    chosen: list[Target],
    tail: int | None,
    timestamps: bool,
    until: Callable[[], bool] | None,
) -> Iterator[Tagged]:
    lines: queue.Queue[Tagged | None] = queue.Queue()
    stop_flag = threading.Event()

    def done() -> bool:
        return stop_flag.is_set() or (until is not None and until())

    def pump(target: Target) -> None:
        log_file = str(layout.container(target.name).log)
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
