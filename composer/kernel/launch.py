"""Start, enter and stop containers: the one module that forks container processes.

spawn_container / start_container
    The command must be PID 1 of a new pid namespace *and* a direct child of the
    caller (a long-lived supervisor that waitpid()s it), with no helper process
    per container.  So the caller itself does ``unshare(CLONE_NEWPID)`` (which
    only changes where its *next* child goes), forks, and immediately goes back
    with ``setns`` on its own pid namespace, kept open once per process.

    The child then sets itself up and execs, in this order (each step needs the
    previous one): new session; join the cgroup (before the cgroup namespace, so
    that the namespace is rooted at the container's cgroup); stdio from
    /dev/null and the log FIFOs; the network namespace of ``netns_path``;
    unshare mount/uts/ipc/cgroup; the mounts (:mod:`composer.kernel.mounts`) and
    pivot_root; hostname; namespaced sysctls; masked and read-only paths;
    rlimits (lowered only); the user namespace when asked; bounding set; user
    and groups; capabilities; working dir; no_new_privs; seccomp; close every fd
    but 0-2; execve.

    Failures travel back on a CLOEXEC pipe: the child writes one JSON object
    ``{"stage", "errno", "message"}`` and exits; end-of-file without data means
    execve succeeded.  ``spawn_container`` returns only once the command runs;
    ``start_container`` returns at once with a :class:`PendingContainer` so that
    a caller starting many containers lets their set-ups overlap.

    ``init: true`` runs a static host init (tini, catatonit) bound at /dev/init,
    or, when there is none, keeps the set-up child as PID 1 running
    :func:`composer.kernel.initproc.run_init` around a forked command.

exec_in_container / run_in_container
    The same trick with ``setns`` on the container's pid namespace, so the
    process is a direct child, in the container's pid namespace, without a
    double fork.  It joins the cgroup, then ipc, uts, net, cgroup and mount
    namespaces (and the user namespace last), not dumpable meanwhile, and takes
    the container's security settings (capabilities, no_new_privs, seccomp).
    A terminal is opened on the container's own /dev/ptmx and its master side
    passed back over a socket, so ``tty`` inside names it.

stop_container
    Signal PID 1, wait for the grace period (through the caller's ``reap`` or a
    pidfd), then SIGKILL everything in the cgroup.

Nothing may be imported inside a forked child (the import lock may be held by
another thread at fork time): every module the child uses is imported here,
and what can be computed before the fork (capabilities, the packed seccomp
program, the signals to reset) is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import resource
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
from functools import cache
from typing import NoReturn

from composer.errors import ContainerError
from composer.kernel import caps as caps_module
from composer.kernel import initproc, mounts
from composer.kernel import syscalls as sc
from composer.kernel.cgroups import CgroupHandle
from composer.kernel.seccomp import packed_filter
from composer.kernel.users import ResolvedUser, resolve_user
from composer.model.container import ContainerConfig

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_INIT_CANDIDATES = (
    "/usr/bin/tini-static",
    "/usr/bin/tini",
    "/sbin/tini",
    "/usr/bin/catatonit",
    "/usr/libexec/podman/catatonit",
)
INIT_ENV = "COMPOSER_INIT"  # "builtin" forces composer's own init; a path forces that binary

RLIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}  # fmt: skip

NAMESPACED_SYSCTL_PREFIXES = ("kernel.shm", "kernel.msg", "fs.mqueue.")
NAMESPACED_SYSCTLS = ("kernel.sem",)

_JOIN_ORDER = (
    ("ipc", sc.CLONE_NEWIPC),
    ("uts", sc.CLONE_NEWUTS),
    ("net", sc.CLONE_NEWNET),
    ("cgroup", sc.CLONE_NEWCGROUP),
    ("mnt", sc.CLONE_NEWNS),
)
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441


# --- pure helpers -------------------------------------------------------------------------------


def decode_wait_status(status: int) -> int:
    """A waitpid status as an exit code: the code, or 128 + the signal that killed it."""
    return initproc.exit_code(status)


def check_sysctls(sysctls: Sequence[tuple[str, str]], *, host_network: bool) -> None:
    """Refuse sysctls that are not namespaced (they would change the host)."""
    for key, _ in sysctls:
        if key.startswith("net."):
            if host_network:
                raise ContainerError(
                    f"sysctl {key} cannot be set with the host's network: it would change the host",
                    hint="give the service its own network namespace, or drop the sysctl",
                )
            continue
        if key in NAMESPACED_SYSCTLS or key.startswith(NAMESPACED_SYSCTL_PREFIXES):
            continue
        raise ContainerError(
            f"sysctl {key} is not namespaced: setting it in a container would change the host",
            hint="only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set per container",
        )


def lowered_rlimit(soft: int, hard: int, current: tuple[int, int]) -> tuple[int, int]:
    """Never above the current hard limit (no CAP_SYS_RESOURCE): lower only."""

    def as_number(value: int) -> float:
        return float("inf") if value < 0 else value

    cur_hard = current[1]
    new_hard = hard if as_number(hard) <= as_number(cur_hard) else cur_hard
    new_soft = soft if as_number(soft) <= as_number(new_hard) else new_hard
    return new_soft, new_hard


def container_env(cfg_env: Sequence[tuple[str, str]], hostname: str) -> dict[str, str]:
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    env.update(dict(cfg_env))
    return env


def find_executable(name: str, path_env: str, root: str = "/") -> str | None:
    """Look ``name`` up in ``path_env`` like execvp, below ``root``."""
    if "/" in name:
        return name
    for folder in (path_env or DEFAULT_PATH).split(":"):
        candidate = os.path.join(folder or ".", name)
        full = os.path.join(root, candidate.lstrip("/")) if root != "/" else candidate
        try:
            mode = os.stat(full).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and os.access(full, os.X_OK):
            return candidate
    return None


def is_static_elf(path: str) -> bool:
    """True for an ELF executable with no program interpreter (no PT_INTERP)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2:
                return False
            (phoff,) = struct.unpack_from("<Q", header, 32)
            phentsize, phnum = struct.unpack_from("<HH", header, 54)
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def find_host_init() -> str | None:
    """A static tini or catatonit from the host, or None to use composer's own init."""
    forced = os.environ.get(INIT_ENV, "")
    if forced == "builtin":
        return None
    if forced:
        return forced
    return _first_static_init()


