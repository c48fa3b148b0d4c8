"""A project's user namespace without root: the keeper that holds it, and entering it.

The keeper is PID 1 of a pid namespace that lives in a user namespace of its
own, with a mount and a network namespace owned by that user namespace::

    caller (uid U)  --fork-->  K0: unshare(USER); parent maps ids (newuidmap/newgidmap)
                                   unshare(MNT|NET|PID); mounts slave
                               --fork-->  K1 = PID 1: its own /proc, lo up,
                                          exec a tiny reaper; K0 exits

Why a pid namespace too: the supervisor forks each container into a new pid
namespace and then returns to its own with setns(2), which needs
CAP_SYS_ADMIN over the namespace it returns to; inside a user namespace that is
only true of a pid namespace that user namespace owns.  It also makes the
keeper a kill switch: when PID 1 dies the kernel kills everything in the
project (supervisor, containers), so nothing of a project outlives it.

A command enters with :func:`enter`: a child joins the keeper's user, mount,
network and pid namespaces and forks the process that runs the command (a
process cannot change its own pid namespace, only its children's); the caller
stays on the host, where it can start pasta for the project (see
:mod:`composer.engine.hosts.rootless`), and exits with the command's status.

Runs before any worker thread exists; every fork here is followed by an exec or
by code that makes no thread-unsafe call.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from composer.errors import HostError
from composer.kernel import syscalls as sc
from composer.model.rootless import USERNS_SYSCTLS, IdMapping

# PID 1 of the project's pid namespace: reap every orphan (the supervisor is one), forever.
# Signals from inside the namespace cannot kill it (init ignores unhandled ones); SIGKILL from
# outside ends it, and with it every process of the project.
KEEPER_CODE = """
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    signal.sigtimedwait([signal.SIGCHLD], 60)
"""

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_NS_FLAGS = sc.CLONE_NEWNS | sc.CLONE_NEWNET | sc.CLONE_NEWPID
_JOIN_ORDER = (("user", sc.CLONE_NEWUSER), ("mnt", sc.CLONE_NEWNS), ("net", sc.CLONE_NEWNET),
               ("pid", sc.CLONE_NEWPID))  # fmt: skip
_helper: list[int] = []  # inside: the socket to the outside process (never inherited by children)


def read_userns_sysctls(proc_sys: Path = Path("/proc/sys")) -> dict[str, str | None]:
    """The knobs that may forbid unprivileged user namespaces (None: this kernel has no such knob)."""
    values: dict[str, str | None] = {}
    for key in USERNS_SYSCTLS:
        try:
            values[key] = (proc_sys / key).read_text().strip()
        except OSError:
            values[key] = None
    return values


def helpers_available() -> bool:
    return shutil.which("newuidmap") is not None and shutil.which("newgidmap") is not None


def in_user_namespace(uid_map: Path = Path("/proc/self/uid_map")) -> bool:
    """True inside a user namespace other than the initial one (its map is not the identity)."""
    try:
        fields = uid_map.read_text().split()
    except OSError:
        return False
    return fields != ["0", "0", "4294967295"]


def create_keeper(mapping: IdMapping, *, network: bool = True) -> int:
    """Make the project's namespaces and their keeper; return the keeper's PID (as the host sees it).

    ``network`` false: keep the host's network namespace (image verbs reach registries directly).
    """
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    ack_r, ack_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # K0
        try:
            os.close(report_r)
            os.close(ack_w)
            _keeper_parent(report_w, ack_r, _NS_FLAGS if network else _NS_FLAGS & ~sc.CLONE_NEWNET)
        finally:
            os._exit(1)
    os.close(report_w)
    os.close(ack_r)
    try:
        if os.read(report_r, 1) != b"u":
            raise HostError("could not create a user namespace (unshare(CLONE_NEWUSER) failed)")
        try:
            write_id_maps(pid, mapping)
        except HostError:
            os.kill(pid, signal.SIGKILL)
            raise
        os.write(ack_w, b"k")
        report = _read_to_end(report_r)  # K0's line with K1's PID; then K1's exec (CLOEXEC) ends it
    finally:
        os.close(report_r)
        os.close(ack_w)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    lines = report.splitlines()
    if len(lines) != 1 or not lines[0].isdigit():
        if lines and lines[0].isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(lines[0]), signal.SIGKILL)
        reason = "; ".join(line for line in lines if not line.isdigit()) or "no reason given"
        raise HostError(f"the project's namespaces could not be made: {reason}")
    return int(lines[0])


def _keeper_parent(report_w: int, ack_r: int, flags: int) -> None:
    """K0: the user namespace, then (mapped) the other namespaces and their PID 1."""
    try:
        sc.unshare(sc.CLONE_NEWUSER)
    except OSError:
        os._exit(1)
    os.write(report_w, b"u")
    if os.read(ack_r, 1) != b"k":
        os._exit(1)
    try:
        sc.unshare(flags)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)  # the host's mounts show; ours stay ours
        child = os.fork()
    except OSError as exc:
        os.write(report_w, f"{exc.strerror}\n".encode())
        os._exit(1)
    if child == 0:
        _keeper_init(report_w, own_network=bool(flags & sc.CLONE_NEWNET))
    os.write(report_w, f"{child}\n".encode())
    os._exit(0)


def _keeper_init(report_w: int, *, own_network: bool) -> None:
    """K1, PID 1: the project's own /proc, loopback up, then exec the reaper."""
    try:
        flags = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
        sc.mount("proc", "/proc", "proc", flags)
        if own_network:
            loopback_up()
        os.setsid()
        os.chdir("/")
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 1 << 16)
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", KEEPER_CODE])
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.write(report_w, f"{exc.strerror}: {exc.filename or ''}\n".encode())
    os._exit(1)


