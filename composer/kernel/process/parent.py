"""The caller's side of starting a container: fork into a new pid namespace, map ids, wait.

Runs in the process that will own the container (the supervisor, a test, a
benchmark): the container's PID 1 must be its direct child so that it can
waitpid() it.  The caller unshares CLONE_NEWPID (which moves only its *next*
child), forks, and goes straight back with setns on its own pid namespace; the
child runs :func:`composer.kernel.process.child.container_child`.

:func:`start_container` returns a :class:`PendingContainer` at once, so that a
caller starting many containers lets their set-ups overlap; ``wait()`` writes
the user namespace's id maps when asked (only a process outside the namespace
may map a range) and reads the child's error pipe to its end.
:func:`fork_in_pidns` and the pipe helpers are shared with
:mod:`composer.kernel.process.exec`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from composer.errors import ContainerError
from composer.kernel import syscalls as sc
from composer.kernel.cgroups import CgroupHandle
from composer.kernel.devices import nodes_for
from composer.kernel.mounts import ensure_shared_shm
from composer.kernel.process.child import SpawnArgs, Stage, container_child, report_and_exit
from composer.kernel.process.helpers import check_sysctls, find_host_init
from composer.kernel.process.security import security_for
from composer.model.container import ContainerConfig

_pidns: dict[str, int] = {}  # composer's own pid namespace: an fd opened once, and its inode
_RESETTABLE = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


@dataclass
class PendingContainer:
    """A container forked but maybe not exec'ed yet; :meth:`wait` gives its PID.

    Starting several containers and then waiting for them all lets their set-up
    run in parallel (much of it is the kernel waiting: a v1 cgroup attach waits
    for an RCU grace period), while each stays a direct child of the caller.
    """

    pid: int
    cfg: ContainerConfig
    err_r: int
    sync_r: int = -1
    ack_w: int = -1
    console_r: int = -1  # with a console: where the child sends its terminal's master
    console: int = -1  # that master once ``wait`` returned (the caller's to close)

    def wait(self) -> int:
        """Block until the command was exec'ed; raise :class:`ContainerError` if set-up failed."""
        try:
            if self.sync_r >= 0:
                _map_userns(self.pid, self.cfg, self.sync_r, self.ack_w)
            data = read_all(self.err_r)
            if not data and self.console_r >= 0:
                self.console = _receive_console(self.console_r)
        finally:
            close_all(self.err_r, self.sync_r, self.ack_w, self.console_r)
            self.console_r = -1
        if data:
            raise child_failure(self.pid, data, f"container {self.cfg.name}")
        return self.pid


def _receive_console(channel_fd: int) -> int:
    """The terminal master the child sent before it exec'ed its command."""
    with socket.socket(fileno=os.dup(channel_fd)) as channel:
        channel.setblocking(False)
        try:
            _data, fds, _flags, _address = socket.recv_fds(channel, 1, 1)
        except BlockingIOError:
            fds = []
    if not fds:
        raise ContainerError("the container's set-up sent no terminal")
    return fds[0]


def spawn_container(cfg: ContainerConfig, cgroup: CgroupHandle, stdout: str | int, stderr: str | int) -> int:
    """Start the container and return its host PID once its command runs.

    ``stdout``/``stderr`` are the log FIFO paths from
    :func:`composer.kernel.logs.make_log_fifos` (opened O_RDWR by the child), or
    file descriptors to duplicate.  Raises :class:`ContainerError` with the
    failing step when the container cannot start.
    """
    return start_container(cfg, cgroup, stdout, stderr).wait()