def health_argv(test: Sequence[str]) -> list[str]:
    """Compose healthcheck ``test`` forms: ["CMD", ...], ["CMD-SHELL", "..."], or a plain argv."""
    if test and test[0] == "CMD":
        return list(test[1:])
    if test and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test)


@cache
def _first_static_init() -> str | None:
    # A dynamically linked init would need the host's libc inside the image: only static ones.
    for path in HOST_INIT_CANDIDATES:
        if os.path.exists(path) and is_static_elf(path):
            return path
    return None


@cache
def _available_caps() -> int:
    return caps_module.bounding_set()


@cache
def _last_cap() -> int:
    return caps_module.last_cap()


_pidns: dict[str, int] = {}  # composer's own pid namespace: an fd opened once, and its inode


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


_RESETTABLE = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


def _signals_to_reset() -> tuple[int, ...]:
    """Signals not at their default here (read in the parent: the child inherits the same)."""
    return tuple(s for s in _RESETTABLE if signal.getsignal(s) is not signal.SIG_DFL)


@dataclass(frozen=True)
class Security:
    """What confines a container's processes, computed once in the parent."""

    caps: int
    last_cap: int
    seccomp: bytes | None  # the packed BPF program, None = unconfined
    no_new_privileges: bool


def security_for(cfg: ContainerConfig | None) -> Security:
    if cfg is None:
        mask = caps_module.compute_capabilities(available=_available_caps())
        return Security(mask, _last_cap(), packed_filter("default", mask), True)
    mask = caps_module.compute_capabilities(
        cfg.cap_add, cfg.cap_drop, privileged=cfg.privileged, available=_available_caps()
    )
    setting = "unconfined" if cfg.privileged else cfg.seccomp
    return Security(mask, _last_cap(), packed_filter(setting, mask), cfg.no_new_privileges)


# --- the child side -----------------------------------------------------------------------------


class _Stage:
    """The step the child is in, reported with an error."""

    name = "start"


def _report_and_exit(err_fd: int, stage: str, exc: BaseException) -> NoReturn:
    try:
        number = exc.errno if isinstance(exc, OSError) else None
        text = exc.message if isinstance(exc, ContainerError) else str(exc)
        payload = {"stage": stage, "errno": number, "message": text}
        os.write(err_fd, json.dumps(payload).encode()[:4000])
    finally:
        os._exit(127)


