"""Entering a running container: ``exec_in_container``, ``run_in_container`` and the terminal.

Two processes run this code.  The caller (the ``composer exec`` command, the
supervisor's healthcheck threads) opens the container's namespaces, forks with
``setns`` on the container's pid namespace (so the new process is a direct
child of the caller, in the container's pid namespace, without a double fork),
waits for the exec on the error pipe, then pumps the terminal or collects the
output and reaps the process.  The forked child (:func:`_exec_child` and the
``stdio`` callable it is given) joins the cgroup, then the ipc, uts, net,
cgroup and mount namespaces (and the user namespace last), not dumpable
meanwhile, takes the container's security settings (capabilities,
no_new_privs, seccomp) and execs.  Like every forked child it imports nothing.

A terminal is opened on the container's own /dev/ptmx, after the child joined
the mount namespace, and its master side passed back over a socket, so ``tty``
inside names it.

Without a terminal, the command's stdout and stderr go through pipes of the
caller's where the caller's are pipes or sockets (:class:`OutputRelay`), and the
healthcheck's output through one pipe: both calls return when the command
exits, after reading what it wrote (at most :data:`DRAIN_AFTER_EXIT`, 200 ms),
not when a process it left in the background closes its stdout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import select
import signal
import socket
import stat
import struct
import termios
import time
import tty as tty_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from composer.errors import ContainerError
from composer.kernel import syscalls as sc
from composer.kernel.cgroups import CgroupHandle
from composer.kernel.process.child import Stage, exec_command, join_cgroup, report_and_exit, reset_signals
from composer.kernel.process.helpers import container_env, decode_wait_status
from composer.kernel.process.parent import child_failure, close_all, fork_in_pidns, read_all, signals_to_reset
from composer.kernel.process.security import Security, confine, security_for
from composer.kernel.users import resolve_user
from composer.model.container import ContainerConfig

_JOIN_ORDER = (
    ("ipc", sc.CLONE_NEWIPC),
    ("uts", sc.CLONE_NEWUTS),
    ("net", sc.CLONE_NEWNET),
    ("cgroup", sc.CLONE_NEWCGROUP),
    ("mnt", sc.CLONE_NEWNS),
)
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441


@dataclass(frozen=True)
class _ExecOptions:
    user: str
    working_dir: str | None
    env: Mapping[str, str] | None
    cgroup: CgroupHandle | None
    cfg: ContainerConfig | None


@dataclass(frozen=True)
class _ExecArgs:
    ns_fds: tuple[tuple[int, int], ...]  # (fd, nstype) in join order
    userns_fd: int | None
    procs_files: tuple[str, ...]
    argv: tuple[str, ...]
    env: dict[str, str]
    user: str
    working_dir: str
    security: Security
    signals: tuple[int, ...]
    err_fd: int


def _read_environ(pid: int) -> list[tuple[str, str]]:
    with open(f"/proc/{pid}/environ", "rb") as handle:
        raw = handle.read()
    pairs = []
    for item in raw.split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep:
            pairs.append((key, value))
    return pairs


def _open_namespaces(pid: int) -> tuple[int, tuple[tuple[int, int], ...], int | None]:
    """Open the pid ns, the others in join order, and the user ns when it differs from ours."""
    pidns = os.open(f"/proc/{pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    others = tuple(
        (os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), nstype)
        for name, nstype in _JOIN_ORDER
    )
    userns = None
    if os.stat(f"/proc/{pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino:
        userns = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    return pidns, others, userns


def _exec_child(args: _ExecArgs, stage: Stage, stdio: Callable[[], None]) -> NoReturn:
    stage.name = "setup"
    sc.prctl(sc.PR_SET_DUMPABLE, 0)  # nobody in the container may ptrace or read us while we join
    reset_signals(args.signals)
    stage.name = "cgroup"
    join_cgroup(args.procs_files)
    stage.name = "namespaces"
    for fd, nstype in args.ns_fds:
        sc.setns(fd, nstype)
    stage.name = "stdio"
    stdio()  # after the mount namespace: a terminal comes from the container's own /dev/ptmx
    if args.userns_fd is not None:
        sc.setns(args.userns_fd, sc.CLONE_NEWUSER)
    stage.name = "user"
    user = resolve_user(args.user, "/")
    env = dict(args.env)
    env.setdefault("HOME", user.home)
    stage.name = "security"
    confine(args.security, user, args.working_dir)
    stage.name = "exec"
    exec_command(args.argv, env, args.err_fd)


def _exec_args(
    pid: int,
    argv: Sequence[str],
    options: _ExecOptions,
    err_fd: int,
    ns: tuple[tuple[tuple[int, int], ...], int | None],
) -> _ExecArgs:
    if not argv:
        raise ContainerError("exec: no command given")
    cfg = options.cfg
    base_env = list(cfg.env) if cfg is not None else _read_environ(pid)
    merged = container_env(base_env, cfg.hostname if cfg and cfg.hostname else "")
    if not merged["HOSTNAME"]:
        merged.pop("HOSTNAME")
    merged.update(options.env or {})
    return _ExecArgs(
        ns_fds=ns[0],
        userns_fd=ns[1],
        procs_files=tuple(options.cgroup.procs_files()) if options.cgroup is not None else (),
        argv=tuple(argv),
        env=merged,
        user=options.user or (cfg.user if cfg else ""),
        working_dir=options.working_dir or (cfg.working_dir if cfg and cfg.working_dir else "/"),
        security=security_for(
            cfg, devices_enforced=options.cgroup is None or options.cgroup.enforces_devices()
        ),
        signals=signals_to_reset(),
        err_fd=err_fd,
    )


def _devices_enforced(cgroup: CgroupHandle | None) -> bool:
    """Whether the exec'd process falls under a device policy: not when it joins no cgroup."""
    return cgroup is not None and cgroup.enforces_devices()