def start_container(
    cfg: ContainerConfig,
    cgroup: CgroupHandle,
    stdout: str | int,
    stderr: str | int,
    joined: Mapping[str, int] | None = None,
    stdin: int = -1,
    *,
    console: bool = False,
    console_size: tuple[int, int] = (0, 0),
) -> PendingContainer:
    """Fork the container and return at once; ``.wait()`` gives its PID (see spawn_container).

    ``joined`` gives, for each kind of ``cfg.joins``, the PID of the container whose namespace of
    that kind this one enters (``pid: service:db``: db's PID); ``stdin`` an fd to be its stdin.
    With ``console`` (``tty: true``) the child makes its terminal in its own devpts and sends the
    master back: ``.wait()`` leaves it in ``.console``; ``stdout``/``stderr`` are then unused.
    """
    _check_config(cfg)
    if cfg.shm_path:  # made here, outside the container, so that the containers sharing it bind one tmpfs
        ensure_shared_shm(cfg.shm_path, cfg.shm_size)
    namespaces = _joined_namespaces(cfg, joined or {})
    for folder in cfg.files.created_folders:
        os.makedirs(folder, exist_ok=True)
    host_init = find_host_init() if cfg.init else None
    device_nodes = nodes_for(cfg)  # before the fork: a missing host node fails here, with its name
    security = security_for(cfg, devices_enforced=cgroup.enforces_devices())
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    sync_r, sync_w, ack_r, ack_w = -1, -1, -1, -1
    console_r, console_w = -1, -1
    if console:
        console_r, console_w = (s.detach() for s in socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
    if cfg.userns:
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        ack_r, ack_w = os.pipe2(os.O_CLOEXEC)
    args = SpawnArgs(
        cfg, tuple(cgroup.procs_files()), stdout, stderr, security, host_init, device_nodes,
        signals_to_reset(), err_w, sync_w, ack_r, namespaces.ipc_fd, stdin, console_w, console_size,
    )  # fmt: skip
    try:
        if "pid" in cfg.host_namespaces:
            pid = os.fork()
        else:
            pid = fork_in_pidns(namespaces.pid_fd if namespaces.pid_fd >= 0 else None)
    except BaseException:
        close_all(err_r, err_w, sync_r, sync_w, ack_r, ack_w, namespaces.ipc_fd, console_r, console_w)
        raise
    finally:
        close_all(namespaces.pid_fd)
    if pid == 0:
        stage = Stage()
        try:
            container_child(args, stage)
        except BaseException as exc:
            report_and_exit(err_w, stage.name, exc)
    close_all(err_w, sync_w, ack_r, namespaces.ipc_fd, console_w)  # the child's: EOF on err_r = done
    return PendingContainer(pid, cfg, err_r, sync_r, ack_w, console_r)


@dataclass(frozen=True)
class _Joined:
    """Namespaces of other containers this one enters: fds on them (-1: none)."""

    pid_fd: int = -1
    ipc_fd: int = -1


def _joined_namespaces(cfg: ContainerConfig, pids: Mapping[str, int]) -> _Joined:
    fds: dict[str, int] = {}
    try:
        for kind, target in cfg.joins:
            pid = pids.get(kind, 0)
            if pid <= 0:
                raise ContainerError(f"{kind}: service: container {target} is not running, nothing to join")
            try:
                fds[kind] = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise ContainerError(
                    f"cannot join the {kind} namespace of container {target}: {exc.strerror}"
                ) from None
    except BaseException:
        close_all(*fds.values())
        raise
    return _Joined(fds.get("pid", -1), fds.get("ipc", -1))


# --- shared with exec ---------------------------------------------------------------------------


def fork_in_pidns(target_pidns_fd: int | None) -> int:
    """fork() with the child in a new pid namespace (None) or in the given one."""
    own = _own_pidns_fd()
    if target_pidns_fd is None:
        sc.unshare(sc.CLONE_NEWPID)
    else:
        sc.setns(target_pidns_fd, sc.CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        sc.setns(own, sc.CLONE_NEWPID)
        raise
    if pid != 0:  # only the parent goes back; the child belongs where it was forked
        sc.setns(own, sc.CLONE_NEWPID)
    return pid


def signals_to_reset() -> tuple[int, ...]:
    """Signals not at their default here (read in the parent: the child inherits the same)."""
    return tuple(s for s in _RESETTABLE if signal.getsignal(s) is not signal.SIG_DFL)


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def child_failure(pid: int, data: bytes, what: str) -> ContainerError:
    """Reap the failed child and turn its JSON report into an error."""
    os.waitpid(pid, 0)
    try:
        info = json.loads(data)
        stage, message = info.get("stage", "?"), info.get("message", "")
    except ValueError:
        stage, message = "?", data.decode(errors="replace")
    return ContainerError(f"{what} failed at {stage}: {message}")


def close_all(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


# --- the parent's own steps ---------------------------------------------------------------------


def _check_config(cfg: ContainerConfig) -> None:
    """What can be refused before forking, with a clear message."""
    if not os.path.isabs(cfg.state_dir):
        raise ContainerError(
            f"container {cfg.name}: state_dir must be an absolute path, not {cfg.state_dir!r}"
        )
    if not cfg.rootfs_layers:
        raise ContainerError(f"container {cfg.name} has no root filesystem (no rootfs and no image layers)")
    if not cfg.argv:
        raise ContainerError(
            f"container {cfg.name}: no command given (neither the image nor the service has one)"
        )
    check_sysctls(cfg.sysctls, host_network=cfg.netns_path is None)


def _own_pidns_fd() -> int:
    """An fd on our own pid namespace, reopened if the caller closed it (a daemonizing one)."""
    fd = _pidns.get("fd", -1)
    try:
        if fd >= 0 and os.fstat(fd).st_ino == _pidns["ino"]:
            return fd
    except OSError:
        pass  # closed behind our back
    fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    _pidns.update(fd=fd, ino=os.fstat(fd).st_ino)
    return fd


def _write_id_maps(pid: int, cfg: ContainerConfig) -> None:
    mapping = f"0 {cfg.userns_base} {cfg.userns_size}\n"
    with open(f"/proc/{pid}/setgroups", "w") as handle:
        handle.write("allow")
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as handle:
            handle.write(mapping)


def _map_userns(pid: int, cfg: ContainerConfig, sync_r: int, ack_w: int) -> None:
    """Wait for the child's user namespace and write its id maps (only a parent can map a range)."""
    if os.read(sync_r, 1) != b"u":
        return  # the child failed before; its error is on the error pipe
    try:
        _write_id_maps(pid, cfg)
    except OSError:
        os.write(ack_w, b"x")
        raise
    os.write(ack_w, b"k")
