"""Persistent network namespaces at paths composer chooses, and entering them.

A network namespace outlives its processes when ``/proc/<tid>/ns/net`` is
bind-mounted onto a file (what ``ip netns add`` does under ``/run/netns``); composer
puts that file under its own state root so cleanup finds it there.

Python 3.11 has no ``os.unshare``/``os.setns``: both come from :mod:`composer.kernel.syscalls`.
The network namespace is a *per-thread* attribute: :func:`in_netns` switches only the
calling thread and always switches back, which lets one process talk to many
namespaces without forking.  Two facts make that cheap:

* a netlink socket stays bound to the namespace it was created in, so
  :func:`netns_iproute` creates an ``IPRoute`` inside the namespace and returns it
  usable from anywhere (pyroute2's own ``netns=`` forks a helper per socket);
* ``/proc/sys/net`` resolves against the calling thread's namespace, so sysctls of
  a namespace are written after entering it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections.abc import Iterator
from fcntl import ioctl
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyroute2 import IPRoute

from composer.errors import HostError
from composer.kernel import syscalls
from composer.kernel.syscalls import CLONE_NEWNET

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_NS_GET_NSTYPE = 0xB703
_IFF_UP = 0x1
_THREAD_NETNS = "/proc/thread-self/ns/net"


def _setns(fd: int) -> None:
    try:
        syscalls.setns(fd, CLONE_NEWNET)
    except OSError as exc:
        raise HostError("setns(CLONE_NEWNET)", errno=exc.errno) from exc


def is_netns_mount(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a bind-mounted network namespace (an nsfs file)."""
    try:
        with open(path, "rb") as handle:
            # NS_GET_NSTYPE answers only on nsfs files; any other file gives ENOTTY.
            kind = ioctl(handle.fileno(), _NS_GET_NSTYPE)
    except OSError:
        return False
    return kind == CLONE_NEWNET


@contextlib.contextmanager
def in_netns(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Run the body with the calling thread inside the netns at ``path`` (None: stay)."""
    if path is None:
        yield
        return
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise HostError(f"cannot open network namespace {path}", errno=exc.errno) from exc
    original = os.open(_THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield
        finally:
            # Failing to come back would leave this thread in a container's network:
            # nothing sensible can continue, so let that error propagate.
            _setns(original)
    finally:
        os.close(target)
        os.close(original)


def _loopback_up() -> None:
    # One ioctl instead of a netlink socket: this runs once per namespace.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def create_netns(path: str | os.PathLike[str]) -> None:
    """Create a network namespace kept alive by a bind mount on ``path``; loopback up.

    Idempotent: an existing namespace at ``path`` is left as it is.
    """
    target = Path(path)
    if is_netns_mount(target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o444, exist_ok=True)
    original = os.open(_THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
    mounted = False
    try:
        syscalls.unshare(CLONE_NEWNET)
        try:
            syscalls.mount(_THREAD_NETNS, str(target), None, syscalls.MS_BIND)
            mounted = True
            _loopback_up()
        finally:
            _setns(original)
    except BaseException as exc:
        # Undo right here: a half-made namespace file would confuse the next run.
        if mounted:
            syscalls.umount2(str(target), syscalls.MNT_DETACH)
        target.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise HostError(f"cannot create network namespace {target}", errno=exc.errno) from exc
        raise
    finally:
        os.close(original)


def delete_netns(path: str | os.PathLike[str]) -> None:
    """Unmount and remove the namespace file; nothing happens when it is already gone."""
    target = Path(path)
    try:
        syscalls.umount2(str(target), syscalls.MNT_DETACH)
    except OSError as exc:
        # EINVAL: not a mount point (never mounted or already unmounted); ENOENT: no file.
        if exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise HostError(f"cannot unmount network namespace {target}", errno=exc.errno) from exc
    target.unlink(missing_ok=True)


def netns_iproute(path: str | os.PathLike[str] | None) -> IPRoute:
    """An ``IPRoute`` whose socket lives in the netns at ``path`` (None: the current one)."""
    from pyroute2 import IPRoute  # imported on first use: a netns with only loopback never needs it

    with in_netns(path):
        return IPRoute()


def _sysctl_file(key: str) -> Path:
    # "net.ipv4.ip_forward" or "net/ipv4/ip_forward"; interface names with dots
    # need the slash form, as with sysctl(8).
    relative = key if "/" in key else key.replace(".", "/")
    if not relative.startswith("net/"):
        raise HostError(f"refusing sysctl {key!r}: only net.* keys belong to a network namespace")
    return Path("/proc/sys") / relative


def set_sysctl(netns_path: str | os.PathLike[str] | None, key: str, value: str) -> None:
    """Write a ``net.*`` sysctl inside the netns at ``netns_path`` (None: the current one)."""
    target = _sysctl_file(key)
    with in_netns(netns_path):
        try:
            target.write_text(f"{value}\n")
        except OSError as exc:
            raise HostError(f"cannot set sysctl {key}={value}", errno=exc.errno) from exc


def get_sysctl(netns_path: str | os.PathLike[str] | None, key: str) -> str:
    """Read a ``net.*`` sysctl inside the netns at ``netns_path`` (None: the current one)."""
    target = _sysctl_file(key)
    with in_netns(netns_path):
        try:
            return target.read_text().strip()
        except OSError as exc:
            raise HostError(f"cannot read sysctl {key}", errno=exc.errno) from exc