def _start_exec(
    pid: int,
    argv: Sequence[str],
    stdio: Callable[[], None],
    options: _ExecOptions,
) -> tuple[int, int]:
    """Fork the exec'ed process into the container; return (child pid, error pipe read end)."""
    try:
        pidns, others, userns = _open_namespaces(pid)
    except FileNotFoundError as exc:
        raise ContainerError(f"exec: process {pid} is gone (the container is not running)") from exc
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    opened = [pidns, *(fd for fd, _ in others), *([userns] if userns is not None else [])]
    try:
        args = _exec_args(pid, argv, options, err_w, (others, userns))
        child = fork_in_pidns(pidns)
        if child == 0:
            stage = Stage()
            try:
                _exec_child(args, stage, stdio)
            except BaseException as exc:
                report_and_exit(err_w, stage.name, exc)
    except BaseException:
        os.close(err_r)
        raise
    finally:
        close_all(*opened, err_w)
    return child, err_r


def _finish_start(child: int, err_r: int) -> None:
    try:
        data = read_all(err_r)
    finally:
        os.close(err_r)
    if data:
        raise child_failure(child, data, "exec")


def exec_in_container(
    pid: int,
    argv: list[str],
    *,
    user: str = "",
    working_dir: str | None = None,
    env: dict[str, str] | None = None,
    tty: bool = False,
    cgroup: CgroupHandle | None = None,
    cfg: ContainerConfig | None = None,
) -> int:
    """Run ``argv`` inside the running container whose PID 1 is ``pid``; return its exit code.

    Standard streams are the caller's fds 0-2 (stdout and stderr relayed when they
    are pipes or sockets, so that the call and its reader end with the command:
    :class:`OutputRelay`); with ``tty`` a pseudo-terminal of the container sits
    between them (raw mode when stdin is a terminal, window size copied).
    """
    options = _ExecOptions(user, working_dir, env, cgroup, cfg)
    if not tty:
        # Same process group as the caller: Ctrl-C at the terminal reaches the command too.
        relay = OutputRelay.for_caller_stdio()
        try:
            child, err_r = _start_exec(pid, argv, relay.child_stdio, options)
            relay.close_child_ends()
            _finish_start(child, err_r)
            return decode_wait_status(relay.pump_until_exit(child))
        finally:
            relay.close()
    options = dataclasses.replace(options, env={"TERM": os.environ.get("TERM", "xterm"), **(env or {})})
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        child, err_r = _start_exec(pid, argv, lambda: _attach_container_pty(theirs), options)
        theirs.close()
        _, fds, _, _ = socket.recv_fds(ours, 1, 1)
    finally:
        theirs.close()
        ours.close()
    if not fds:
        _finish_start(child, err_r)  # the child failed before it had a terminal: raises its error
        raise ContainerError("exec: the process did not get a terminal")
    master = fds[0]
    try:
        _copy_winsize(0, master)
        _finish_start(child, err_r)
        _pump_pty(master)
    finally:
        os.close(master)
    return decode_wait_status(os.waitpid(child, 0)[1])