def _reset_signals(signals: Sequence[int]) -> None:
    # An ignored signal stays ignored across execve (Python ignores SIGPIPE and SIGXFSZ, a
    # supervisor may ignore more): give the container every disposition at its default.
    for signum in signals:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _open_stdio(stdout: str | int, stderr: str | int) -> None:
    fds = [os.open("/dev/null", os.O_RDONLY)]
    for target in (stdout, stderr):
        fds.append(os.open(target, os.O_RDWR) if isinstance(target, str) else os.dup(target))
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
    for fd in fds:
        if fd > 2:
            os.close(fd)


def _join_cgroup(procs_files: Sequence[str]) -> None:
    for name in procs_files:
        with open(name, "w") as handle:
            handle.write("0")  # "0" means the writing process


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


def _switch_user(user: ResolvedUser) -> None:
    os.setgroups(list(user.groups))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)


def _confine(security: Security, user: ResolvedUser, working_dir: str) -> None:
    """Bounding set, user, capabilities, working dir, no_new_privs, seccomp: in that order."""
    caps_module.drop_bounding(security.caps, security.last_cap)
    if security.seccomp is not None and not security.no_new_privileges:
        # Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter: load it while we have it.
        sc.seccomp_set_filter(security.seccomp)
    _switch_user(user)
    caps_module.set_process_capabilities(security.caps, is_root=user.uid == 0)
    os.chdir(working_dir)
    if security.no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        if security.seccomp is not None:
            sc.seccomp_set_filter(security.seccomp)


def _close_fds(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)


def _exec(argv: Sequence[str], env: Mapping[str, str], err_fd: int) -> NoReturn:
    path = find_executable(argv[0], env.get("PATH", DEFAULT_PATH))
    if path is None:
        raise ContainerError(f"exec: {argv[0]!r}: executable file not found in $PATH")
    _close_fds(err_fd)
    os.execve(path, list(argv), dict(env))


def _setup_userns(sync_fd: int, ack_fd: int) -> None:
    """Unshare the user namespace and let the parent write the id maps."""
    sc.unshare(sc.CLONE_NEWUSER)
    os.write(sync_fd, b"u")
    if os.read(ack_fd, 1) != b"k":
        raise ContainerError("the parent could not map the user namespace")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


@dataclass(frozen=True)
class _SpawnArgs:
    cfg: ContainerConfig
    procs_files: tuple[str, ...]
    stdout: str | int
    stderr: str | int
    security: Security
    host_init: str | None
    signals: tuple[int, ...]
    err_fd: int
    sync_fd: int
    ack_fd: int


def _container_child(args: _SpawnArgs, stage: _Stage) -> NoReturn:
    cfg = args.cfg
    stage.name = "setup"
    _reset_signals(args.signals)
    os.setsid()
    stage.name = "cgroup"
    _join_cgroup(args.procs_files)
    stage.name = "stdio"
    _open_stdio(args.stdout, args.stderr)
    if cfg.netns_path:
        stage.name = "netns"
        fd = os.open(cfg.netns_path, os.O_RDONLY | os.O_CLOEXEC)
        sc.setns(fd, sc.CLONE_NEWNET)
        os.close(fd)
    stage.name = "namespaces"
    sc.unshare(sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWCGROUP)
    hostname = cfg.hostname or cfg.service or cfg.name
    _prepare_root(cfg, args, hostname, stage)
    stage.name = "rlimits"
    _apply_rlimits(cfg)
    stage.name = "user"
    user = resolve_user(cfg.user, "/")
    env = container_env(cfg.env, hostname)
    env.setdefault("HOME", user.home)
    if cfg.userns:
        # Last of the namespaces: mounts, hostname and sysctls above needed the host's root.
        stage.name = "userns"
        _setup_userns(args.sync_fd, args.ack_fd)
    stage.name = "security"
    _confine(args.security, user, cfg.working_dir or "/")
    stage.name = "exec"
    argv: list[str] = list(cfg.argv)
    if not argv:
        raise ContainerError("no command given (neither the image nor the service has one)")
    if cfg.init and args.host_init:
        argv = [mounts.INIT_PATH, "--", *argv]
    elif cfg.init:
        _run_builtin_init(argv, env, args.err_fd)
    _exec(argv, env, args.err_fd)


