"""``composer stats``: per-container CPU, memory, network, block I/O and pids, as docker shows them.

CPU is the container's CPU time over the wall time between two readings (100%
is one CPU busy), which is docker's ``cpu_delta / system_delta * online_cpus``;
memory is in binary units against the limit (the host's memory when none), the
byte counters in decimal ones, as the docker CLI prints them.  A project total
row (``project``) sums the containers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from composer.engine.hosts.base import HostFacts
from composer.kernel.stats import Sample
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout
from composer.verbs.targets import targets


@dataclass(frozen=True)
class StatsRow:
    Name: str
    Service: str
    CPUPerc: str
    MemUsage: str
    MemPerc: str
    NetIO: str
    BlockIO: str
    PIDs: str


def row_of(name: str, service: str, first: Sample, second: Sample, seconds: float) -> StatsRow:
    """One row from two readings ``seconds`` apart.  Pure."""
    cpu = 0.0 if seconds <= 0 else max(0, second.cpu_ns - first.cpu_ns) / (seconds * 1e9) * 100
    limit = second.memory_limit
    memory_share = second.memory / limit * 100 if limit else 0.0
    return StatsRow(
        Name=name,
        Service=service,
        CPUPerc=f"{cpu:.2f}%",
        MemUsage=f"{binary_size(second.memory)} / {binary_size(limit)}",
        MemPerc=f"{memory_share:.2f}%",
        NetIO=f"{decimal_size(second.net_rx)} / {decimal_size(second.net_tx)}",
        BlockIO=f"{decimal_size(second.block_read)} / {decimal_size(second.block_write)}",
        PIDs=str(second.pids),
    )


def total_row(project: str, pairs: Sequence[tuple[Sample, Sample]], seconds: float) -> StatsRow:
    """The project as a whole: the sums of its containers' readings (the limit is the first's)."""

    def summed(index: int) -> Sample:
        samples = [pair[index] for pair in pairs]
        return Sample(
            cpu_ns=sum(s.cpu_ns for s in samples), memory=sum(s.memory for s in samples),
            memory_limit=max((s.memory_limit for s in samples), default=0), pids=sum(s.pids for s in samples),
            block_read=sum(s.block_read for s in samples), block_write=sum(s.block_write for s in samples),
            net_rx=sum(s.net_rx for s in samples), net_tx=sum(s.net_tx for s in samples),
        )  # fmt: skip

    return row_of(project, "(project)", summed(0), summed(1), seconds)


def binary_size(value: float) -> str:
    """docker's BytesSize: 1024-based, four significant digits (``3.512MiB``)."""
    return _size(value, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"), 4)


def decimal_size(value: float) -> str:
    """docker's HumanSize: 1000-based, three significant digits (``1.23kB``)."""
    return _size(value, 1000.0, ("B", "kB", "MB", "GB", "TB", "PB"), 3)


def _size(value: float, base: float, units: tuple[str, ...], digits: int) -> str:
    index = 0
    while value >= base and index < len(units) - 1:
        value /= base
        index += 1
    return f"{value:.{digits}g}{units[index]}"


def stats(
    layout: ProjectLayout,
    host: HostFacts,
    services: Sequence[str] = (),
    *,
    all_states: bool = False,
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    total: bool = False,
) -> list[StatsRow]:
    """Rows for the running containers (all with ``all_states``), from two readings ``interval`` apart."""
    chosen = []
    for target in targets(read_store(layout), services):
        state = host.container_status(layout, target.name).state
        if all_states or state in ("running", "paused", "restarting"):
            chosen.append(target)
    started = clock()
    first = [host.container_sample(layout, t.name) for t in chosen]
    sleep(interval)
    second = [host.container_sample(layout, t.name) for t in chosen]
    seconds = clock() - started
    rows = [row_of(t.name, t.service, a, b, seconds) for t, a, b in zip(chosen, first, second, strict=True)]
    if total and chosen:
        rows.append(total_row(layout.name, list(zip(first, second, strict=True)), seconds))
    return rows