class OutputRelay:
    """The exec'd process's stdout/stderr through pipes of ours, so that its exit ends them.

    A reader of the caller's stdout (``composer exec -T svc cmd | cat``) waits for
    every writer to close it; a daemon the command left in the background
    (``sh -c 'daemon &'``) would keep it open for its whole life (moby #33039).
    So where the caller's fd 1 or 2 is a pipe or a socket, the process gets a pipe
    of ours instead, copied through while it runs; once it has exited, what it
    wrote is read (at most :data:`DRAIN_AFTER_EXIT` seconds more) and the pipe is
    let go.  What the background process writes later is lost (it gets EPIPE).
    Terminals and files are handed over as they are: nothing waits for their end.
    """

    def __init__(self, groups: Sequence[tuple[int, ...]]) -> None:
        self.child_ends: dict[int, tuple[int, ...]] = {}  # write end -> the process's fds it becomes
        self.targets: dict[int, int] = {}  # read end -> the caller's fd it is copied to
        for group in groups:
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            self.child_ends[write_end] = group
            self.targets[read_end] = group[0]

    @classmethod
    def for_caller_stdio(cls) -> OutputRelay:
        """Pipes for the caller's fds 1 and 2 that a reader waits on (one when both are one file)."""
        groups: list[tuple[int, ...]] = []
        seen: dict[tuple[int, int], int] = {}
        for number in (1, 2):
            try:
                info = os.fstat(number)
            except OSError:
                continue  # closed: the process gets none either
            if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode)):
                continue
            key = (info.st_dev, info.st_ino)
            if key in seen:
                groups[seen[key]] += (number,)
            else:
                seen[key] = len(groups)
                groups.append((number,))
        return cls(groups)

    def child_stdio(self) -> None:
        """In the forked child: the pipes become its fds 1/2 (dup2 clears CLOEXEC on them)."""
        for write_end, numbers in self.child_ends.items():
            for number in numbers:
                os.dup2(write_end, number)

    def close_child_ends(self) -> None:
        close_all(*self.child_ends)
        self.child_ends = {}

    def pump_until_exit(self, child: int) -> int:
        """Copy until the process exits, reap it, drain what it wrote; its wait status."""
        pidfd = os.pidfd_open(child)
        try:
            while True:
                ready, _, _ = select.select([pidfd, *self.targets], [], [])
                for fd in ready:
                    if fd != pidfd:
                        self._forward(fd)
                if pidfd in ready:
                    break
        finally:
            os.close(pidfd)
        status = os.waitpid(child, 0)[1]
        drain(list(self.targets), time.monotonic() + DRAIN_AFTER_EXIT, self._forward)
        return status

    def _forward(self, fd: int) -> bool:
        """Copy one read; False (and the pipe let go) at its end or when the caller's reader is gone."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if data and _write_all(self.targets[fd], data):
            return True
        del self.targets[fd]
        os.close(fd)  # the process's next write gets EPIPE, as it would have without us
        return False

    def close(self) -> None:
        self.close_child_ends()
        close_all(*self.targets)
        self.targets = {}


# How long, after the exec'd process exited, its output pipes are still read (exec, healthchecks):
# what it wrote before its exit is in the pipe already; only a background child writes after it.
DRAIN_AFTER_EXIT = 0.2


def drain(fds: Sequence[int], deadline: float, forward: Callable[[int], bool]) -> None:
    """Read ``fds`` (``forward`` reads one and says whether it stays open) until they are empty,
    closed, or ``deadline`` passes: bounded even while a background process keeps writing."""
    pending = list(fds)
    for fd in pending:
        os.set_blocking(fd, False)
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        ready, _, _ = select.select(pending, [], [], 0)
        if not ready:
            return  # empty: everything written before the exit has been read
        for fd in ready:
            if not forward(fd):
                pending.remove(fd)


def _write_all(fd: int, data: bytes) -> bool:
    """Write everything to the caller's fd; False when its reader is gone."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])
        except (BrokenPipeError, ConnectionResetError):
            return False
    return True


def exec_to_file(pid: int, argv: list[str], output: str, **options: Any) -> int:
    """``exec_in_container`` without a terminal: stdin /dev/null, stdout/stderr appended to ``output``.

    For what composer runs itself (lifecycle hooks): nothing to read from the
    caller's terminal, and the output is kept for the error message.
    """
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def stdio() -> None:
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)

    try:
        child, err_r = _start_exec(pid, argv, stdio, _ExecOptions(**{**_NO_OPTIONS, **options}))
    finally:
        os.close(null)
        os.close(log)
    _finish_start(child, err_r)
    return decode_wait_status(os.waitpid(child, 0)[1])


