"""The project supervisor: one process per project that runs and watches its containers.

``up`` starts it (detached, in its own session) when a container must run and it
is not already there; ``down`` asks it to exit once nothing is left.  It is the
parent of every container's PID 1, so it gets real exit statuses through
waitpid(2).  It:

* starts containers on request (``spec.json`` in the container's folder says how),
* records exits, exit codes and OOM kills in ``status.json``,
* applies restart policies with back-off (100 ms doubling to 30 s, reset after
  10 s of running, as Docker does),
* runs healthchecks inside the containers' namespaces,
* drains the containers' stdout/stderr FIFOs into rotated JSON log files.

If it dies, the containers keep running (their log FIFOs are opened read-write
by the container itself, so nobody gets SIGPIPE); the next composer command
starts a new supervisor that adopts them: it watches adopted PIDs through
pidfds (their exit codes are then unknown, recorded as -1) and reopens the FIFOs.

Requests and answers are the typed messages of :mod:`composer.supervisor.protocol`;
the rules for restarts, back-off and health are the pure functions of
:mod:`composer.supervisor.policy`, and stopping is the kernel's one
grace-then-kill routine.  A single thread runs the event loop; healthchecks run
in worker threads and post their results back through a queue and a wake-up pipe.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import selectors
import signal
import socket
import threading
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.kernel.process.stop import GraceKill
from composer.model.container import ContainerFiles
from composer.model.restart import RestartPolicy
from composer.store.container import (
    ContainerFolder,
    ContainerStatus,
    SupervisedContainer,
    is_alive,
    process_start_time,
)
from composer.supervisor import policy
from composer.supervisor.protocol import (
    SOCKET_NAME,
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
    decode_request,
    encode_reply,
    read_line,
    send_line,
    socket_address,
)

HEALTH_LOG_KEEP = 5
FOREIGN_EXITS_KEEP = 256
PR_SET_CHILD_SUBREAPER = 36
LOG_MAX_SIZE = 10 * 1024 * 1024
LOG_MAX_FILES = 3


@dataclass
class Watched:
    """One container the supervisor looks after."""

    cdir: ContainerFolder
    spec: SupervisedContainer
    status: ContainerStatus
    pidfd: int = -1
    backoff: float = policy.BACKOFF_START
    restart_at: float = 0.0
    stop_deadline: float = 0.0
    stop_waiters: list[socket.socket] = field(default_factory=list)
    next_health_at: float = 0.0
    health_running: bool = False
    cgroup: Any = None
    pending: Any = None  # a forked container whose set-up has not finished yet
    early_exit: int | None = None  # its exit status, when it was reaped before set-up was confirmed
    start_waiters: list[socket.socket] = field(default_factory=list)
    stop_requested: tuple[int, float] | None = None  # (signal, timeout) of a stop asked during set-up
    stopping: GraceKill | None = None  # the stop whose grace period runs until stop_deadline
    stdin: int = -1  # the stdin a Start passed (run in the foreground), for the next fork only
    # tty: the next start's terminal master goes to the caller, not the log; its (rows, columns)
    hand_terminal: tuple[int, int] | None = None
    terminal: int = -1  # that master, until the Start is answered

    @property
    def name(self) -> str:
        return self.cdir.name


class Supervisor:
    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.containers_dir = project_dir / "containers"
        self.socket_path = project_dir / SOCKET_NAME
        self.selector = selectors.DefaultSelector()
        self.watched: dict[str, Watched] = {}
        self.by_pid: dict[int, str] = {}
        self.results: queue.Queue[tuple[str, int, str]] = queue.Queue()
        self.health_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")
        self.running = True
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._logs: Any = None
        self._logged: dict[str, tuple[str, str]] = {}  # container -> the FIFOs collected
        self._cgroups: Any = None
        # Children the loop reaped without owning them (a healthcheck's process, whose thread waits
        # for it), by PID, for that thread to take; bounded, as orphans of containers come here too.
        self._foreign_exits: dict[int, int] = {}
        self._foreign_cond = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------
    def serve(self) -> None:
        from composer.kernel.logs import LogCollector

        self._logs = LogCollector(self.selector, max_size=LOG_MAX_SIZE, max_files=LOG_MAX_FILES)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        listener = self._listen()
        self.selector.register(listener, selectors.EVENT_READ, ("accept", listener))
        self._adopt_existing()
        while self.running:
            self._tick()
        self._shutdown(listener)

    def _on_term(self, *_: object) -> None:
        self.running = False

    def _listen(self) -> socket.socket:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        with socket_address(self.socket_path.parent) as address:
            sock.bind(address)
        os.chmod(self.socket_path, 0o600)
        sock.listen(64)
        sock.setblocking(False)
        return sock

    def _shutdown(self, listener: socket.socket) -> None:
        self.selector.unregister(listener)
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.project_dir / "supervisor.pid").unlink()
        self.health_pool.shutdown(wait=False, cancel_futures=True)

    def _tick(self) -> None:
        timeout = self._next_timer_in()
        for key, _mask in self.selector.select(timeout):
            if callable(key.data):  # a log FIFO: the collector reads it
                key.data()
                continue
            kind, payload = key.data
            match kind:
                case "wake":
                    self._on_wake(key.fd)
                case "accept":
                    self._on_accept(payload)
                case "request":
                    self._on_request(payload)
                case "pidfd":
                    self._on_pidfd(payload, key.fd)
                case "started":
                    self._on_started(payload, key.fd)
        self._reap_children()
        self._drain_health_results()
        self._run_timers()

    def _next_timer_in(self) -> float:
        now = time.monotonic()
        deadlines = [1.0]
        for w in self.watched.values():
            for when in (w.restart_at, w.stop_deadline, w.next_health_at):
                if when:
                    deadlines.append(max(0.0, when - now))
        return min(deadlines)

    # -- event handlers ----------------------------------------------------------
    def _on_wake(self, fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(fd, 512):
                pass

    def _on_accept(self, listener: socket.socket) -> None:
        with contextlib.suppress(BlockingIOError):
            conn, _ = listener.accept()
            conn.setblocking(True)
            conn.settimeout(5.0)
            self.selector.register(conn, selectors.EVENT_READ, ("request", conn))

    def _on_request(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        fds: list[int] = []
        try:
            line, fds = read_line(conn)
            keep_open = self._dispatch(conn, decode_request(line), fds)
        except ProtocolError as error:
            _reply(conn, Reply.failed(str(error)))
            keep_open = False
        except Exception as error:  # a request that fails must never bring the supervisor down
            _reply(conn, Reply.failed(f"{type(error).__name__}: {error}"))
            keep_open = False
        finally:
            for fd in fds:  # what a request passed and nothing took
                if fd >= 0:
                    os.close(fd)
        if not keep_open:
            conn.close()

    def _on_pidfd(self, name: str, fd: int) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        watched = self.watched.get(name)
        if watched is None:
            return
        watched.pidfd = -1
        self._exited(watched, exit_code=-1)

    # -- requests ----------------------------------------------------------------
    def _dispatch(self, conn: socket.socket, request: Request, fds: list[int]) -> bool:
        """Answer ``request``; True when the answer comes later (the connection stays open).

        A Start may pass one fd, the container's stdin; taking it sets its place in ``fds`` to -1.
        """
        match request:
            case Ping():
                _reply(conn, Reply(pid=os.getpid(), containers=tuple(sorted(self.watched)), build=build_id()))
            case Start(name=name, terminal=terminal, rows=rows, columns=columns):
                stdin = fds[0] if fds else -1
                if fds:
                    fds[0] = -1
                return self._start(conn, name, stdin, (rows, columns) if terminal else None)
            case Stop(name=name, signal=sig, timeout=timeout):
                return self._stop(conn, name, sig, float(timeout))
            case Kill(name=name, signal=sig):
                _reply(conn, self._kill(name, sig))
            case Forget(name=name):
                _reply(conn, self._forget(name))
            case Shutdown(force=force):
                self.running = not force and any(is_alive(w.status) for w in self.watched.values())
                _reply(conn, Reply(ok=not self.running, containers=tuple(sorted(self.watched))))
        return False

    def _start(
        self, conn: socket.socket, name: str, stdin: int = -1, terminal: tuple[int, int] | None = None
    ) -> bool:
        """Fork the container; answer once it runs (or failed), so several starts overlap."""
        cdir = ContainerFolder(ContainerFiles(self.containers_dir / name))
        try:
            spec = cdir.read_supervised()
        except BaseException:
            _close(stdin)
            raise
        current = self.watched.get(name)
        if current is not None and (current.pending is not None or is_alive(current.status)):
            _close(stdin)  # it runs with the stdin it has
            if current.pending is not None:
                current.start_waiters.append(conn)
                return True
            _reply(conn, Reply(pid=current.status.pid, already=True))
            return False
        status = cdir.read_status()
        status.restart_count = 0 if current is None else current.status.restart_count
        watched = Watched(cdir=cdir, spec=spec, status=status, stdin=stdin, hand_terminal=terminal)
        self.watched[name] = watched
        watched.start_waiters.append(conn)
        self._spawn(watched)
        return True

    def _stop(self, conn: socket.socket, name: str, sig: int, timeout: float) -> bool:
        watched = self.watched.get(name)
        if watched is not None and watched.pending is not None:
            # Still setting up: stop it as soon as it runs, and answer then.
            watched.stop_requested = (sig, timeout)
            watched.stop_waiters.append(conn)
            return True
        if watched is None or not is_alive(watched.status):
            if watched is not None:
                watched.status.stopped_by_user = True
                watched.restart_at = 0.0
                self._save(watched)
            _reply(conn, Reply(already=True))
            return False
        watched.stop_waiters.append(conn)
        self._begin_stop(watched, sig, timeout)
        return True  # answered when the container has exited

    def _begin_stop(self, watched: Watched, sig: int, timeout: float) -> None:
        """Send the stop signal; the timers send SIGKILL to the cgroup once the grace period ends."""
        config = watched.spec.config
        watched.status.stopped_by_user = True
        watched.restart_at = 0.0
        grace = config.stop_grace_period if timeout < 0 else timeout
        watched.stopping = GraceKill(
            watched.status.pid, sig or config.stop_signal, grace, self._cgroup_of(watched), watched.pidfd
        )
        watched.stop_deadline = watched.stopping.begin()
        self._save(watched)

    def _kill(self, name: str, sig: int) -> Reply:
        watched = self.watched.get(name)
        if watched is None or not is_alive(watched.status):
            return Reply.failed(f"container {name} is not running")
        if sig in (signal.SIGKILL, signal.SIGTERM):
            watched.status.stopped_by_user = True
        os.kill(watched.status.pid, sig)
        return Reply()

    def _forget(self, name: str) -> Reply:
        watched = self.watched.pop(name, None)
        if watched is not None:
            self.by_pid.pop(watched.status.pid, None)
            if name in self._logged:
                self._logs.remove(name)
                del self._logged[name]
            if watched.pidfd >= 0:
                self.selector.unregister(watched.pidfd)
                os.close(watched.pidfd)
        return Reply()

    # -- processes ---------------------------------------------------------------
    def _cgroup_of(self, watched: Watched) -> Any:
        if watched.cgroup is None:
            from composer.kernel.cgroups import open_handle

            # The recorded paths say which hierarchy; none (rootless without delegation): no cgroup.
            watched.cgroup = open_handle(watched.spec.cgroup_paths)
        return watched.cgroup

    def _spawn(self, watched: Watched) -> None:
        """Fork the container; _on_started finishes the job when its set-up pipe closes."""
        from composer.kernel.logs import make_log_fifos
        from composer.kernel.process import start_container

        config = watched.spec.config
        try:
            joined = self._joined_pids(watched)
            if config.tty:
                pending = self._spawn_on_terminal(watched, joined)
            else:
                stdout_path, stderr_path = make_log_fifos(config.files)
                self._collect_logs(watched, stdout_path, stderr_path)
                pending = start_container(
                    config, self._cgroup_of(watched), stdout_path, stderr_path, joined, watched.stdin
                )
        except Exception as error:
            self._start_failed(watched, getattr(error, "message", str(error)))
            return
        finally:
            _close(watched.stdin)  # the child has its copy; a restart gets no stdin
            watched.stdin = -1
        watched.pending = pending
        watched.early_exit = None
        self.by_pid[pending.pid] = watched.name
        if config.userns:
            self._on_started(watched.name, -1)  # the uid maps are written while waiting: do it now
            return
        self.selector.register(pending.err_r, selectors.EVENT_READ, ("started", watched.name))

    def _on_started(self, name: str, fd: int) -> None:
        watched = self.watched.get(name)
        if watched is None or watched.pending is None:
            return
        pending, watched.pending = watched.pending, None
        if fd >= 0:
            self.selector.unregister(fd)
        try:
            pid = pending.wait()
        except Exception as error:
            self.by_pid.pop(pending.pid, None)
            self._start_failed(watched, getattr(error, "message", str(error)))
            return
        if pending.console >= 0:
            self._take_terminal(watched, pending.console)
        self._running(watched, pid)
        terminal, watched.terminal = watched.terminal, -1
        for conn in watched.start_waiters:
            _reply(conn, Reply(pid=pid), (terminal,) if terminal >= 0 else ())
            conn.close()
        watched.start_waiters.clear()
        _close(terminal)  # the caller has its copy
        if watched.early_exit is not None:  # it ran and ended before we heard it started
            code, watched.early_exit = watched.early_exit, None
            self._exited(watched, exit_code=code)
        elif watched.stop_requested is not None:  # a stop came while it was setting up
            sig, timeout = watched.stop_requested
            self._begin_stop(watched, sig, timeout)
        watched.stop_requested = None

    def _start_failed(self, watched: Watched, message: str) -> None:
        _close(watched.terminal)
        watched.terminal = -1
        status = watched.status
        status.state = "exited"
        status.exit_code = 127
        status.error = message
        status.finished_at = time.time()
        self._save(watched)
        for conn in watched.start_waiters:
            _reply(conn, Reply.failed(message))
            conn.close()
        watched.start_waiters.clear()
        for conn in watched.stop_waiters:  # a stop asked during set-up: nothing runs any more
            _reply(conn, Reply(already=True))
            conn.close()
        watched.stop_waiters.clear()
        watched.stop_requested = None

    def _running(self, watched: Watched, pid: int) -> None:
        status = watched.status
        status.pid = pid
        status.pid_start_time = process_start_time(pid) or 0
        status.state = "running"
        status.exit_code = None
        status.oom_killed = False
        status.error = ""
        status.started_at = time.time()
        status.stopped_by_user = False
        status.health = "starting" if watched.spec.health else ""
        status.health_failing_streak = 0
        self._schedule_first_health(watched)
        self._save(watched)

    def _adopt_existing(self) -> None:
        """Take over containers a previous supervisor started (it died; they live on)."""
        if not self.containers_dir.is_dir():
            return
        for path in sorted(self.containers_dir.iterdir()):
            cdir = ContainerFolder(ContainerFiles(path))
            if not cdir.has_supervised():
                continue
            status = cdir.read_status()
            if status.state not in ("running", "restarting"):
                continue
            watched = Watched(cdir=cdir, spec=cdir.read_supervised(), status=status)
            self.watched[cdir.name] = watched
            stdout_path, stderr_path = _fifo_paths(watched)
            if os.path.exists(stdout_path) and os.path.exists(stderr_path):
                self._collect_logs(watched, stdout_path, stderr_path)
            if is_alive(status):
                self._watch_pidfd(watched)
                self._schedule_first_health(watched)
            else:
                self._exited(watched, exit_code=-1)

    def _joined_pids(self, watched: Watched) -> dict[str, int]:
        """The PIDs of the containers whose namespaces this one joins (pid: service:db): running ones."""
        joined: dict[str, int] = {}
        for kind, target in watched.spec.config.joins:
            other = self.watched.get(target)
            if other is None or other.pending is not None or not is_alive(other.status):
                from composer.errors import ContainerError

                raise ContainerError(
                    f"container {target} is not running: its {kind} namespace cannot be joined",
                    hint=f"start {target} first",
                )
            joined[kind] = other.status.pid
        return joined

    def _spawn_on_terminal(self, watched: Watched, joined: dict[str, int]) -> Any:
        """``tty: true``: the container makes a terminal in its own devpts and sends its master back;
        _on_started logs it as stdout until the container side closes (a new supervisor adopting the
        container cannot get the master back), or hands it to a ``run`` that asked for it."""
        from composer.kernel.process import start_container

        config = watched.spec.config
        cgroup = self._cgroup_of(watched)
        size = watched.hand_terminal or (0, 0)
        return start_container(
            config, cgroup, os.devnull, os.devnull, joined, watched.stdin, console=True, console_size=size
        )

    def _take_terminal(self, watched: Watched, master: int) -> None:
        if watched.hand_terminal is not None:  # run in the foreground on a terminal: its caller relays it
            watched.hand_terminal = None
            watched.terminal = master
            return
        from composer.kernel.logs import LogRotation

        os.set_blocking(master, False)
        settings = watched.spec.config.logging
        rotation = LogRotation(settings.max_size, settings.max_files, discard=settings.driver == "none")
        self._logs.add_fd(watched.name, "stdout", master, str(watched.cdir.files.log), rotation)
        self._logged[watched.name] = ("", "")  # no FIFOs: the terminal's master is logged

    def _collect_logs(self, watched: Watched, stdout_path: str, stderr_path: str) -> None:
        from composer.kernel.logs import LogRotation

        name = watched.name
        fifos = (stdout_path, stderr_path)
        collected = self._logged.get(name)
        if collected == fifos:
            return
        if collected is not None:  # an adopted 0.1 container restarted: its new FIFOs replace the old
            self._logs.remove(name)
        log_file = str(watched.cdir.files.log)
        settings = watched.spec.config.logging
        rotation = LogRotation(settings.max_size, settings.max_files, discard=settings.driver == "none")
        self._logs.add(name, "stdout", stdout_path, log_file, rotation)
        self._logs.add(name, "stderr", stderr_path, log_file, rotation)
        self._logged[name] = fifos

    def _watch_pidfd(self, watched: Watched) -> None:
        try:
            fd = os.pidfd_open(watched.status.pid)
        except ProcessLookupError:
            self._exited(watched, exit_code=-1)
            return
        watched.pidfd = fd
        self.selector.register(fd, selectors.EVENT_READ, ("pidfd", watched.name))

    def _reap_children(self) -> None:
        for pid, wait_status in reap_children(self.by_pid):
            name = self.by_pid.pop(pid, None)
            watched = self.watched.get(name) if name else None
            if watched is None:
                self._hand_over(pid, wait_status)
                continue
            if watched.pending is not None and watched.pending.pid == pid:
                watched.early_exit = _decode(wait_status)  # _on_started decides: failed set-up or quick exit
            elif watched.status.pid == pid:
                self._exited(watched, exit_code=_decode(wait_status))

    def _hand_over(self, pid: int, wait_status: int) -> None:
        with self._foreign_cond:
            self._foreign_exits[pid] = wait_status
            while len(self._foreign_exits) > FOREIGN_EXITS_KEEP:
                del self._foreign_exits[next(iter(self._foreign_exits))]
            self._foreign_cond.notify_all()

    def _reap_probe(self, pid: int) -> int:
        """A healthcheck process's wait status, reaped here or by the loop (whichever came first)."""
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            pass
        with self._foreign_cond:
            if not self._foreign_cond.wait_for(lambda: pid in self._foreign_exits, timeout=5):
                raise ChildProcessError(f"the exit of healthcheck process {pid} was not seen")
            return self._foreign_exits.pop(pid)

    def _exited(self, watched: Watched, exit_code: int) -> None:
        status = watched.status
        oom = False
        with contextlib.suppress(Exception):
            oom = bool(self._cgroup_of(watched).oom_killed()) and exit_code in (137, -1)
        if oom:
            exit_code = 137
        with contextlib.suppress(Exception):
            self._cgroup_of(watched).kill_all(signal.SIGKILL)  # no orphan outlives its PID 1
        if watched.cdir.name in self._logged:  # its last lines are in the log before it shows as exited
            with contextlib.suppress(OSError):
                self._logs.drain(watched.cdir.name)
        status.state = "exited"
        status.exit_code = exit_code
        status.oom_killed = oom
        status.finished_at = time.time()
        status.health = ""
        watched.stop_deadline = 0.0
        watched.stopping = None
        watched.next_health_at = 0.0
        ran_for = status.finished_at - status.started_at
        exit = policy.Exit(exit_code, status.restart_count, status.stopped_by_user, ran_for)
        restart = policy.restart_after(RestartPolicy.parse(watched.spec.restart), exit, watched.backoff)
        if restart is not None:
            status.state = "restarting"
            watched.restart_at = time.monotonic() + restart.delay
            watched.backoff = restart.next_backoff
        self._save(watched)
        for conn in watched.stop_waiters:
            _reply(conn, Reply(exit_code=exit_code))
            conn.close()
        watched.stop_waiters.clear()

    # -- timers ------------------------------------------------------------------
    def _run_timers(self) -> None:
        now = time.monotonic()
        for watched in list(self.watched.values()):
            if watched.restart_at and now >= watched.restart_at:
                watched.restart_at = 0.0
                watched.status.restart_count += 1
                self._spawn(watched)
            if watched.stop_deadline and now >= watched.stop_deadline:
                watched.stop_deadline = 0.0
                if watched.stopping is not None:
                    with contextlib.suppress(Exception):  # expire() kills PID 1 even when the cgroup fails
                        watched.stopping.expire()
            if watched.next_health_at and now >= watched.next_health_at and not watched.health_running:
                self._launch_health(watched)

    # -- healthchecks --------------------------------------------------------------
    def _schedule_first_health(self, watched: Watched) -> None:
        health = watched.spec.health
        if health is None:
            watched.next_health_at = 0.0
            return
        watched.next_health_at = time.monotonic() + policy.first_probe_in(health)

    def _launch_health(self, watched: Watched) -> None:
        health = watched.spec.health
        if health is None or watched.status.state != "running":
            watched.next_health_at = 0.0
            return
        watched.health_running = True
        watched.next_health_at = 0.0
        pid, name = watched.status.pid, watched.name
        cgroup = self._cgroup_of(watched)
        self.health_pool.submit(
            self._health_worker, name, pid, health.argv, health.timeout, watched.spec.config, cgroup
        )

    def _health_worker(
        self, name: str, pid: int, argv: tuple[str, ...], timeout: float, config: Any, cgroup: Any
    ) -> None:
        from composer.kernel.process import run_in_container

        try:
            code, output = run_in_container(
                pid, list(argv), timeout, cfg=config, cgroup=cgroup, reap=self._reap_probe
            )
            text = output.decode("utf-8", "replace")[-4096:]
        except Exception as error:
            code, text = -1, f"healthcheck could not run: {error}"
        self.results.put((name, code, text))
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"h")

    def _drain_health_results(self) -> None:
        while True:
            try:
                name, code, output = self.results.get_nowait()
            except queue.Empty:
                return
            watched = self.watched.get(name)
            if watched is None or watched.spec.health is None:
                continue
            watched.health_running = False
            if watched.status.state != "running":
                continue
            self._record_health(watched, code, output)

    def _record_health(self, watched: Watched, code: int, output: str) -> None:
        health = watched.spec.health
        assert health is not None
        status = watched.status
        now = time.time()
        log = {"start": now, "exit_code": code, "output": output}
        status.health_log = [*status.health_log, log][-HEALTH_LOG_KEEP:]
        current = policy.HealthState(_health_of(status.health), status.health_failing_streak)
        after, delay = policy.after_probe(current, health, code, now - status.started_at)
        status.health, status.health_failing_streak = after.health, after.failing_streak
        watched.next_health_at = time.monotonic() + delay
        self._save(watched)

    def _save(self, watched: Watched) -> None:
        watched.cdir.write_status(watched.status)


