"""The state store: write-ahead journal, atomic snapshots, schema version, per-project locks."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from composer.errors import StateError
from composer.store.journal import ProjectState, list_projects, project_lock


def test_journal_survives_a_cut_last_line(tmp_path: Path) -> None:
    with project_lock(tmp_path, "p") as state:
        state.intend("network:a", {"bridge": "cmb1"}, "h1")
        state.confirm("network:a")
        state.intend("container:p-x-1", {"dir": "/x"}, "h2")
        state.close()  # simulate a crash: no compaction, the journal stays
        journal = state.dir / "journal.jsonl"
        raw = journal.read_text()
        (state.dir / "journal.jsonl").write_text(raw + '{"op":"set","rid":"container:p-y-1","ph')
        state.records.clear()
        state.load()
        assert state.records["network:a"].phase == "created"
        assert state.records["container:p-x-1"].phase == "creating"
        assert state.records["container:p-x-1"].data == {"dir": "/x"}
        assert "container:p-y-1" not in state.records


def test_compaction_writes_a_versioned_snapshot_and_empties_the_journal(tmp_path: Path) -> None:
    with project_lock(tmp_path, "p") as state:
        state.intend("network:a", {"bridge": "cmb1"}, "h1")
        state.confirm("network:a")
    snapshot = json.loads((tmp_path / "projects" / "p" / "state.json").read_text())
    assert snapshot["schema_version"] == 1
    assert snapshot["resources"] == [
        {"rid": "network:a", "phase": "created", "hash": "h1", "data": {"bridge": "cmb1"}}
    ]
    assert not (tmp_path / "projects" / "p" / "journal.jsonl").exists()
    assert list_projects(tmp_path) == ["p"]


def test_removing_the_last_record_removes_the_project_folder(tmp_path: Path) -> None:
    with project_lock(tmp_path, "p") as state:
        state.intend("network:a", {}, "h")
    with project_lock(tmp_path, "p") as state:
        state.begin_removal("network:a")
        state.removed("network:a")
    assert not (tmp_path / "projects" / "p").exists()
    assert list_projects(tmp_path) == []


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "projects" / "p"
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps({"schema_version": 99, "resources": []}))
    with pytest.raises(StateError, match="schema version 99"):
        ProjectState(tmp_path, "p").load()


def test_a_second_command_waits_says_why_and_gives_up(tmp_path: Path) -> None:
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with project_lock(tmp_path, "p"):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    messages: list[str] = []
    started = time.monotonic()
    with (
        pytest.raises(StateError, match="locked by another composer command"),
        project_lock(tmp_path, "p", timeout=0.3, on_wait=messages.append),
    ):
        pass
    assert time.monotonic() - started >= 0.3
    assert messages == ["waiting for another composer command on project 'p' to finish"]
    # Another project is not held up.
    with project_lock(tmp_path, "other", timeout=0.3):
        pass
    release.set()
    thread.join()
    with project_lock(tmp_path, "p", timeout=1):
        pass
