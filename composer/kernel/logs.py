"""Container logs: FIFOs between the container and the supervisor, JSON-lines files.

Transport
    Each container gets two named pipes in ``fifos/`` of its folder, which only
    root may enter (:func:`make_log_fifos`).  The container's first process opens
    them O_RDWR and makes them its stdout and stderr.  Because the container itself holds a
    read end, a write never fails with SIGPIPE/EPIPE when the supervisor dies; it
    only blocks once the 64 KiB pipe buffer is full, and a new supervisor drains
    it by reopening the same path.  The collector also opens O_RDWR, so the pipe
    never reports end-of-file (no busy loop on POLLHUP between container runs).

Storage
    :class:`LogCollector` appends one JSON object per line, as Docker's json-file
    driver does: ``{"log": "text\\n", "stream": "stdout", "time": "RFC3339Nano"}``.
    A line longer than 16 KiB is cut into several records (the last without its
    newline until it comes).  Files rotate by size: ``log.json`` ->
    ``log.json.1`` -> ... -> ``log.json.<max_files - 1>``.

Reading
    :func:`read_logs` yields :class:`LogLine` from the rotated files then the
    current one, with ``tail`` and ``follow`` (which survives rotation).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import selectors
import stat
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import BinaryIO

from composer.model.container import ContainerFiles

MAX_LINE = 16 * 1024
_READ_CHUNK = 65536
_READS_PER_WAKEUP = 16  # fairness: one chatty container cannot starve the loop


@dataclass(frozen=True)
class LogLine:
    stream: str  # "stdout" or "stderr"
    time: str  # RFC3339 with nanoseconds, UTC
    text: str  # the line, with its newline when it had one
    show_time: bool = False

    def render(self) -> str:
        return f"{self.time} {self.text}" if self.show_time else self.text


def rfc3339_nano(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def make_log_fifos(files: ContainerFiles) -> tuple[str, str]:
    """Create (or keep) the container's two FIFOs (``files.stdout_fifo``, ``files.stderr_fifo``).

    The container's root can change the FIFOs' inodes through ``/proc/1/fd/1``
    (chmod, chown: it holds CAP_FOWNER and CAP_CHOWN, as with Docker), never their
    folder: so the folder is made root's alone (0700) and what the FIFOs' own mode
    says does not matter, nobody else on the host can reach them.
    """
    _private_folder(str(files.fifos))
    paths = []
    for fifo in (files.stdout_fifo, files.stderr_fifo):
        path = str(fifo)
        try:
            os.mkfifo(path, 0o600)
        except FileExistsError:
            if not stat.S_ISFIFO(os.lstat(path).st_mode):
                os.unlink(path)
                os.mkfifo(path, 0o600)
        paths.append(path)
    return paths[0], paths[1]


def _private_folder(path: str) -> None:
    """``path`` a real folder of ours, mode 0700 (made, or repaired when found otherwise)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        os.mkdir(path, 0o700)
        info = os.lstat(path)
    if info.st_uid != os.geteuid() or info.st_gid != os.getegid():
        os.chown(path, os.geteuid(), os.getegid(), follow_symlinks=False)
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