def _fifo_paths(watched: Watched) -> tuple[str, str]:
    """The FIFOs an adopted container writes to (where composer 0.1 made them, for its containers)."""
    files = watched.spec.config.files
    current = (files.stdout_fifo, files.stderr_fifo)
    if not all(path.exists() for path in current) and all(path.exists() for path in files.legacy_fifos):
        current = files.legacy_fifos
    return str(current[0]), str(current[1])


def reap_children(known: Collection[int]) -> list[tuple[int, int]]:
    """Reap the exited children in ``known`` (pid, wait status); never another thread's child.

    Healthcheck workers fork the probe and wait for it themselves: a waitpid(-1)
    here could take the probe's status first, and the probe then "could not run"
    (ECHILD), which counts as a failed check.  So look before reaping (WNOWAIT);
    while a child that is not ours waits for its worker, reap ours one by one.
    """
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return reaped
        if info is None:
            return reaped
        if info.si_pid not in known:
            for pid in list(known):
                with contextlib.suppress(ChildProcessError):
                    done, wait_status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        reaped.append((done, wait_status))
            return reaped
        done, wait_status = os.waitpid(info.si_pid, os.WNOHANG)
        if done:
            reaped.append((done, wait_status))


def _decode(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.waitstatus_to_exitcode(wait_status)


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _health_of(text: str) -> policy.Health:
    return "healthy" if text == "healthy" else "unhealthy" if text == "unhealthy" else "starting"


def _reply(conn: socket.socket, reply: Reply, fds: tuple[int, ...] = ()) -> None:
    with contextlib.suppress(OSError):
        send_line(conn, encode_reply(reply), fds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="composer-supervisor")
    parser.add_argument("project_dir", type=Path)
    args = parser.parse_args(argv)
    # A subreaper: processes orphaned inside containers' init trees come back to us, not to PID 1.
    from composer.kernel.syscalls import prctl

    prctl(PR_SET_CHILD_SUBREAPER, 1)
    (args.project_dir / "supervisor.pid").write_text(f"{os.getpid()} {process_start_time(os.getpid())}\n")
    Supervisor(args.project_dir).serve()
