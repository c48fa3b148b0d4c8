"""A client that saw its supervisor answer still starts a new one when that supervisor has died since.

``up`` pings the supervisor once and remembers it answered; when the supervisor
is SIGKILLed later in the same command, ``revive`` must not trust that memory.
The spawn is replaced by a counter: starting a real supervisor is the kernel tests' job.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.supervisor import client as client_module
from composer.supervisor.client import SupervisorClient
from composer.supervisor.protocol import Reply, build_id


class CountingClient(SupervisorClient):
    def __init__(self, project_dir: Path) -> None:
        super().__init__(project_dir)
        self.alive = True
        self.spawned = 0

    def _ping_reply(self) -> Reply | None:  # what a supervisor of this build answers, while alive
        return Reply(build=build_id()) if self.alive else None

    def _spawn_and_wait(self) -> None:
        self.spawned += 1
        self.alive = True


def test_revive_starts_a_supervisor_after_the_one_this_command_saw_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module.os, "geteuid", lambda: 0)
    (tmp_path / "containers" / "p-web-1").mkdir(parents=True)
    client = CountingClient(tmp_path)
    client.ensure_running()  # it answers: remembered for the rest of the command
    assert client.spawned == 0
    client.alive = False  # SIGKILLed
    assert client.revive() is True
    assert client.spawned == 1
    assert client.revive() is False  # the new one answers
    assert client.spawned == 1
