"""What ``composer stats`` reads: a container's CPU time, memory, pids and block I/O, and its network.

v2
    All from the container's folder: ``cpu.stat`` (usage_usec), ``memory.current``
    less ``inactive_file`` of ``memory.stat`` (as the docker CLI shows memory),
    ``memory.max``, ``pids.current``, ``io.stat`` (rbytes, wbytes).
v1
    ``memory.usage_in_bytes`` less ``total_inactive_file``, ``memory.limit_in_bytes``
    and ``pids.current`` from the hierarchies every container joins.  CPU time and
    block I/O come from the cpuacct and blkio hierarchies when the container is in
    them, else from its processes in ``/proc`` (``stat`` utime+stime with the
    times of their reaped children, ``io`` read_bytes/write_bytes): composer does
    not join those hierarchies at start for the sake of start time, so on v1 the
    time and I/O of processes that have already ended and were not reaped inside
    the container are not counted.
Network
    ``/proc/PID/net/dev`` of the container's main process: the bytes of every
    interface of its network namespace but ``lo``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

V2_KEY = "unified"
UNLIMITED = 1 << 62
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sample:
    """One reading of a container (counters are totals since it started)."""

    cpu_ns: int = 0
    memory: int = 0
    memory_limit: int = 0  # 0: no limit (the host's memory then)
    pids: int = 0
    block_read: int = 0
    block_write: int = 0
    net_rx: int = 0
    net_tx: int = 0


def read_sample(paths: Mapping[str, str], pid: int, proc: Path = Path("/proc")) -> Sample:
    """The container's counters now; missing files (a stopped container) read as zero."""
    rx, tx = net_bytes(pid, proc) if pid > 0 else (0, 0)
    if V2_KEY in paths:
        return _v2(Path(paths[V2_KEY]), rx, tx)
    return _v1(paths, rx, tx)


def _v2(folder: Path, rx: int, tx: int) -> Sample:
    cpu = _keyed(folder / "cpu.stat")
    memory = _number(folder / "memory.current") - _keyed(folder / "memory.stat").get("inactive_file", 0)
    limit = _number(folder / "memory.max")
    read = write = 0
    with contextlib.suppress(FileNotFoundError):
        for line in (folder / "io.stat").read_text().splitlines():
            fields = dict(item.split("=", 1) for item in line.split()[1:] if "=" in item)
            read += int(fields.get("rbytes", 0))
            write += int(fields.get("wbytes", 0))
    return Sample(
        cpu_ns=cpu.get("usage_usec", 0) * 1000, memory=max(0, memory), memory_limit=limit,
        pids=_number(folder / "pids.current"), block_read=read, block_write=write, net_rx=rx, net_tx=tx,
    )  # fmt: skip


def _v1(paths: Mapping[str, str], rx: int, tx: int) -> Sample:
    memory_dir = Path(paths["memory"]) if "memory" in paths else None
    memory = limit = 0
    if memory_dir is not None:
        inactive = _keyed(memory_dir / "memory.stat").get("total_inactive_file", 0)
        memory = max(0, _number(memory_dir / "memory.usage_in_bytes") - inactive)
        limit = _number(memory_dir / "memory.limit_in_bytes")
        limit = 0 if limit >= UNLIMITED else limit
    pids_dir = Path(paths["pids"]) if "pids" in paths else None
    procs = _procs(paths)
    pids = _number(pids_dir / "pids.current") if pids_dir is not None else len(procs)
    cpu_ns = _number(Path(paths["cpuacct"]) / "cpuacct.usage") if "cpuacct" in paths else _procs_cpu_ns(procs)
    read, write = _procs_io(procs)
    return Sample(cpu_ns, memory, limit, pids, read, write, rx, tx)


def host_memory() -> int:
    """MemTotal in bytes: what an unlimited container's memory is measured against."""
    with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def net_bytes(pid: int, proc: Path = Path("/proc")) -> tuple[int, int]:
    """(received, sent) bytes over the interfaces of ``pid``'s network namespace, ``lo`` left out.

    ``proc``: the procfs of ``pid``'s pid namespace (a rootless project's, seen through its keeper).
    """
    rx = tx = 0
    try:
        lines = (proc / str(pid) / "net" / "dev").read_text().splitlines()[2:]
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    for line in lines:
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = counters.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx


def _procs(paths: Mapping[str, str]) -> set[int]:
    found: set[int] = set()
    for folder in paths.values():
        with contextlib.suppress(FileNotFoundError):
            found.update(int(p) for p in (Path(folder) / "cgroup.procs").read_text().split())
    return found


def _procs_cpu_ns(pids: set[int]) -> int:
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = Path(f"/proc/{pid}/stat").read_bytes()
            fields = raw[raw.rindex(b")") + 2 :].split()
            ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks * 1_000_000_000 // _TICKS


def _procs_io(pids: set[int]) -> tuple[int, int]:
    read = write = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            values = _keyed_colon(Path(f"/proc/{pid}/io"))
            read += values.get("read_bytes", 0)
            write += values.get("write_bytes", 0)
    return read, write


def _number(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 0
    return 0 if text == "max" else int(text)


def _keyed(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    result: dict[str, int] = {}
    for line in lines:
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            result[key] = int(value)
    return result


def _keyed_colon(path: Path) -> dict[str, int]:
    result: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        result[key.strip()] = int(value)
    return result