@contextlib.contextmanager
def rotation_lock(log_file: str, *, exclusive: bool) -> Iterator[None]:
    """flock(2) on the log's folder: the writer rotates under it, readers list the files under it."""
    fd = os.open(os.path.dirname(os.path.abspath(log_file)), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


class JsonLogWriter:
    """Appends json-file records to one file, rotating by size; ``discard`` keeps nothing (driver none)."""

    def __init__(
        self, path: str, max_size: int | None = None, max_files: int = 1, *, discard: bool = False
    ) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self.discard = discard
        self._file = open(os.devnull if discard else path, "ab")  # noqa: SIM115 - kept open for the container's life
        self._size = self._file.tell()

    def write(self, stream: str, text: str, time_ns: int | None = None) -> None:
        if self.discard:
            return
        record = {"log": text, "stream": stream, "time": rfc3339_nano(time_ns or time.time_ns())}
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        if self.max_size and self._size and self._size + len(data) > self.max_size:
            self._rotate()
        self._file.write(data)
        self._file.flush()
        self._size += len(data)

    def _rotate(self) -> None:
        self._file.close()
        with rotation_lock(self.path, exclusive=True):  # readers never see the names half shifted
            if self.max_files == 1:
                os.truncate(self.path, 0)
            else:
                for index in range(self.max_files - 1, 0, -1):
                    older = f"{self.path}.{index}"
                    newer = self.path if index == 1 else f"{self.path}.{index - 1}"
                    if os.path.exists(newer):
                        os.replace(newer, older)
            self._file = open(self.path, "ab")  # noqa: SIM115
        self._size = 0

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class LogRotation:
    """One container's log settings: rotate at ``max_size`` bytes keeping ``max_files``; or discard all."""

    max_size: int | None
    max_files: int
    discard: bool = False


@dataclass
class _Source:
    container: str
    stream: str
    fd: int
    writer: JsonLogWriter
    pending: bytes = b""


class LogCollector:
    """Reads container FIFOs from a selectors loop and writes JSON-lines log files.

    Each registered fd carries as selector ``data`` a zero-argument callable that
    reads it: ``for key, _ in sel.select(): key.data()`` works for a loop that
    only serves logs; a loop serving more can call :meth:`on_readable` itself.
    """

    def __init__(
        self,
        selector: selectors.BaseSelector | None = None,
        *,
        max_size: int | None = None,
        max_files: int = 1,
    ) -> None:
        self.selector = selector
        self.max_size = max_size
        self.max_files = max_files
        self._sources: dict[int, _Source] = {}
        self._writers: dict[str, JsonLogWriter] = {}

    def add(
        self,
        container_name: str,
        stream: str,
        fifo_path: str,
        log_file: str,
        rotation: LogRotation | None = None,
    ) -> int:
        """Open ``fifo_path`` non-blocking, register it, and return its fd.

        ``rotation`` is the container's own (its ``logging:``); None keeps the collector's.
        """
        fd = os.open(fifo_path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        return self.add_fd(container_name, stream, fd, log_file, rotation)

    def add_fd(
        self, container_name: str, stream: str, fd: int, log_file: str, rotation: LogRotation | None = None
    ) -> int:
        """Register an fd we already hold (a pseudo-terminal's master); it is ours to close."""
        writer = self._writers.get(log_file)
        if writer is None:
            size, files, discard = (
                (self.max_size, self.max_files, False)
                if rotation is None
                else (rotation.max_size, rotation.max_files, rotation.discard)
            )
            writer = self._writers[log_file] = JsonLogWriter(log_file, size, files, discard=discard)
        self._sources[fd] = _Source(container_name, stream, fd, writer)
        if self.selector is not None:
            self.selector.register(fd, selectors.EVENT_READ, partial(self.on_readable, fd))
        return fd

    def on_readable(self, fd: int) -> int:
        """Read what is available on ``fd`` and write complete lines; return the bytes read."""
        source = self._sources.get(fd)
        if source is None:
            return 0
        total = 0
        for _ in range(_READS_PER_WAKEUP):
            try:
                chunk = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno != errno.EIO:
                    raise
                self._drop(source)  # a terminal whose container side is closed: it never reads again
                break
            if not chunk:
                break
            total += len(chunk)
            self._consume(source, chunk)
        return total

    @staticmethod
    def _consume(source: _Source, chunk: bytes) -> None:
        data = source.pending + chunk
        lines = data.split(b"\n")
        source.pending = lines.pop()
        now = time.time_ns()
        for line in lines:
            source.writer.write(source.stream, line.decode(errors="replace") + "\n", now)
        while len(source.pending) >= MAX_LINE:
            head, source.pending = source.pending[:MAX_LINE], source.pending[MAX_LINE:]
            source.writer.write(source.stream, head.decode(errors="replace"), now)

    def _for(self, container_name: str) -> list[_Source]:
        return [s for s in self._sources.values() if s.container == container_name]

    def drain(self, container_name: str) -> None:
        """Read everything buffered for a container and flush incomplete lines."""
        for source in self._for(container_name):
            while self.on_readable(source.fd):
                pass
            if source.pending:
                source.writer.write(source.stream, source.pending.decode(errors="replace"))
                source.pending = b""

    def _drop(self, source: _Source) -> None:
        if source.pending:
            source.writer.write(source.stream, source.pending.decode(errors="replace"))
            source.pending = b""
        if self.selector is not None:
            self.selector.unregister(source.fd)
        os.close(source.fd)
        del self._sources[source.fd]

    def remove(self, container_name: str) -> None:
        """Drain, unregister and close a container's FIFOs and log file."""
        self.drain(container_name)
        for source in self._for(container_name):
            if self.selector is not None:
                self.selector.unregister(source.fd)
            os.close(source.fd)
            del self._sources[source.fd]
        used = {s.writer.path for s in self._sources.values()}
        for path in [p for p in self._writers if p not in used]:
            self._writers.pop(path).close()

    def close(self) -> None:
        for name in {s.container for s in self._sources.values()}:
            self.remove(name)


# --- reading --------------------------------------------------------------------------------------


def log_files(log_file: str) -> list[str]:
    """The rotated files oldest first, then the current one."""
    rotated = []
    index = 1
    while os.path.exists(f"{log_file}.{index}"):
        rotated.append(f"{log_file}.{index}")
        index += 1
    return [*reversed(rotated), log_file]


def _parse(raw: bytes, timestamps: bool) -> LogLine | None:
    try:
        record = json.loads(raw)
        return LogLine(record["stream"], record["time"], record["log"], timestamps)
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line while the writer is mid-write


def _lines_of(path: str, timestamps: bool) -> Iterator[LogLine]:
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                line = _parse(raw, timestamps)
                if line is not None:
                    yield line
    except FileNotFoundError:
        return


def read_logs(
    log_file: str,
    tail: int | None = None,
    follow: bool = False,
    timestamps: bool = False,
    *,
    until: Callable[[], bool] | None = None,
    poll_interval: float = 0.1,
    on_open: Callable[[], None] | None = None,
) -> Iterator[LogLine]:
    """Yield the lines of a container's log; with ``follow``, keep yielding new ones
    until ``until()`` is true (or forever), across rotations, none lost or repeated.

    ``on_open`` (with ``follow``) is called once what is there now has been read: what the
    container writes from then on is yielded (``attach`` starts passing its input then)."""
    if not follow:
        history: Iterator[LogLine] | deque[LogLine]
        history = (line for path in log_files(log_file) for line in _lines_of(path, timestamps))
        yield from deque(history, maxlen=max(tail, 0)) if tail is not None else history
        return
    # The current file is opened first and read through that handle only: what the history
    # shows of it and what following shows next meet exactly, whatever the writer does meanwhile.
    follower = _Follower(log_file, 0, 0, timestamps)
    try:
        older = [line for path in follower.older_files() for line in _lines_of(path, timestamps)]
        lines = older + follower.read()
        if on_open is not None:
            on_open()
        yield from lines[-tail:] if tail is not None and tail > 0 else ([] if tail == 0 else lines)
        yield from _follow(follower, until, poll_interval)
    finally:
        follower.close()


def _current_end(path: str) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return 0, 0
    return info.st_size, info.st_ino


class _Follower:
    """Follows a rotated log without losing or repeating a line.

    It keeps the file it reads open: after a rotation (``log`` renamed to
    ``log.1``, a new ``log`` opened) the open file is still the old one, which
    is read to its end before moving on, so nothing written before the rotation
    is lost; the next file is the one after it in the rotation chain (found by
    inode), or the oldest one left when it was rotated away meanwhile.  Between
    the rename and the new file's creation the path does not exist: that is
    waited out, never an error.
    """

    def __init__(self, path: str, position: int, inode: int, timestamps: bool) -> None:
        self.path = path
        self.timestamps = timestamps
        self.buffer = b""
        self.handle: BinaryIO | None = None
        self.inode = inode
        self._open_path(position, expected=inode)

    def _open_path(self, position: int, expected: int | None = None) -> None:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open across polls, closed in close()
        except FileNotFoundError:
            return
        inode = os.fstat(handle.fileno()).st_ino
        if expected is not None and expected and inode != expected:
            position = 0  # rotated between the history and now: the new file from its start
        handle.seek(position)
        self.handle, self.inode = handle, inode

    def read(self) -> list[LogLine]:
        """What was appended since the last call (rotations followed)."""
        lines: list[LogLine] = []
        while True:
            lines += self._drain()
            if self.handle is None:
                self._open_path(0)
                if self.handle is None:
                    return lines
                continue
            size, inode = _current_end(self.path)
            if inode == self.inode:
                if size < self.handle.tell():  # truncated in place (max_files: 1)
                    self.handle.seek(0)
                    self.buffer = b""
                    continue
                return lines
            if inode == 0:
                return lines  # renamed, the new file not created yet: next time
            lines += self._drain()  # the rotated file is final now: read its end
            self._advance()

    def older_files(self) -> list[str]:
        """The rotated files older than the one open now, oldest first."""
        with rotation_lock(self.path, exclusive=False):
            chain = _chain(self.path)
        inodes = [inode for _, inode in chain]
        older = chain[: inodes.index(self.inode)] if self.inode in inodes else chain[:-1]
        return [path for path, _ in older]

    def _drain(self) -> list[LogLine]:
        if self.handle is None:
            return []
        data = self.handle.read()
        if not data:
            return []
        *complete, self.buffer = (self.buffer + data).split(b"\n")
        return [line for line in (_parse(raw, self.timestamps) for raw in complete) if line is not None]

    def _advance(self) -> None:
        """Move from the drained file to the next one of the chain (listed while no rotation runs)."""
        assert self.handle is not None
        self.handle.close()
        self.handle, self.buffer = None, b""
        with rotation_lock(self.path, exclusive=False):
            chain = _chain(self.path)  # (path, inode), oldest first
            inodes = [inode for _, inode in chain]
            after = inodes.index(self.inode) + 1 if self.inode in inodes else 0
            if after < len(chain):
                self.handle = open(chain[after][0], "rb")  # noqa: SIM115
                self.inode = chain[after][1]

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _chain(path: str) -> list[tuple[str, int]]:
    """(file, inode) of the rotation chain, oldest first (call it under the rotation lock)."""
    chain = [(name, _current_end(name)[1]) for name in log_files(path)]
    return [(name, inode) for name, inode in chain if inode]


def _follow(follower: _Follower, until: Callable[[], bool] | None, poll_interval: float) -> Iterator[LogLine]:
    while True:
        # Ask first, then look: a writer done before the question is fully seen below.
        done = until is not None and until()
        lines = follower.read()
        yield from lines
        if lines:
            continue
        if done:
            return
        time.sleep(poll_interval)
