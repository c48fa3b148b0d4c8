"""``composer cp``: files between a running container and the host, as a tar stream.

The container's side of every copy runs in a forked child that has chrooted
into the container's root (``/proc/PID/root``): there, an absolute symlink in
the container resolves inside the container, never onto the host's files (the
classic ``docker cp`` escape).  The two sides talk through a pipe carrying a
tar stream; the host's side reads or writes host paths only, and extracts with
tarfile's ``tar`` filter (no absolute names, no ``..``, nothing written through
a link out of the destination).

Paths follow ``docker cp``: a file copied to a folder lands in it; to a path
that does not exist, takes that name (its folder must exist); to a symlink,
replaces what the link points at (resolved on its own side); a folder copied
to an existing folder goes inside it, or only its contents with ``SRC/.``.
Without ``-a`` what is copied belongs to root (uid 0) on arrival; with it, the
source's owners are kept.  ``-L`` follows the source when it is a symlink.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from composer.errors import HostError


@dataclass(frozen=True)
class CopyOptions:
    archive: bool = False  # -a: keep uid/gid
    follow_link: bool = False  # -L


@dataclass(frozen=True)
class Placement:
    """Where a copied tree lands: extracted in ``folder``, its top entry renamed ``name``."""

    folder: str
    name: str | None  # None: the entries keep their names (into an existing folder, or SRC/.)


def source_name(src: str) -> tuple[str, bool]:
    """The top entry's name in the stream, and whether only a folder's contents go (``SRC/.``)."""
    contents = src.endswith("/.") or src == "."
    clean = posixpath.normpath(src)
    return (posixpath.basename(clean) or "/", contents)


def placement(dest: str, src_is_dir: bool, contents: bool, *, exists: bool, is_dir: bool) -> Placement:
    """``docker cp``'s rules for the destination.  Pure: the caller looks at the destination."""
    if exists and is_dir:
        return Placement(dest, None)
    if exists and src_is_dir:
        raise HostError(f"cannot copy a folder onto the file {dest}", errno=errno.ENOTDIR)
    if dest.endswith("/") and not exists:
        raise HostError(f"the folder {dest} does not exist", errno=errno.ENOENT)
    parent, name = posixpath.split(posixpath.normpath(dest))
    if contents and not exists:
        return Placement(dest, None)  # made, then filled with the contents
    return Placement(parent or ".", name)


# -- streams ------------------------------------------------------------------------------------


def write_tree(out: IO[bytes], src: str, options: CopyOptions) -> None:
    """A tar stream of ``src`` (top entry named as ``source_name`` says) onto ``out``."""
    name, contents = source_name(src)
    path = os.path.realpath(src) if options.follow_link else src.rstrip("/") or "/"
    if not os.path.lexists(path):
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", src)
    with tarfile.open(fileobj=out, mode="w|") as tar:
        if contents:
            for entry in sorted(os.listdir(path)):
                tar.add(os.path.join(path, entry), arcname=entry)
        else:
            tar.add(path, arcname=name)


def read_tree(source: IO[bytes], place: Placement, options: CopyOptions) -> None:
    """Extract a tar stream as ``place`` says (the folder made when it is the SRC/. case)."""
    os.makedirs(place.folder, exist_ok=True)
    with tarfile.open(fileobj=source, mode="r|") as tar:
        for member in _renamed(tar, place.name, options):
            tar.extract(member, place.folder, filter="tar", set_attrs=True, numeric_owner=True)


def _renamed(tar: tarfile.TarFile, name: str | None, options: CopyOptions) -> Iterator[tarfile.TarInfo]:
    top: str | None = None
    for member in tar:
        if top is None:
            top = member.name.split("/")[0]
        if name is not None and (member.name == top or member.name.startswith(top + "/")):
            member.name = name + member.name[len(top) :]
        if not options.archive:
            member.uid = member.gid = 0
            member.uname = member.gname = ""
        yield member


# -- the two directions -------------------------------------------------------------------------


def copy_out(pid: int, src: str, dest: str, options: CopyOptions, stdout: IO[bytes] | None = None) -> None:
    """Container ``src`` -> host ``dest`` (``-``: the tar stream to ``stdout``)."""
    reader, writer = os.pipe()
    child = _in_container(pid, lambda: _stream_out(writer, src, options), close_in_child=reader)
    os.close(writer)
    try:
        with os.fdopen(reader, "rb") as stream:
            if dest == "-":
                assert stdout is not None
                _pump(stream, stdout)
            else:
                _extract_on_host(_Peek(stream), src, dest, options)
    except BaseException:
        _reap(child, src, quiet=True)  # its failure is the consequence of ours
        raise
    _reap(child, src)


