"""The forked set-up child: what runs between fork() and execve() of a container's command.

:func:`container_child` runs in the child :func:`composer.kernel.process.parent.start_container`
forks into a new pid namespace; it becomes the container's PID 1.  The steps it
takes, and why in that order, are in the docstring of :mod:`composer.kernel.process`.
The single steps below (signals, cgroup, reporting a failure, the final exec) are
shared with the child of an exec (:mod:`composer.kernel.process.exec`).

Everything here runs in a forked copy of a possibly threaded caller, so nothing
is imported here at call time: every module this code needs is imported at the
top of this file, before any fork, and what can be computed in the parent
(capabilities, the seccomp program, the signals to reset) arrives in
:class:`SpawnArgs`.  A failure is written as one JSON object to the error pipe
and the child exits 127; see :func:`report_and_exit`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from composer.errors import ContainerError
from composer.kernel import mounts
from composer.kernel import syscalls as sc
from composer.kernel.devices import DeviceNode
from composer.kernel.process.helpers import (
    RLIMITS,
    container_env,
    find_executable,
    lowered_rlimit,
)
from composer.kernel.process.init import run_init
from composer.kernel.process.security import Security, confine
from composer.kernel.users import resolve_user, with_groups
from composer.model.container import DEFAULT_PATH, ContainerConfig


class Stage:
    """The step the child is in, reported with an error."""

    name = "start"


@dataclass(frozen=True)
class SpawnArgs:
    """Everything the set-up child needs, computed by the parent before the fork."""

    cfg: ContainerConfig
    procs_files: tuple[str, ...]
    stdout: str | int
    stderr: str | int
    security: Security
    host_init: str | None
    device_nodes: tuple[DeviceNode, ...]  # made in /dev besides the standard ones (devices.nodes_for)
    signals: tuple[int, ...]
    err_fd: int
    sync_fd: int
    ack_fd: int
    ipc_ns_fd: int = -1  # the ipc namespace of another container to enter (ipc: service:NAME)
    stdin_fd: int = -1  # the caller's stdin (run: composer's own, passed to the supervisor), or -1
    console_fd: int = -1  # tty: a socket to send the master of the container's own terminal to
    console_size: tuple[int, int] = (0, 0)  # its (rows, columns), 0: left as the kernel makes it


def container_child(args: SpawnArgs, stage: Stage) -> NoReturn:
    """Set the container up and exec its command (or become its init); never returns."""
    cfg = args.cfg
    stage.name = "setup"
    reset_signals(args.signals)
    os.setsid()
    stage.name = "cgroup"
    join_cgroup(args.procs_files)
    stage.name = "stdio"
    stdin_fifo = os.path.join(cfg.state_dir, "stdin.fifo") if cfg.stdin_open else None
    _open_stdio(args.stdout, args.stderr, stdin_fifo, stdin_fd=args.stdin_fd)
    if cfg.netns_path:
        stage.name = "netns"
        fd = os.open(cfg.netns_path, os.O_RDONLY | os.O_CLOEXEC)
        sc.setns(fd, sc.CLONE_NEWNET)
        os.close(fd)
    stage.name = "namespaces"
    kept = cfg.host_namespaces
    if args.ipc_ns_fd >= 0:
        sc.setns(args.ipc_ns_fd, sc.CLONE_NEWIPC)
        os.close(args.ipc_ns_fd)
        kept = (*kept, "ipc")
    sc.unshare(namespace_flags(kept))
    # uts: host keeps the host's name (a `hostname:` with it is refused at up, as Docker does).
    hostname = (
        os.uname().nodename if "uts" in cfg.host_namespaces else cfg.hostname or cfg.service or cfg.name
    )
    _prepare_root(cfg, args, hostname, stage)
    if args.console_fd >= 0:
        stage.name = "console"
        _open_console(args.console_fd, args.console_size)
    stage.name = "rlimits"
    _apply_rlimits(cfg)
    if cfg.oom_score_adj is not None:
        stage.name = "oom_score_adj"
        _set_oom_score_adj(cfg.oom_score_adj)
    stage.name = "user"
    user = with_groups(resolve_user(cfg.user, "/"), cfg.group_add, "/")
    env = container_env(cfg.env, hostname)
    env.setdefault("HOME", user.home)
    if cfg.userns:
        # Last of the namespaces: mounts, hostname and sysctls above needed the host's root.
        stage.name = "userns"
        _setup_userns(args.sync_fd, args.ack_fd)
    stage.name = "security"
    confine(args.security, user, cfg.working_dir or "/")
    stage.name = "exec"
    argv: list[str] = list(cfg.argv)
    if not argv:
        raise ContainerError("no command given (neither the image nor the service has one)")
    if cfg.init and args.host_init:
        argv = [mounts.INIT_PATH, "--", *argv]
    elif cfg.init:
        _run_builtin_init(argv, env, args.err_fd)
    exec_command(argv, env, args.err_fd)


_UNSHARED = {"uts": sc.CLONE_NEWUTS, "ipc": sc.CLONE_NEWIPC, "cgroup": sc.CLONE_NEWCGROUP}


def namespace_flags(host_namespaces: Sequence[str]) -> int:
    """unshare() flags of the container: a new mount namespace always, the others unless kept."""
    flags = sc.CLONE_NEWNS
    for kind, flag in _UNSHARED.items():
        if kind not in host_namespaces:
            flags |= flag
    return flags


def _set_oom_score_adj(value: int) -> None:
    """The kernel wants CAP_SYS_RESOURCE to lower it below the current value: say so, do not ignore it."""
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write(str(value))
    except PermissionError:
        raise ContainerError(
            f"oom_score_adj {value}: lowering the OOM score needs CAP_SYS_RESOURCE, which is missing here",
            hint="use a value of 0 or more, or run composer with CAP_SYS_RESOURCE",
        ) from None


# --- steps shared with the child of an exec -----------------------------------------------------


def report_and_exit(err_fd: int, stage: str, exc: BaseException) -> NoReturn:
    """Write ``{"stage", "errno", "message"}`` to the error pipe and exit 127."""
    try:
        number = exc.errno if isinstance(exc, OSError) else None
        text = exc.message if isinstance(exc, ContainerError) else str(exc)
        payload = {"stage": stage, "errno": number, "message": text}
        os.write(err_fd, json.dumps(payload).encode()[:4000])
    finally:
        os._exit(127)


def reset_signals(signals: Sequence[int]) -> None:
    """Every disposition at its default and nothing blocked, as a fresh process has them."""
    # An ignored signal stays ignored across execve (Python ignores SIGPIPE and SIGXFSZ, a
    # supervisor may ignore more): give the container every disposition at its default.
    for signum in signals:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def join_cgroup(procs_files: Sequence[str]) -> None:
    for name in procs_files:
        with open(name, "w") as handle:
            handle.write("0")  # "0" means the writing process


def exec_command(argv: Sequence[str], env: Mapping[str, str], err_fd: int) -> NoReturn:
    """Find the command in the container's PATH, close every fd but 0-2 and the error pipe, exec."""
    path = find_executable(argv[0], env.get("PATH", DEFAULT_PATH))
    if path is None:
        raise ContainerError(f"exec: {argv[0]!r}: executable file not found in $PATH")
    os.closerange(3, err_fd)
    os.closerange(err_fd + 1, 1 << 20)  # the error pipe is CLOEXEC: execve closes it, EOF says "ran"
    os.execve(path, list(argv), dict(env))


