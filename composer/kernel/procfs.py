"""Processes as /proc and the cgroup files show them (``composer top``)."""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessInfo:
    user: str
    pid: int
    ppid: int
    cpu_time: str  # HH:MM:SS of user + system time
    command: str


def cgroup_processes(cgroup_paths: Mapping[str, str]) -> list[ProcessInfo]:
    """Every process in the cgroup folders (a container's, whatever it forked), by PID."""
    pids: set[int] = set()
    for folder in cgroup_paths.values():
        try:
            text = Path(folder, "cgroup.procs").read_text()
        except FileNotFoundError:
            continue
        pids.update(int(x) for x in text.split())
    return [info for info in (process_info(pid) for pid in sorted(pids)) if info is not None]


def process_info(pid: int) -> ProcessInfo | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        uid = os.stat(f"/proc/{pid}").st_uid
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) // ticks
    command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return ProcessInfo(
        _user_name(uid), pid, int(fields[1]), time.strftime("%H:%M:%S", time.gmtime(cpu)), command
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