def _extract_on_host(head: _Peek, src: str, dest: str, options: CopyOptions) -> None:
    if head.empty():
        return  # the child failed before writing: its message is the error
    _, contents = source_name(src)
    dest = _through_link(dest)
    exists, is_dir = os.path.exists(dest), os.path.isdir(dest)
    read_tree(head, placement(dest, head.first_is_dir(), contents, exists=exists, is_dir=is_dir), options)  # type: ignore[arg-type]


def copy_in(pid: int, src: str, dest: str, options: CopyOptions, stdin: IO[bytes] | None = None) -> None:
    """Host ``src`` (``-``: a tar stream on ``stdin``) -> container ``dest``."""
    if src != "-" and not os.path.lexists(src):
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", src)
    reader, writer = os.pipe()
    src_is_dir = src == "-" or os.path.isdir(os.path.realpath(src) if options.follow_link else src)
    _, contents = source_name(src) if src != "-" else ("", True)
    work = lambda: _stream_in(reader, dest, src_is_dir, contents, options)  # noqa: E731
    child = _in_container(pid, work, close_in_child=writer)
    os.close(reader)
    try:
        with os.fdopen(writer, "wb") as out:
            if src == "-":
                assert stdin is not None
                _pump(stdin, out)
            else:
                write_tree(out, src, options)
    except BrokenPipeError:
        pass  # the child stopped reading: its message is the error
    _reap(child, dest)


def _stream_out(fd: int, src: str, options: CopyOptions) -> None:
    with os.fdopen(fd, "wb") as out:
        write_tree(out, src, options)


def _stream_in(fd: int, dest: str, src_is_dir: bool, contents: bool, options: CopyOptions) -> None:
    dest = _through_link(dest)  # chrooted: the link resolves in the container
    place = placement(dest, src_is_dir, contents, exists=os.path.exists(dest), is_dir=os.path.isdir(dest))
    with os.fdopen(fd, "rb") as source:
        read_tree(source, place, options)


# -- the child in the container's root ----------------------------------------------------------


def _in_container(pid: int, work: Callable[[], None], *, close_in_child: int) -> tuple[int, int]:
    """Fork a child chrooted into the container's root to run ``work``; (pid, fd of its error pipe)."""
    root = f"/proc/{pid}/root"
    if not os.path.isdir(root):
        raise HostError(f"process {pid} is gone: the container is not running", errno=errno.ESRCH)
    errors_r, errors_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is checked through its pipe and status
        code = 0
        try:
            os.close(errors_r)
            os.close(close_in_child)  # the parent's end: EOF and EPIPE must reach the other side
            os.chroot(root)
            os.chdir("/")
            work()
        except BaseException as error:  # every failure becomes the parent's message
            with contextlib.suppress(OSError):
                os.write(errors_w, _describe(error).encode()[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(errors_w)
    return child, errors_r


def _reap(child: tuple[int, int], path: str, *, quiet: bool = False) -> None:
    pid, errors = child
    with os.fdopen(errors, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 and not quiet:
        raise HostError(f"cp {path}: {message or 'failed in the container'}", errno=errno.EIO)


def _through_link(dest: str) -> str:
    """A destination that is a symlink means what it points at, as with docker cp."""
    return os.path.realpath(dest) if os.path.islink(dest) else dest


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    if isinstance(error, HostError):
        return error.message
    return f"{type(error).__name__}: {error}"


def _pump(source: IO[bytes], out: IO[bytes]) -> None:
    while chunk := source.read(65536):
        out.write(chunk)
    out.flush()


class _Peek:
    """A stream whose first tar header can be looked at before extraction reads it again."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.head = b""
        while len(self.head) < 512:
            chunk = stream.read(512 - len(self.head))
            if not chunk:
                break
            self.head += chunk

    def empty(self) -> bool:
        return len(self.head) < 512 or self.head == b"\0" * 512

    def first_is_dir(self) -> bool:
        return not self.empty() and self.head[156:157] == tarfile.DIRTYPE

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0:
                data, self.head = self.head + self.stream.read(), b""
                return data
            data, self.head = self.head[:size], self.head[size:]
            if len(data) < size:
                data += self.stream.read(size - len(data))
            return data
        return self.stream.read(size)