# --- steps of the set-up child ------------------------------------------------------------------


def _open_stdio(
    stdout: str | int,
    stderr: str | int,
    stdin_fifo: str | None = None,
    *,
    stdin_fd: int = -1,
) -> None:
    """stdin is /dev/null, or with ``stdin_open`` a FIFO opened read-write: reads wait, never see EOF.

    ``stdin_fd`` (``run`` in the foreground) is the caller's stdin instead: a pipe's end reaches the
    command as EOF. A ``tty: true`` container replaces all three later with its own terminal
    (_open_console).
    """
    if stdin_fifo is not None and stdin_fd < 0:
        with contextlib.suppress(FileExistsError):
            os.mkfifo(stdin_fifo, 0o600)
    if stdin_fd >= 0:
        fds = [os.dup(stdin_fd)]
    elif stdin_fifo is not None:
        fds = [os.open(stdin_fifo, os.O_RDWR)]
    else:
        fds = [os.open("/dev/null", os.O_RDONLY)]
    for target in (stdout, stderr):
        fds.append(os.open(target, os.O_RDWR) if isinstance(target, str) else os.dup(target))
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
    for fd in fds:
        if fd > 2:
            os.close(fd)


# <asm-generic/ioctls.h>: the pty number of a master, and unlockpt (Python's termios has neither)
_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431


