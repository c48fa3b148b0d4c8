"""A supervisor left running by another composer build is replaced, not talked to.

Real processes and sockets: an impostor answers on the project's socket as a supervisor of an
older build would (its ping carries another build, or none); the client must ask it to leave and
start a real supervisor of its own build in its place.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from composer.supervisor.client import SupervisorClient
from composer.supervisor.protocol import (
    Ping,
    Reply,
    Shutdown,
    build_id,
    decode_request,
    encode_reply,
    socket_address,
)


class OldSupervisor:
    """Answers pings with ``build``; records what it is asked; leaves on Shutdown."""

    def __init__(self, folder: Path, build: str) -> None:
        self.build = build
        self.requests: list[object] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with socket_address(folder) as address:
            self.sock.bind(address)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = decode_request(conn.makefile("rb").readline())
                self.requests.append(request)
                if isinstance(request, Ping):
                    conn.sendall(encode_reply(Reply(pid=os.getpid(), build=self.build)))
                elif isinstance(request, Shutdown):
                    conn.sendall(encode_reply(Reply()))
                    self.sock.close()
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("old_build", ["", "0123456789abcdef"])
def test_a_supervisor_of_another_build_is_shut_down_and_replaced(tmp_path: Path, old_build: str) -> None:
    old = OldSupervisor(tmp_path, old_build)
    client = SupervisorClient(tmp_path)
    try:
        client.ensure_running()
        assert [type(r) for r in old.requests] == [Ping, Shutdown]
        assert old.requests[1] == Shutdown(force=True)  # containers keep running: the new one adopts them
        answer = client._ping_reply()
        assert answer is not None and answer.build == build_id()
        assert answer.pid != os.getpid()  # a real supervisor process, not the impostor
    finally:
        old.close()
        client.shutdown(force=True)


def test_a_supervisor_of_this_build_is_kept(tmp_path: Path) -> None:
    current = OldSupervisor(tmp_path, build_id())
    try:
        SupervisorClient(tmp_path).ensure_running()
        assert [type(r) for r in current.requests] == [Ping]
    finally:
        current.close()


def test_the_build_changes_with_the_container_description() -> None:
    """Same process, same answer; it is a short hex digest."""
    assert build_id() == build_id()
    assert len(build_id()) == 16 and int(build_id(), 16) >= 0