def _prepare_root(cfg: ContainerConfig, args: _SpawnArgs, hostname: str, stage: _Stage) -> None:
    rootfs = os.path.join(cfg.state_dir, "rootfs")
    stage.name = "rootfs"
    mounts.mount_root(cfg, rootfs)
    stage.name = "mounts"
    mounts.mount_kernel_fs(cfg, rootfs)
    for target, source in mounts.write_etc_files(cfg, hostname).items():
        mounts.bind_file(source, rootfs, target)
    stage.name = "volumes"
    for volume in cfg.mounts:
        mounts.mount_volume(volume, rootfs)
    if cfg.init and args.host_init:
        mounts.bind_init(args.host_init, rootfs)
    if cfg.working_dir:
        os.makedirs(mounts.secure_join(rootfs, cfg.working_dir), exist_ok=True)
    stage.name = "pivot_root"
    mounts.pivot(rootfs)
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


def _run_builtin_init(argv: Sequence[str], env: Mapping[str, str], err_fd: int) -> NoReturn:
    child = os.fork()
    if child == 0:
        _exec(argv, env, err_fd)  # an error propagates to this process's own report handler
    os.closerange(3, 1 << 20)  # not even the error pipe: EOF then comes with the command's exec
    initproc.run_init(child)


# --- the parent side ----------------------------------------------------------------------------


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


def _fork_in_pidns(target_pidns_fd: int | None) -> int:
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


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def _child_failure(pid: int, data: bytes, what: str) -> ContainerError:
    os.waitpid(pid, 0)
    try:
        info = json.loads(data)
        stage, message = info.get("stage", "?"), info.get("message", "")
    except ValueError:
        stage, message = "?", data.decode(errors="replace")
    return ContainerError(f"{what} failed at {stage}: {message}")


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


def _close_all(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


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

    def wait(self) -> int:
        """Block until the command was exec'ed; raise :class:`ContainerError` if set-up failed."""
        try:
            if self.sync_r >= 0:
                _map_userns(self.pid, self.cfg, self.sync_r, self.ack_w)
            data = _read_all(self.err_r)
        finally:
            _close_all(self.err_r, self.sync_r, self.ack_w)
        if data:
            raise _child_failure(self.pid, data, f"container {self.cfg.name}")
        return self.pid


def spawn_container(cfg: ContainerConfig, cgroup: CgroupHandle, stdout: str | int, stderr: str | int) -> int:
    """Start the container and return its host PID once its command runs.

    ``stdout``/``stderr`` are the log FIFO paths from
    :func:`composer.kernel.logs.make_log_fifos` (opened O_RDWR by the child), or
    file descriptors to duplicate.  Raises :class:`ContainerError` with the
    failing step when the container cannot start.
    """
    return start_container(cfg, cgroup, stdout, stderr).wait()


def start_container(
    cfg: ContainerConfig, cgroup: CgroupHandle, stdout: str | int, stderr: str | int
) -> PendingContainer:
    """Fork the container and return at once; ``.wait()`` gives its PID (see spawn_container)."""
    _check_config(cfg)
    for folder in ("rootfs", "upper", "work"):
        os.makedirs(os.path.join(cfg.state_dir, folder), exist_ok=True)
    host_init = find_host_init() if cfg.init else None
    security = security_for(cfg)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    sync_r, sync_w, ack_r, ack_w = -1, -1, -1, -1
    if cfg.userns:
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        ack_r, ack_w = os.pipe2(os.O_CLOEXEC)
    args = _SpawnArgs(
        cfg, tuple(cgroup.procs_files()), stdout, stderr, security, host_init, _signals_to_reset(),
        err_w, sync_w, ack_r,
    )  # fmt: skip
    try:
        pid = _fork_in_pidns(None)
    except BaseException:
        _close_all(err_r, err_w, sync_r, sync_w, ack_r, ack_w)
        raise
    if pid == 0:
        stage = _Stage()
        try:
            _container_child(args, stage)
        except BaseException as exc:
            _report_and_exit(err_w, stage.name, exc)
    _close_all(err_w, sync_w, ack_r)  # the child's ends: EOF on err_r must mean the child is done
    return PendingContainer(pid, cfg, err_r, sync_r, ack_w)


# --- exec ---------------------------------------------------------------------------------------


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


def _exec_child(args: _ExecArgs, stage: _Stage, stdio: Callable[[], None]) -> NoReturn:
    stage.name = "setup"
    sc.prctl(sc.PR_SET_DUMPABLE, 0)  # nobody in the container may ptrace or read us while we join
    _reset_signals(args.signals)
    stage.name = "cgroup"
    _join_cgroup(args.procs_files)
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
    _confine(args.security, user, args.working_dir)
    stage.name = "exec"
    _exec(args.argv, env, args.err_fd)


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
        security=security_for(cfg),
        signals=_signals_to_reset(),
        err_fd=err_fd,
    )


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
        child = _fork_in_pidns(pidns)
        if child == 0:
            stage = _Stage()
            try:
                _exec_child(args, stage, stdio)
            except BaseException as exc:
                _report_and_exit(err_w, stage.name, exc)
    except BaseException:
        os.close(err_r)
        raise
    finally:
        _close_all(*opened, err_w)
    return child, err_r


