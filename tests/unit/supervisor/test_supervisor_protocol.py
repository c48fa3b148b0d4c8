"""The supervisor's messages: every request and reply survives its encoding; bad lines are refused."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

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
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    socket_address,
)

REQUESTS: list[Request] = [
    Ping(),
    Start("demo-web-1"),
    Stop("demo-web-1"),
    Stop("demo-web-1", signal=15, timeout=2.5),
    Kill("demo-web-1", 9),
    Forget("demo-web-1"),
    Shutdown(),
    Shutdown(force=True),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=repr)
def test_requests_round_trip(request_: Request) -> None:
    line = encode_request(request_)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_request(line) == request_


@pytest.mark.parametrize(
    "reply",
    [
        Reply(),
        Reply(pid=4242, already=True),
        Reply(exit_code=0),  # a zero exit code is a value, not an absent field
        Reply(ok=False, containers=("a", "b")),
        Reply.failed("container x is not running"),
    ],
    ids=repr,
)
def test_replies_round_trip(reply: Reply) -> None:
    assert decode_reply(encode_reply(reply)) == reply


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"", "not JSON"),
        (b"[1]\n", "not a JSON object"),
        (b'{"op": "reboot"}\n', "unknown request 'reboot'"),
        (b'{"name": "x"}\n', "unknown request None"),
        (b'{"op": "start"}\n', "bad start request"),
        (b'{"op": "start", "name": "x", "extra": 1}\n', "bad start request"),
        (b'{"op": "kill", "name": "x", "signal": "KILL"}\n', "signal must be int"),
        (b'{"op": "kill", "name": "x", "signal": true}\n', "signal must be int"),
        (b'{"op": "stop", "name": 3}\n', "name must be str"),
        (b'{"op": "shutdown", "force": 1}\n', "force must be bool"),
    ],
)
def test_bad_requests_are_refused(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(")):
        decode_request(line)


def test_a_reply_with_a_wrong_type_is_refused() -> None:
    with pytest.raises(ProtocolError):
        decode_reply(b'{"ok": true, "pid": "12"}\n')


def test_a_socket_in_a_folder_too_deep_for_sun_path_is_still_reachable(tmp_path: Path) -> None:
    """A real unix socket: bound and connected through the short address, whatever the depth."""
    folder = tmp_path / ("d" * 60) / ("e" * 60)
    folder.mkdir(parents=True)
    assert len(str(folder / SOCKET_NAME)) > 108  # too long for sockaddr_un as a plain path
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket_address(folder) as address:
            server.bind(address)
        server.listen(1)
        assert (folder / SOCKET_NAME).exists()  # the socket is in the folder itself
        with socket_address(folder) as address:
            client.connect(address)
        peer, _ = server.accept()
        client.sendall(b"ping\n")
        assert peer.recv(5) == b"ping\n"
        peer.close()
    finally:
        client.close()
        server.close()


def test_a_short_path_is_used_as_it_is(tmp_path: Path) -> None:
    with socket_address(tmp_path) as address:
        assert address == str(tmp_path / SOCKET_NAME)