_NO_OPTIONS: dict[str, Any] = {"user": "", "working_dir": None, "env": None, "cgroup": None, "cfg": None}


def _attach_container_pty(channel: socket.socket) -> None:
    """Open a terminal on the container's /dev/ptmx (so ``tty`` names it inside), make it
    the controlling terminal and stdio, and pass the master side to the parent."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for number in range(3):
        os.dup2(slave, number)
    os.close(slave)
    socket.send_fds(channel, [b"m"], [master])
    os.close(master)


def _copy_winsize(source: int, dest: int) -> None:
    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dest, termios.TIOCSWINSZ, size)
    except OSError:
        pass  # stdin is not a terminal: keep the pty's default size


def _pump_pty(master: int) -> None:
    """Copy stdin to the terminal and the terminal to stdout until the process side closes."""
    stdin, stdout = 0, 1  # the process's own descriptors, whatever sys.stdin wraps
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    if saved is not None:
        tty_module.setraw(stdin)
    previous = _follow_window_size(master)
    watch = [master, stdin]
    try:
        while True:
            ready, _, _ = select.select(watch, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return  # EIO: every holder of the terminal's other side is gone
                if not data:
                    return
                os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    os.write(master, data)
                else:
                    watch.remove(stdin)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)


def _follow_window_size(master: int) -> signal.Handlers | Callable[..., object] | int | None:
    """Copy the window size on SIGWINCH (main thread only); return the handler to restore."""
    try:
        return signal.signal(signal.SIGWINCH, lambda _signum, _frame: _copy_winsize(0, master))
    except ValueError:
        return None  # not the main thread: the size stays the initial one


def run_in_container(
    pid: int,
    argv: Sequence[str],
    timeout: float,
    *,
    cfg: ContainerConfig | None = None,
    cgroup: CgroupHandle | None = None,
    user: str = "",
    max_output: int = 65536,
    reap: Callable[[int], int] | None = None,
) -> tuple[int, bytes]:
    """Run a command non-interactively in the container (healthchecks).

    ``argv`` may be a compose healthcheck test (``CMD``/``CMD-SHELL`` forms).
    Returns (exit code, stdout+stderr up to ``max_output`` bytes) once the command
    exits, after a drain of at most :data:`DRAIN_AFTER_EXIT` seconds (a process it
    left in the background does not hold it up).  On timeout the command and its
    process group are killed and the exit code is 137.  ``reap`` gives the wait
    status of the exited child (default ``waitpid``): a caller whose own loop
    reaps every child (the supervisor) hands over what it reaped.
    """
    out_r, out_w = os.pipe2(os.O_CLOEXEC)

    def stdio() -> None:
        os.setsid()
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)

    options = _ExecOptions(user, None, None, cgroup, cfg)
    try:
        child, err_r = _start_exec(pid, list(argv), stdio, options)
    finally:
        os.close(out_w)
    try:
        _finish_start(child, err_r)
        output, status = _collect(child, out_r, time.monotonic() + timeout, max_output, reap or _waitpid)
    finally:
        os.close(out_r)
    return decode_wait_status(status), output


def _waitpid(child: int) -> int:
    return os.waitpid(child, 0)[1]


def _collect(
    child: int, out_r: int, deadline: float, max_output: int, reap: Callable[[int], int]
) -> tuple[bytes, int]:
    """Read the output until the process exits (then a bounded drain) or the deadline (then kill)."""
    output = bytearray()

    def keep(fd: int) -> bool:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        output.extend(data[: max(0, max_output - len(output))])
        return bool(data)

    watch = [out_r]
    try:
        pidfd = os.pidfd_open(child)
    except ProcessLookupError:
        pidfd = -1  # exited and reaped already, by the caller's loop: its status comes from reap()
    try:
        while pidfd >= 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill_group(child)
                return bytes(output), reap(child)
            ready, _, _ = select.select([pidfd, *watch], [], [], remaining)
            if out_r in ready and not keep(out_r):
                watch.remove(out_r)
            if pidfd in ready:
                break
    finally:
        close_all(pidfd)
    status = reap(child)
    if out_r in watch:
        # A process it left in the background may hold the pipe open: read what is there, not more.
        drain([out_r], time.monotonic() + DRAIN_AFTER_EXIT, keep)
    return bytes(output), status


def _kill_group(child: int) -> None:
    for target in (-child, child):
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)