def _finish_start(child: int, err_r: int) -> None:
    try:
        data = _read_all(err_r)
    finally:
        os.close(err_r)
    if data:
        raise _child_failure(child, data, "exec")


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

    Standard streams are the caller's fds 0-2; with ``tty`` a pseudo-terminal of
    the container sits between them (raw mode when stdin is a terminal, window
    size copied).
    """
    options = _ExecOptions(user, working_dir, env, cgroup, cfg)
    if not tty:
        # Same process group as the caller: Ctrl-C at the terminal reaches the command too.
        child, err_r = _start_exec(pid, argv, _keep_stdio, options)
        _finish_start(child, err_r)
        return decode_wait_status(os.waitpid(child, 0)[1])
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


def _keep_stdio() -> None:
    """Non-interactive exec: the caller's fds 0-2 as they are."""


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
) -> tuple[int, bytes]:
    """Run a command non-interactively in the container (healthchecks).

    ``argv`` may be a compose healthcheck test (``CMD``/``CMD-SHELL`` forms).
    Returns (exit code, stdout+stderr up to ``max_output`` bytes).  On timeout the
    command and its process group are killed and the exit code is 137.
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
        child, err_r = _start_exec(pid, health_argv(argv), stdio, options)
    finally:
        os.close(out_w)
    try:
        _finish_start(child, err_r)
        output, status = _collect(child, out_r, time.monotonic() + timeout, max_output)
    finally:
        os.close(out_r)
    return decode_wait_status(status), output


def _collect(child: int, out_r: int, deadline: float, max_output: int) -> tuple[bytes, int]:
    output = bytearray()
    status: int | None = None
    open_pipe = True
    while status is None or open_pipe:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _kill_group(child)
            return bytes(output), os.waitpid(child, 0)[1] if status is None else status
        if open_pipe:
            ready, _, _ = select.select([out_r], [], [], min(remaining, 0.05))
            if ready:
                data = os.read(out_r, 65536)
                open_pipe = bool(data)
                output += data[: max(0, max_output - len(output))]
        else:
            time.sleep(min(remaining, 0.01))
        if status is None:
            done, raw = os.waitpid(child, os.WNOHANG)
            if done:
                status = raw
                # A background process may keep the pipe open: stop once it has nothing more.
                open_pipe = open_pipe and bool(select.select([out_r], [], [], 0)[0])
    return bytes(output), status


def _kill_group(child: int) -> None:
    for target in (-child, child):
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)


# --- stop ---------------------------------------------------------------------------------------


def _wait_exit(pid: int, timeout: float) -> bool:
    """True once ``pid`` has exited (a zombie counts), within ``timeout`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        return bool(ready)
    finally:
        os.close(fd)


def stop_container(
    pid: int,
    cgroup: CgroupHandle,
    signal_number: int,
    grace: float,
    reap: Callable[[float], int | None] | None = None,
) -> None:
    """Send ``signal_number`` to PID 1, wait ``grace`` seconds, then SIGKILL the whole cgroup.

    ``reap(timeout)`` is the caller's waitpid-with-timeout (it owns the child);
    without it the exit is watched through a pidfd and the caller reaps later.
    """
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        cgroup.kill_all(signal.SIGKILL)
        return
    exited = reap(grace) is not None if reap is not None else _wait_exit(pid, grace)
    cgroup.kill_all(signal.SIGKILL)  # stragglers (exec'ed processes) are in the cgroup, maybe not the tree
    if exited:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if reap is not None:
        reap(5.0)
    else:
        _wait_exit(pid, 5.0)
