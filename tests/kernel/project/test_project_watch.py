"""watch and up --watch through the CLI on the real kernel: inotify, sync, delete, restart, exec."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-watch
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "mkdir -p /app; trap 'exit 0' TERM; sleep 3600 & wait"]
    develop:
      watch:
        - {path: ./src, action: sync, target: /app, ignore: ["*.tmp"], initial_sync: true}
        - {path: ./conf, action: sync+exec, target: /conf, exec: {command: [sh, -c, "date +%s%N >> /execs"]}}
        - {path: ./restart-me, action: restart}
"""


def _until(check: Callable[[], bool], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def _cat(lab: Lab, path: str) -> str:
    return lab.exec("vb-watch", "app", "cat", path).stdout


def _prepare(lab: Lab) -> None:
    lab.write(PROJECT)
    for name in ("src", "conf", "restart-me"):
        (lab.folder / name).mkdir()
    (lab.folder / "src" / "first.txt").write_text("one\n")


def test_watch_syncs_deletes_execs_and_restarts(lab: Lab) -> None:
    _prepare(lab)
    watcher = lab.popen("watch")
    _until(lambda: _cat(lab, "/app/first.txt") == "one\n")  # up, then the initial sync
    (lab.folder / "src" / "deep").mkdir()
    (lab.folder / "src" / "deep" / "new.txt").write_text("two\n")
    (lab.folder / "src" / "skip.tmp").write_text("ignored\n")
    _until(lambda: _cat(lab, "/app/deep/new.txt") == "two\n")
    assert lab.exec("vb-watch", "app", "test", "-e", "/app/skip.tmp").returncode == 1
    (lab.folder / "src" / "first.txt").unlink()
    _until(lambda: lab.exec("vb-watch", "app", "test", "-e", "/app/first.txt").returncode == 1)
    (lab.folder / "conf" / "c.ini").write_text("x=1\n")
    _until(lambda: _cat(lab, "/conf/c.ini") == "x=1\n" and len(_cat(lab, "/execs").split()) == 1)
    pid = next(r["Pid"] for r in lab.ps("vb-watch"))
    (lab.folder / "restart-me" / "touch").write_text("")
    _until(lambda: next(r["Pid"] for r in lab.ps("vb-watch")) != pid)
    os.kill(watcher.pid, signal.SIGINT)
    watcher.communicate(timeout=10)
    assert watcher.returncode == 0
    lab.composer("down")
    assert project_leftovers(lab.root, "vb-watch") == []


def test_up_watch_and_rebuild_refused(lab: Lab) -> None:
    _prepare(lab)
    proc = lab.popen("up", "--watch")
    _until(lambda: _cat(lab, "/app/first.txt") == "one\n")
    (lab.folder / "src" / "late.txt").write_text("late\n")
    _until(lambda: _cat(lab, "/app/late.txt") == "late\n")
    os.kill(proc.pid, signal.SIGINT)
    proc.communicate(timeout=30)
    lab.composer("down")
    rebuild = PROJECT.replace("action: restart}", "action: rebuild}")
    lab.write(rebuild)
    refused = lab.composer("watch", "--no-up", check=False)
    assert refused.returncode == 1 and "rebuild needs an image build" in refused.stderr
