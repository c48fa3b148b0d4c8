"""Talking to a project's supervisor: start it when missing, send it requests.

The supervisor is found by its socket under the project's state folder; a
socket that refuses connections means the supervisor died, and a new one is
started (it adopts the running containers).  One :class:`SupervisorClient` per
project folder and command remembers that the supervisor answered, so a command
that starts a hundred containers pings it once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from pathlib import Path

from composer.errors import ContainerError
from composer.kernel.process.daemon import start_detached
from composer.store.container import process_start_time
from composer.supervisor.protocol import (
    Forget,
    Kill,
    Ping,
    ProtocolError,
    Reply,
    Request,
    Shutdown,
    Start,
    Stop,
    build_id,
    decode_reply,
    encode_request,
    read_line,
    send_line,
    socket_address,
)

START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
STOP_MARGIN = 15.0  # a stop answers after the grace period and the SIGKILL: allow for both


class SupervisorClient:
    """The supervisor of the project whose state folder is ``project_dir``."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self._start_lock = threading.Lock()
        self._seen_running = False  # it answered this client: no ping before each request

    # -- requests ---------------------------------------------------------------------
    def request(
        self, request: Request, *, timeout: float = REQUEST_TIMEOUT, fds: tuple[int, ...] = (),
        received: list[int] | None = None,
    ) -> Reply:  # fmt: skip
        """Send one request and return the answer (ConnectionError when no supervisor is there).

        ``fds`` go with it (SCM_RIGHTS): a Start passes the container's stdin so; the fds the
        answer passes (a terminal's master) are added to ``received``, else closed.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(timeout)
        try:
            with socket_address(self.project_dir) as address:
                sock.connect(address)
            send_line(sock, encode_request(request), fds)
            data, passed = read_line(sock)
            if received is not None:
                received += passed
            else:
                for fd in passed:
                    os.close(fd)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            raise ConnectionError(str(error)) from error
        finally:
            sock.close()
        if not data:
            raise ConnectionError("the supervisor closed the connection without answering")
        try:
            return decode_reply(data)
        except ProtocolError as error:
            raise ConnectionError(f"the supervisor answered something unreadable: {error}") from error

    def ping(self) -> bool:
        answer = self._ping_reply()
        return answer is not None and answer.ok

    def _ping_reply(self) -> Reply | None:
        try:
            return self.request(Ping(), timeout=5.0)
        except OSError:  # ConnectionError and socket timeouts are OSErrors
            return None

    def start(
        self, name: str, stdin: int = -1, terminal: list[int] | None = None, size: tuple[int, int] = (0, 0)
    ) -> int:
        """Have the supervisor (started when missing) start container ``name``; its PID once it runs.

        ``stdin`` (an fd of this process) becomes the container's stdin, for this start only; with
        ``terminal`` (a tty container) the terminal's master is appended to it instead of logged, the
        terminal ``size`` (rows, columns) set before the command runs.
        """
        fds = (stdin,) if stdin >= 0 else ()
        request = Start(name, terminal=terminal is not None, rows=size[0], columns=size[1])
        self.ensure_running()
        try:
            reply = self.request(request, fds=fds, received=terminal)
        except ConnectionError:  # it died since this command last saw it: a new one adopts the rest
            self._seen_running = False
            self.ensure_running()
            reply = self.request(request, fds=fds, received=terminal)
        if not reply.ok or reply.pid is None:
            raise ContainerError(f"container {name} failed to start: {reply.error}")
        return reply.pid

    def stop(self, name: str, grace: float) -> None:
        """Stop ``name`` (its stop signal, ``grace`` seconds, SIGKILL); returns once it has exited."""
        self.request(Stop(name, timeout=grace), timeout=grace + STOP_MARGIN)

    def kill(self, name: str, signal: int) -> None:
        reply = self.request(Kill(name, signal))
        if not reply.ok:
            raise ContainerError(reply.error)

    def forget(self, name: str) -> None:
        self.request(Forget(name))

    # -- the supervisor process --------------------------------------------------------
    def ensure_running(self) -> None:
        """Start the project's supervisor unless one answers already."""
        if self._seen_running:
            return
        with self._start_lock:
            if self._seen_running:
                return
            answer = self._ping_reply()
            if answer is not None and answer.build != build_id():
                # left running by another composer build: it cannot read the containers' descriptions
                # this one writes; the containers keep running and the new supervisor adopts them
                self.shutdown(force=True)
                answer = None
            if answer is None:
                self._spawn_and_wait()
            self._seen_running = True

    def _spawn_and_wait(self) -> None:
        start_detached(
            [sys.executable, "-m", "composer.supervisor", str(self.project_dir)],
            self.project_dir / "supervisor.log",
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.01)
        raise ContainerError(
            f"the project's supervisor did not start within {START_TIMEOUT:.0f}s",
            hint=f"see {self.project_dir / 'supervisor.log'}",
        )

    def pid(self) -> int | None:
        try:
            pid_text = (self.project_dir / "supervisor.pid").read_text().split()
        except FileNotFoundError:
            return None
        return int(pid_text[0]) if pid_text else None

    def shutdown(self, force: bool = False) -> None:
        """Ask the supervisor to exit (it refuses while containers run, unless forced); wait for it."""
        pid = self.pid()
        self._seen_running = False
        with contextlib.suppress(OSError):
            self.request(Shutdown(force), timeout=5.0)
        if pid is None:
            return
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and _exists(pid):
            time.sleep(0.01)

    def revive(self) -> bool:
        """Start a supervisor that adopts containers whose supervisor died; True when one was started."""
        containers = self.project_dir / "containers"
        if os.geteuid() != 0 or not containers.is_dir() or not any(containers.iterdir()):
            return False
        if self.ping():
            return False
        self._seen_running = False  # it answered this command before, but it is gone now
        self.ensure_running()
        return True


def _exists(pid: int) -> bool:
    """Whether ``pid`` still runs; an exited supervisor waiting to be reaped by init counts as gone."""
    return process_start_time(pid) is not None
