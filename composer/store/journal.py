"""The per-project state store: what composer made, recorded before and after it made it.

Layout under the state root (default ``/run/composer``, ``$COMPOSER_ROOT`` or ``--root``)::

    <root>/projects/<project>/
        lock                 flock(2): one composer command per project at a time
        state.json           the compacted records, written atomically (temp file + rename)
        journal.jsonl        write-ahead log appended since the last compaction
        containers/<name>/   per-container folder (config.json, status.json, overlay dirs, log FIFOs, logs)
        netns/<name>         bind-mounted network namespaces
        volumes/<name>/      named volumes (kept until ``down -v``)
        supervisor.*         the supervisor's socket, pid and log

Write-ahead: before a host object is created the executor appends an *intent*
record naming the object (interface, netns path, cgroup paths, ...); after the
syscall it appends *created*.  Removal appends *removing* then *removed*.  A
SIGKILL at any instant leaves a journal whose replay says exactly which objects
may exist, so the next ``up`` or ``down`` can finish or undo them: objects are
found by their recorded names, never by guessing.

Appending one short line per step keeps the cost per container small; the whole
file is rewritten (compacted) once per command.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from composer.errors import StateError

SCHEMA_VERSION = 1
Phase = Literal["creating", "created", "removing"]


@dataclass
class ResourceRecord:
    """What the store knows of one resource: its phase, config hash and the host objects it owns."""

    rid: str
    phase: Phase
    config_hash: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"rid": self.rid, "phase": self.phase, "hash": self.config_hash, "data": self.data}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ResourceRecord:
        return cls(
            rid=raw["rid"], phase=raw["phase"], config_hash=raw.get("hash", ""), data=raw.get("data", {})
        )


def projects_dir(root: Path) -> Path:
    return root / "projects"


def list_projects(root: Path) -> list[str]:
    base = projects_dir(root)
    if not base.is_dir():
        return []
    return sorted(
        p.name for p in base.iterdir() if (p / "state.json").exists() or (p / "journal.jsonl").exists()
    )


class ProjectState:
    """The records of one project; use :meth:`open` under :func:`project_lock`."""

    def __init__(self, root: Path, project: str) -> None:
        self.root = root
        self.project = project
        self.dir = projects_dir(root) / project
        self.records: dict[str, ResourceRecord] = {}
        self.meta: dict[str, Any] = {}
        self._journal: Any = None

    # -- paths -----------------------------------------------------------------
    def container_dir(self, name: str) -> Path:
        return self.dir / "containers" / name

    def netns_path(self, name: str) -> Path:
        return self.dir / "netns" / name

    def volume_dir(self, name: str) -> Path:
        return self.dir / "volumes" / name

    @property
    def supervisor_socket(self) -> Path:
        return self.dir / "supervisor.sock"

    # -- loading ---------------------------------------------------------------
    def load(self) -> ProjectState:
        snapshot = self.dir / "state.json"
        if snapshot.exists():
            raw = _read_json(snapshot)
            version = raw.get("schema_version")
            if version != SCHEMA_VERSION:
                raise StateError(
                    f"{snapshot}: state schema version {version!r} is not {SCHEMA_VERSION}",
                    hint="bring the project down with the composer version that brought it up",
                )
            self.meta = dict(raw.get("meta", {}))
            self.records = {r["rid"]: ResourceRecord.from_json(r) for r in raw.get("resources", [])}
        self._replay_journal()
        return self

    def _replay_journal(self) -> None:
        journal = self.dir / "journal.jsonl"
        if not journal.exists():
            return
        for line in journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the step it described never completed
            self._apply(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        kind = entry.get("op")
        if kind == "meta":
            self.meta.update(entry.get("meta", {}))
            return
        rid = entry["rid"]
        if kind == "removed":
            self.records.pop(rid, None)
            return
        record = self.records.get(rid) or ResourceRecord(rid=rid, phase="creating")
        record.phase = entry.get("phase", record.phase)
        if "hash" in entry:
            record.config_hash = entry["hash"]
        record.data.update(entry.get("data", {}))
        self.records[rid] = record

    # -- writing ---------------------------------------------------------------
    def _append(self, entry: dict[str, Any]) -> None:
        if self._journal is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._journal = open(self.dir / "journal.jsonl", "a", buffering=1)  # noqa: SIM115
        self._apply(entry)
        self._journal.write(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")

    def intend(self, rid: str, data: dict[str, Any] | None = None, config_hash: str | None = None) -> None:
        """Record that ``rid`` is about to be created, naming the host objects it will own."""
        entry: dict[str, Any] = {"op": "set", "rid": rid, "phase": "creating", "data": data or {}}
        if config_hash is not None:
            entry["hash"] = config_hash
        self._append(entry)

    def update(self, rid: str, data: dict[str, Any]) -> None:
        """Add facts to a record without changing its phase (a PID, an address)."""
        self._append({"op": "set", "rid": rid, "data": data})

    def confirm(self, rid: str, data: dict[str, Any] | None = None) -> None:
        self._append({"op": "set", "rid": rid, "phase": "created", "data": data or {}})

    def begin_removal(self, rid: str) -> None:
        if rid in self.records:
            self._append({"op": "set", "rid": rid, "phase": "removing"})

    def removed(self, rid: str) -> None:
        self._append({"op": "removed", "rid": rid})

    def set_meta(self, **values: Any) -> None:
        self._append({"op": "meta", "meta": values})

    def compact(self) -> None:
        """Rewrite state.json from the records and empty the journal (or remove both when empty)."""
        if (
            self._journal is None
            and (self.dir / "state.json").exists()
            and not (self.dir / "journal.jsonl").exists()
        ):
            return  # nothing was appended since the last snapshot: a no-op command writes nothing
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if not self.records:
            for name in ("state.json", "journal.jsonl"):
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / name).unlink()
            return
        payload = {
            "schema_version": SCHEMA_VERSION,
            "project": self.project,
            "meta": self.meta,
            "resources": [self.records[rid].to_json() for rid in sorted(self.records)],
        }
        atomic_write(self.dir / "state.json", json.dumps(payload, indent=1, sort_keys=True))
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "journal.jsonl").unlink()

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def of_kind(self, kind: str) -> dict[str, ResourceRecord]:
        prefix = kind + ":"
        return {rid: rec for rid, rec in self.records.items() if rid.startswith(prefix)}


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise StateError(f"cannot read the state file {path}: {error}") from error
    if not isinstance(data, dict):
        raise StateError(f"the state file {path} does not hold an object")
    return data


@contextlib.contextmanager
def project_lock(
    root: Path, project: str, *, timeout: float = 60.0, on_wait: Any = None
) -> Iterator[ProjectState]:
    """Hold the project's lock and yield its loaded state; compacts it on the way out.

    A second composer command on the same project waits (calling ``on_wait`` once
    so the CLI can say why) and fails with StateError after ``timeout`` seconds.
    """
    state = ProjectState(root, project)
    fd = _open_locked(state.dir / "lock", f"project {project!r}", timeout, on_wait)
    try:
        state.load()
        try:
            yield state
        finally:
            state.compact()
            _remove_empty_project_dir(state)
    finally:
        os.close(fd)


def _open_locked(path: Path, project: str, timeout: float, on_wait: Any) -> int:
    """Open and flock ``path``; retry if the file was removed meanwhile by the previous holder.

    ``down`` removes the project's folder, lock included, so a waiter may end up
    holding a lock on a deleted file: comparing inodes after locking catches that.
    """
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _acquire(fd, project, timeout, on_wait)
            if _same_file(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


@contextlib.contextmanager
def root_lock(path: Path, what: str, *, timeout: float = 120.0) -> Iterator[None]:
    """A lock shared by every project under the state root (address planning, forwarding).

    Like the project lock it survives its file being removed by the last ``down``.
    """
    fd = _open_locked(path, what, timeout, None)
    try:
        yield
    finally:
        os.close(fd)


def remove_root_files(root: Path) -> None:
    """After the last project's ``down``: remove the root-wide lock files, then the root if empty.

    Each lock file is removed while held, so a command waiting on it notices (the
    inode check in _open_locked) and opens a fresh one.
    """
    if list_projects(root):
        return
    for name in ("ipam.lock", "forwarding.lock"):
        path = root / name
        if not path.exists():
            continue
        with root_lock(path, name, timeout=5.0), contextlib.suppress(FileNotFoundError):
            path.unlink()
    for folder in (projects_dir(root), root):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: another command may be starting right now


def _same_file(fd: int, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino)


def _acquire(fd: int, project: str, timeout: float, on_wait: Any) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if not told and on_wait is not None:
            on_wait(f"waiting for another composer command on {project} to finish")
            told = True
        if time.monotonic() >= deadline:
            raise StateError(
                f"{project} is locked by another composer command",
                hint=f"wait for it to finish, or raise the timeout (waited {timeout:.0f}s)",
            )
        time.sleep(0.05)


def _remove_empty_project_dir(state: ProjectState) -> None:
    """After ``down`` nothing of the project is left: drop its folder when only the lock remains."""
    if state.records:
        return
    leftovers = [p for p in state.dir.iterdir() if p.name != "lock"] if state.dir.exists() else []
    if leftovers:
        return
    with contextlib.suppress(OSError):
        (state.dir / "lock").unlink()
        state.dir.rmdir()
