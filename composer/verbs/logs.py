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
    time: str = ""  # RFC 3339 with nanoseconds, UTC


@dataclass(frozen=True)
class TimeWindow:
    """``--since``/``--until`` as RFC 3339 texts of one format, so that they compare as strings."""

    since: str = ""
    until: str = ""

    def holds(self, stamp: str) -> bool:
        return (not self.since or stamp >= self.since) and (not self.until or stamp < self.until)


def time_bound(raw: str, now_ns: int) -> str:
    """A ``--since``/``--until`` value: a duration back from now (``10m``, ``1h30m``, ``42s``), a Unix
    timestamp, or an RFC 3339 date or time; as the log's own RFC 3339 text.  ValueError when neither."""
    from datetime import UTC, datetime

    from composer.kernel.logs import rfc3339_nano
    from composer.model.units import parse_duration

    text = raw.strip()
    if text.replace(".", "", 1).isdigit():
        return rfc3339_nano(int(float(text) * 1e9))
    if text and text[-1] in "smhd" and text[0].isdigit():
        try:
            return rfc3339_nano(now_ns - int(parse_duration(text) * 1e9))
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{raw!r}: give a duration (10m, 1h), a Unix timestamp or an RFC 3339 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return rfc3339_nano(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


def logs(
    layout: ProjectLayout,
    services: Sequence[str] = (),
    *,
    tail: int | None = None,
    follow: bool = False,
    timestamps: bool = False,
    until: Callable[[], bool] | None = None,
    window: TimeWindow | None = None,
    index: int | None = None,
) -> Iterator[Tagged]:
    """Lines of the containers' logs; with ``follow``, interleaved as they come until ``until()``.

    ``window`` keeps the lines written within it (``--since``/``--until``); ``index`` one replica.
    """
    chosen = [t for t in targets(read_store(layout), services) if index is None or t.number == index]
    if window is not None:
        lines = logs(
            layout, services, tail=tail, follow=follow, timestamps=timestamps, until=until, index=index
        )
        yield from (line for line in lines if window.holds(line.time))
        return
    if not follow:
        for target in chosen:
            for line in read_logs(str(layout.container(target.name).log), tail=tail, timestamps=timestamps):
                yield Tagged(target.name, target.service, line.render(), line.stream, line.time)
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
            lines.put(Tagged(target.name, target.service, line.render(), line.stream, line.time))
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
