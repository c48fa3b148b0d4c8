"""The messages between composer commands and a project's supervisor.

One request per connection, one JSON object per line each way, over the Unix
socket ``supervisor.sock`` in the project's folder.  Both sides use the types
below; nobody builds or reads the JSON by hand:

================  ==============================================  ===========================
request           what the supervisor does                        answer fields besides ``ok``
================  ==============================================  ===========================
``Ping``          nothing: proves it is there                     ``pid``, ``containers``
``Start``         forks the container, answers once it runs       ``pid``, ``already``
``Stop``          stop signal, grace, SIGKILL; answers at exit    ``exit_code``, ``already``
``Kill``          sends one signal to PID 1                       ``error`` when not running
``Forget``        stops watching a removed container              (none)
``Shutdown``      exits, unless containers run and not ``force``  ``containers``
================  ==============================================  ===========================

A malformed line is a :class:`ProtocolError`; the supervisor answers it with
``ok: false`` and keeps serving.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

SOCKET_NAME = "supervisor.sock"
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes with its NUL


@contextlib.contextmanager
def socket_address(folder: os.PathLike[str] | str) -> Iterator[str]:
    """The address of the project's socket in ``folder``, short enough for ``bind``/``connect``.

    A state root deep in the file system makes the path longer than a unix socket
    address may be; then the folder is reached through an ``O_PATH`` descriptor
    (``/proc/self/fd/N/supervisor.sock``), open while the caller binds or connects.
    """
    path = os.path.join(os.fspath(folder), SOCKET_NAME)
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield path
        return
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{SOCKET_NAME}"
    finally:
        os.close(fd)


class ProtocolError(ValueError):
    """A line that is no request (or no reply) of this protocol."""


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Start:
    name: str
    # tty: true: the reply passes the terminal's master to the caller instead of logging it (run -t)
    terminal: bool = False
    rows: int = 0  # its window size (0: unknown), set before the command runs
    columns: int = 0


@dataclass(frozen=True, slots=True)
class Stop:
    name: str
    signal: int = 0  # 0: the container's own stop signal
    timeout: float = -1.0  # below 0: the container's own stop_grace_period


@dataclass(frozen=True, slots=True)
class Kill:
    name: str
    signal: int = int(signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class Forget:
    name: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    force: bool = False


Request = Ping | Start | Stop | Kill | Forget | Shutdown

_OPS: dict[str, type[Request]] = {
    "ping": Ping,
    "start": Start,
    "stop": Stop,
    "kill": Kill,
    "forget": Forget,
    "shutdown": Shutdown,
}
_OP_OF: dict[type[Request], str] = {kind: op for op, kind in _OPS.items()}


@dataclass(frozen=True, slots=True)
class Reply:
    """The one answer to a request: ``ok`` and whichever fields that request answers with."""

    ok: bool = True
    error: str = ""
    pid: int | None = None
    exit_code: int | None = None
    already: bool = False
    containers: tuple[str, ...] = field(default_factory=tuple)
    build: str = ""  # a ping's answer: the supervisor's build_id() ("" from one older than that)

    @classmethod
    def failed(cls, error: str) -> Reply:
        return cls(ok=False, error=error)


def send_line(sock: socket.socket, data: bytes, fds: tuple[int, ...] = ()) -> None:
    """Send an encoded request or reply, with ``fds`` passed along (SCM_RIGHTS) when there are any."""
    if fds:
        data = data[socket.send_fds(sock, [data], list(fds)) :]
    sock.sendall(data)


def read_line(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One request or reply line, and the fds passed with it (a Start's stdin, a terminal's master)."""
    data = b""
    fds: list[int] = []
    while not data.endswith(b"\n"):
        chunk, passed, _flags, _address = socket.recv_fds(sock, 65536, 4)
        fds += passed
        if not chunk:
            break
        data += chunk
    return data, fds


def encode_request(request: Request) -> bytes:
    return _line({"op": _OP_OF[type(request)], **asdict(request)})


def decode_request(line: bytes | str) -> Request:
    """The request on ``line``; ProtocolError for an unknown op or fields of the wrong type."""
    data = _object(line)
    op = data.pop("op", None)
    kind = _OPS.get(op) if isinstance(op, str) else None
    if kind is None:
        raise ProtocolError(f"unknown request {op!r}")
    try:
        request = kind(**data)
    except TypeError as error:
        raise ProtocolError(f"bad {op} request: {error}") from error
    _check_types(request)
    return request


@functools.cache
def build_id() -> str:
    """What a supervisor must share with the command that talks to it: composer's version and the
    shape of the container description it reads (every dataclass of ``composer.model.container``,
    field by field, with the types as written).

    A supervisor left running by an older composer cannot read what a newer one writes; the client
    compares this and replaces such a supervisor (the containers keep running and are adopted).
    """
    from composer import __version__
    from composer.model import container

    shapes = sorted(
        f"{kind.__name__}({';'.join(f'{f.name}:{f.type}' for f in dataclasses.fields(kind))})"
        for kind in vars(container).values()
        if isinstance(kind, type) and dataclasses.is_dataclass(kind) and kind.__module__ == container.__name__
    )
    digest = hashlib.sha256("|".join([__version__, *shapes]).encode()).hexdigest()
    return digest[:16]


def encode_reply(reply: Reply) -> bytes:
    fields = asdict(reply)
    fields["containers"] = list(reply.containers)
    return _line(fields)


def decode_reply(line: bytes | str) -> Reply:
    data = _object(line)
    try:
        return Reply(
            ok=bool(data.get("ok", False)),
            error=str(data.get("error", "")),
            pid=_optional_int(data.get("pid")),
            exit_code=_optional_int(data.get("exit_code")),
            already=bool(data.get("already", False)),
            containers=tuple(str(name) for name in data.get("containers", ())),
            build=str(data.get("build", "")),
        )
    except (TypeError, ValueError) as error:
        raise ProtocolError(f"bad reply: {error}") from error


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _object(line: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except ValueError as error:
        raise ProtocolError(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    return data


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "signal": (int,),
    "timeout": (int, float),
    "force": (bool,),
    "terminal": (bool,),
    "rows": (int,),
    "columns": (int,),
}


def _check_types(request: Request) -> None:
    for key, value in asdict(request).items():
        allowed = _FIELD_TYPES[key]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ProtocolError(f"{key} must be {' or '.join(t.__name__ for t in allowed)}, got {value!r}")


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value