def loopback_up() -> None:
    """``ip link set lo up`` with one ioctl (a fresh network namespace has lo down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh14s", b"lo", 0, b"")
        flags = struct.unpack("16sh14s", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh14s", b"lo", flags | _IFF_UP, b""))


def write_id_maps(pid: int, mapping: IdMapping) -> None:
    """Map the ids of ``pid``'s new user namespace: the setuid helpers, or only ourselves."""
    if mapping.single:
        proc = Path(f"/proc/{pid}")
        try:
            (proc / "setgroups").write_text("deny")  # the kernel's condition for an unprivileged gid_map
            (proc / "uid_map").write_text(mapping.uid_map_text())
            (proc / "gid_map").write_text(mapping.gid_map_text())
        except OSError as exc:
            raise HostError(f"cannot write the id maps of process {pid}: {exc.strerror}") from exc
        return
    for argv in (mapping.uid_argv(pid), mapping.gid_argv(pid)):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise HostError(
                f"{argv[0]} failed: {done.stderr.strip() or done.returncode}",
                hint="check your lines in /etc/subuid and /etc/subgid (and that uidmap is installed)",
            )


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot), None when it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()  # the command name may hold spaces
    return None if fields[0] == b"Z" else int(fields[19])


def keeper_alive(pid: int, started: int) -> bool:
    return pid > 0 and start_time(pid) == started


def kill_keeper(pid: int, started: int) -> None:
    """SIGKILL the keeper: the kernel then kills every process of the project's pid namespace."""
    if keeper_alive(pid, started):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def enter(keeper: int, serve: Callable[[socket.socket], None]) -> int | None:
    """Run the rest of this command inside the keeper's namespaces.

    Returns None in the process that is inside (it goes on with the command) and
    the command's exit status in the caller, which meanwhile answers the inside's
    requests on a socket with ``serve``.
    """
    namespaces = [(os.open(f"/proc/{keeper}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag)
                  for name, flag in _JOIN_ORDER if not _shared(keeper, name)]  # fmt: skip
    outside, inside = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    cwd = os.getcwd()
    child = os.fork()
    if child == 0:
        outside.close()
        if _join(namespaces, cwd) == 0:  # C2: the command goes on, in there
            _helper.append(inside.detach())
            return None
    for fd, _ in namespaces:
        os.close(fd)
    inside.close()
    return _serve_until_exit(child, outside, serve)


def helper_socket() -> int | None:
    """Inside a rootless command: the descriptor of its channel to the outside, else None."""
    return _helper[0] if _helper else None


def _shared(keeper: int, name: str) -> bool:
    """The keeper is in our own namespace of this kind (the image verbs' keeps the host's network)."""
    return os.stat(f"/proc/{keeper}/ns/{name}").st_ino == os.stat(f"/proc/self/ns/{name}").st_ino


def _join(namespaces: list[tuple[int, int]], cwd: str) -> int:
    """C1: join the namespaces and fork C2 (in the project's pid namespace); wait for it."""
    try:
        for fd, flag in namespaces:
            sc.setns(fd, flag)
            os.close(fd)
        os.chdir(cwd)  # joining a mount namespace moves to its root
        grandchild = os.fork()
    except OSError as exc:
        sys.stderr.write(f"error: cannot enter the project's namespaces: {exc.strerror}\n")
        os._exit(1)
    if grandchild == 0:
        return 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the command's to handle
    os._exit(_wait_status(grandchild))


def _serve_until_exit(child: int, channel: socket.socket, serve: Callable[[socket.socket], None]) -> int:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    pidfd = os.pidfd_open(child)
    try:
        open_channel = True
        while True:
            watched: list[int | socket.socket] = [pidfd, channel] if open_channel else [pidfd]
            ready, _, _ = select.select(watched, [], [])
            if channel in ready:
                try:
                    serve(channel)
                except EOFError:
                    open_channel = False
            if pidfd in ready and channel not in ready:
                return _wait_status(child)
    finally:
        os.close(pidfd)
        channel.close()
        signal.signal(signal.SIGINT, previous)


def _wait_status(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _read_to_end(fd: int) -> str:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data.decode(errors="replace")


def replace_with(argv: list[str]) -> None:
    """exec ``argv`` in this process (``composer unshare``); raise HostError when it cannot run."""
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        raise HostError(f"{argv[0]}: {exc.strerror}") from exc
