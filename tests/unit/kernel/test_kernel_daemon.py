"""start_detached: a background process in its own session, /dev/null in, a log out, nothing inherited."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from composer.kernel.process.daemon import start_detached

REPORT = """
import json, os, sys
print(json.dumps({
    "pid": os.getpid(),
    "sid": os.getsid(0),
    "cwd": os.getcwd(),
    "stdin": os.readlink("/proc/self/fd/0"),
    "stdin_data": sys.stdin.read(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
}), flush=True)
print("to stderr", file=sys.stderr, flush=True)
"""


def test_the_process_is_detached_and_logs_to_the_file(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    log.write_bytes(b"earlier run\n")  # appended to, never truncated
    leaked = os.open(tmp_path, os.O_RDONLY)  # inheritable on purpose: close_fds must keep it out
    os.set_inheritable(leaked, True)
    try:
        pid = start_detached([sys.executable, "-c", REPORT], log)
    finally:
        os.close(leaked)
    _, status = os.waitpid(pid, 0)  # a child of this test: reaped by it
    assert os.waitstatus_to_exitcode(status) == 0
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier run" and lines[-1] == "to stderr"
    report = json.loads(lines[1])
    assert report["pid"] == pid and report["sid"] == pid  # a session (and group) of its own
    assert report["cwd"] == "/"
    assert (report["stdin"], report["stdin_data"]) == ("/dev/null", "")
    assert report["fds"] == [0, 1, 2, 3]  # stdio and the listing's own fd: nothing of the caller


def test_the_caller_returns_at_once(tmp_path: Path) -> None:
    began = time.monotonic()
    pid = start_detached([sys.executable, "-c", "import time; time.sleep(1)"], tmp_path / "log")
    assert time.monotonic() - began < 0.8
    os.kill(pid, 9)
    os.waitpid(pid, 0)