def _open_console(sock_fd: int, size: tuple[int, int]) -> None:
    """``tty: true``: a pseudo-terminal of the container's own devpts (after pivot_root), so that
    ``tty`` and ttyname() name it; the master goes to the parent, the slave is stdio and the
    controlling terminal (what runc's console socket does)."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    (number,) = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0" * 4))
    slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY)
    if all(size):  # before the command runs: it may read its window size first thing
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    with socket.socket(fileno=sock_fd) as channel:
        socket.send_fds(channel, [b"t"], [master])
    os.close(master)
    for number in range(3):
        os.dup2(slave, number)
    if slave > 2:
        os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _prepare_root(cfg: ContainerConfig, args: SpawnArgs, hostname: str, stage: Stage) -> None:
    rootfs = str(cfg.files.rootfs)
    stage.name = "rootfs"
    mounts.mount_root(cfg, rootfs)
    stage.name = "mounts"
    mounts.mount_kernel_fs(cfg, rootfs, args.device_nodes)
    for target, source in mounts.write_etc_files(cfg, hostname).items():
        mounts.bind_file(source, rootfs, target)
    stage.name = "volumes"
    _seed_volumes(cfg, rootfs)
    for volume in cfg.mounts:
        mounts.mount_volume(volume, rootfs)
    if cfg.init and args.host_init:
        mounts.bind_init(args.host_init, rootfs)
    if cfg.working_dir:
        mounts.make_folder(rootfs, cfg.working_dir)
    stage.name = "pivot_root"
    mounts.pivot(rootfs)
    if "uts" not in cfg.host_namespaces:  # never rename the host
        stage.name = "hostname"
        sc.sethostname(hostname)
        if cfg.domainname:
            sc.setdomainname(cfg.domainname)
    stage.name = "sysctls"
    _apply_sysctls(cfg.sysctls)
    stage.name = "masks"
    if not cfg.privileged:
        mounts.mask_paths()
    if cfg.read_only:
        mounts.make_root_readonly()


def _seed_volumes(cfg: ContainerConfig, rootfs: str) -> None:
    """Every empty volume gets the image's files first, before any volume hides them."""
    seeded = [volume for volume in cfg.mounts if volume.kind == "volume" and volume.seed_from_image]
    if seeded:
        from composer.kernel.volume_seed import seed_volume

        for volume in seeded:
            seed_volume(volume, rootfs)


def _apply_sysctls(sysctls: Sequence[tuple[str, str]]) -> None:
    for key, value in sysctls:
        with open("/proc/sys/" + key.replace(".", "/"), "w") as handle:
            handle.write(value)


def _apply_rlimits(cfg: ContainerConfig) -> None:
    for limit in cfg.ulimits:
        name = RLIMITS.get(limit.name)
        if name is None:
            raise ContainerError(f"unknown ulimit {limit.name!r}")
        number = getattr(resource, name)
        resource.setrlimit(number, lowered_rlimit(limit.soft, limit.hard, resource.getrlimit(number)))


def _setup_userns(sync_fd: int, ack_fd: int) -> None:
    """Unshare the user namespace and let the parent write the id maps."""
    sc.unshare(sc.CLONE_NEWUSER)
    os.write(sync_fd, b"u")
    if os.read(ack_fd, 1) != b"k":
        raise ContainerError("the parent could not map the user namespace")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _run_builtin_init(argv: Sequence[str], env: Mapping[str, str], err_fd: int) -> NoReturn:
    child = os.fork()
    if child == 0:
        exec_command(argv, env, err_fd)  # an error propagates to this process's own report handler
    os.closerange(3, 1 << 20)  # not even the error pipe: EOF then comes with the command's exec
    run_init(child)
