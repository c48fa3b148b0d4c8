"""Talking to a project's supervisor: start it when missing, send it requests.

The supervisor is found by its socket under the project's state folder; a
socket that refuses connections means the supervisor died, and a new one is
started (it adopts the running containers).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from composer.errors import ContainerError
from composer.kernel.process.daemon import start_detached
from composer.store.container import process_start_time

_start_lock = threading.Lock()
START_TIMEOUT = 10.0


def request(project_dir: Path, payload: dict[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
    """Send one request and return the supervisor's answer (raises ConnectionError when it is not there)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(str(project_dir / "supervisor.sock"))
        sock.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (FileNotFoundError, ConnectionRefusedError) as error:
        raise ConnectionError(str(error)) from error
    finally:
        sock.close()
    if not data:
        raise ConnectionError("the supervisor closed the connection without answering")
    answer: dict[str, Any] = json.loads(data)
    return answer


def start(project_dir: Path, name: str) -> int:
    """Have the supervisor (started when missing) start container ``name``; its PID once it runs."""
    ensure_running(project_dir)
    payload = {"op": "start", "name": name}
    try:
        answer = request(project_dir, payload)
    except ConnectionError:  # it died since this command last saw it: a new one adopts the rest
        forget(project_dir)
        ensure_running(project_dir)
        answer = request(project_dir, payload)
    if not answer.get("ok"):
        raise ContainerError(f"container {name} failed to start: {answer.get('error')}")
    return int(answer["pid"])


def is_running(project_dir: Path) -> bool:
    try:
        return bool(request(project_dir, {"op": "ping"}, timeout=5.0).get("ok"))
    except (ConnectionError, OSError):
        return False


_known_running: set[Path] = set()  # supervisors this process saw answer: one ping per command


def ensure_running(project_dir: Path) -> None:
    """Start the project's supervisor unless one answers already."""
    if project_dir in _known_running:
        return
    with _start_lock:
        if project_dir in _known_running:
            return
        if is_running(project_dir):
            _known_running.add(project_dir)
            return
        start_detached(
            [sys.executable, "-m", "composer.supervisor.server", str(project_dir)],
            project_dir / "supervisor.log",
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if is_running(project_dir):
                _known_running.add(project_dir)
                return
            time.sleep(0.01)
        raise ContainerError(
            f"the project's supervisor did not start within {START_TIMEOUT:.0f}s",
            hint=f"see {project_dir / 'supervisor.log'}",
        )


def forget(project_dir: Path) -> None:
    """Forget that this process saw the supervisor running (it stopped answering)."""
    _known_running.discard(project_dir)


def supervisor_pid(project_dir: Path) -> int | None:
    try:
        pid_text = (project_dir / "supervisor.pid").read_text().split()
    except FileNotFoundError:
        return None
    return int(pid_text[0]) if pid_text else None


def shutdown(project_dir: Path, *, force: bool = False) -> None:
    """Ask the supervisor to exit (it refuses while containers run, unless forced); wait for it."""
    pid = supervisor_pid(project_dir)
    _known_running.discard(project_dir)
    with contextlib.suppress(ConnectionError, OSError):
        request(project_dir, {"op": "shutdown", "force": force}, timeout=5.0)
    if pid is None:
        return
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and _exists(pid):
        time.sleep(0.01)


def _exists(pid: int) -> bool:
    """Whether ``pid`` still runs; an exited supervisor waiting to be reaped by init counts as gone."""
    return process_start_time(pid) is not None


def revive(project_dir: Path) -> bool:
    """Start a supervisor for containers whose supervisor died (it adopts them); True when one was started."""
    containers = project_dir / "containers"
    if os.geteuid() != 0 or not containers.is_dir() or not any(containers.iterdir()):
        return False
    if is_running(project_dir):
        return False
    ensure_running(project_dir)
    return True


class SupervisorClient:
    """The project's supervisor, as one object per project folder."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir

    def ping(self) -> bool:
        return is_running(self.project_dir)

    def ensure_running(self) -> None:
        ensure_running(self.project_dir)

    def start(self, name: str) -> int:
        return start(self.project_dir, name)

    def stop(self, name: str, grace: float) -> None:
        request(self.project_dir, {"op": "stop", "name": name, "timeout": grace}, timeout=grace + 15.0)

    def kill(self, name: str, signal: int) -> None:
        answer = request(self.project_dir, {"op": "kill", "name": name, "signal": signal})
        if not answer.get("ok"):
            raise ContainerError(str(answer.get("error")))

    def forget(self, name: str) -> None:
        request(self.project_dir, {"op": "forget", "name": name})

    def shutdown(self, force: bool) -> None:
        shutdown(self.project_dir, force=force)

    def revive(self) -> bool:
        return revive(self.project_dir)

    def pid(self) -> int | None:
        return supervisor_pid(self.project_dir)
