"""The per-project state store: what composer made, recorded before and after it made it.

Write-ahead: before a host object is created the applier appends an *intent*
(the resource's typed record, naming the objects it will own: interface names,
the netns path, the container folder ...); after the syscalls it appends
*created*.  Removal appends *removing* then *removed*.  A SIGKILL at any instant
leaves a journal whose replay says exactly which objects may exist, so the next
``up`` or ``down`` can finish or undo them: objects are found by their recorded
names, never by guessing.

Appending one short line per step keeps the cost per container small; the
snapshot (``state.json``) is rewritten once per command (:meth:`compact`).
Lines are ``{"v": 2, "op": "set", "rid", "phase", "hash", "record"}``,
``{"op": "removed", "rid"}`` and ``{"v": 2, "op": "meta", "meta"}``; the
records' JSON form is :mod:`composer.store.records`' alone.  A snapshot or
journal of composer 0.1 (schema 1) is read and converted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import IO, Any, cast

from composer.errors import StateError
from composer.model.ids import ResourceId
from composer.store.files import atomic_write, read_json_object
from composer.store.layout import ProjectLayout
from composer.store.records import (
    LEGACY_VERSION,
    SCHEMA_VERSION,
    ContainerRecord,
    FirewallRecord,
    LinkRecord,
    NetworkRecord,
    Phase,
    ProjectMeta,
    R,
    Record,
    RouteRecord,
    Stored,
    VolumeRecord,
    decode_meta,
    decode_stored,
    encode_meta,
    encode_record,
)


@dataclass
class _Raw:
    """A record while the snapshot and the journal are replayed (decoded once, at the end)."""

    phase: str
    config_hash: str
    data: dict[str, Any]
    version: int


class ProjectStore:
    """The records of one project; open it with :func:`composer.store.locks.project_lock`."""

    def __init__(self, layout: ProjectLayout) -> None:
        self.layout = layout
        self._records: dict[ResourceId, Stored[Any]] = {}
        self.meta = ProjectMeta()
        self._journal: IO[str] | None = None

    @property
    def project(self) -> str:
        return self.layout.name

    # -- reading ---------------------------------------------------------------
    def load(self) -> ProjectStore:
        raw: dict[ResourceId, _Raw] = {}
        meta: tuple[dict[str, Any], int] = ({}, SCHEMA_VERSION)
        snapshot = self.layout.snapshot
        if snapshot.exists():
            meta = self._read_snapshot(raw)
        if self.layout.journal.exists():
            meta = self._replay_journal(raw, meta)
        self.meta = self._decode_meta(*meta)
        where = str(self.layout.journal if self.layout.journal.exists() else snapshot)
        self._records = {
            rid: decode_stored(rid, r.phase, r.config_hash, r.data, version=r.version, where=where)
            for rid, r in raw.items()
        }
        return self

    def _read_snapshot(self, raw: dict[ResourceId, _Raw]) -> tuple[dict[str, Any], int]:
        path = self.layout.snapshot
        content = read_json_object(path)
        version = content.get("schema_version")
        if version not in (SCHEMA_VERSION, LEGACY_VERSION):
            raise StateError(
                f"{path}: state schema version {version!r} is not one this composer reads "
                f"({LEGACY_VERSION} or {SCHEMA_VERSION})",
                hint="bring the project down with the composer version that brought it up",
            )
        body = "record" if version == SCHEMA_VERSION else "data"
        for item in content.get("resources", []):
            rid = _resource_id(item.get("rid"), str(path))
            raw[rid] = _Raw(item["phase"], item.get("hash", ""), dict(item.get(body) or {}), version)
        return dict(content.get("meta") or {}), version

    def _replay_journal(
        self, raw: dict[ResourceId, _Raw], meta: tuple[dict[str, Any], int]
    ) -> tuple[dict[str, Any], int]:
        where = str(self.layout.journal)
        for line in self.layout.journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the step it described never completed
            version = int(entry.get("v", LEGACY_VERSION))
            op = entry.get("op")
            if op == "meta":
                meta = _merge_meta(meta, entry.get("meta", {}), version)
            elif op == "removed":
                raw.pop(_resource_id(entry.get("rid"), where), None)
            elif op == "set":
                _replay_set(raw, _resource_id(entry.get("rid"), where), entry, version)
        return meta

    @staticmethod
    def _decode_meta(raw: Mapping[str, Any], version: int) -> ProjectMeta:
        try:
            return decode_meta(raw, version=version)
        except (KeyError, TypeError, ValueError) as error:
            raise StateError(f"the project's recorded addressing cannot be read: {error}") from error

    # -- typed views -------------------------------------------------------------
    @property
    def records(self) -> Mapping[ResourceId, Stored[Any]]:
        return self._records

    def get(self, rid: ResourceId) -> Stored[Any] | None:
        return self._records.get(rid)

    def _of(self, kind: type[R]) -> dict[ResourceId, Stored[R]]:
        found = {rid: s for rid, s in self._records.items() if isinstance(s.record, kind)}
        return cast(dict[ResourceId, Stored[R]], found)

    def containers(self) -> dict[ResourceId, Stored[ContainerRecord]]:
        return self._of(ContainerRecord)

    def networks(self) -> dict[ResourceId, Stored[NetworkRecord]]:
        return self._of(NetworkRecord)

    def links(self) -> dict[ResourceId, Stored[LinkRecord]]:
        return self._of(LinkRecord)

    def volumes(self) -> dict[ResourceId, Stored[VolumeRecord]]:
        return self._of(VolumeRecord)

    def routes(self) -> dict[ResourceId, Stored[RouteRecord]]:
        return self._of(RouteRecord)

    def firewall(self) -> Stored[FirewallRecord] | None:
        return next(iter(self._of(FirewallRecord).values()), None)

    # -- writing -----------------------------------------------------------------
    def _append(self, entry: dict[str, Any]) -> None:
        if self._journal is None:
            self.layout.dir.mkdir(parents=True, exist_ok=True)
            self._journal = open(self.layout.journal, "a", buffering=1)  # noqa: SIM115
        self._journal.write(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")

    def _set(self, rid: ResourceId, phase: Phase, config_hash: str, record: Record) -> None:
        self._append({"v": SCHEMA_VERSION, "op": "set", "rid": rid, "phase": phase, "hash": config_hash,
                      "record": encode_record(record)})  # fmt: skip
        self._records[rid] = Stored(rid, phase, config_hash, record)

    def intend(self, rid: ResourceId, record: Record, config_hash: str = "") -> None:
        """Record that ``rid`` is about to be created, naming the host objects it will own."""
        self._set(rid, "creating", config_hash, record)

    def confirm(self, rid: ResourceId, record: Record | None = None) -> None:
        """``rid`` exists; ``record`` replaces the intent's when creating learnt more (cgroup folders)."""
        stored = self._records[rid]
        self._set(rid, "created", stored.config_hash, record if record is not None else stored.record)

    def begin_removal(self, rid: ResourceId) -> None:
        stored = self._records.get(rid)
        if stored is not None:
            self._append({"v": SCHEMA_VERSION, "op": "set", "rid": rid, "phase": "removing"})
            self._records[rid] = replace(stored, phase="removing")

    def removed(self, rid: ResourceId) -> None:
        self._append({"op": "removed", "rid": rid})
        self._records.pop(rid, None)

    def set_meta(self, meta: ProjectMeta) -> None:
        self._append({"v": SCHEMA_VERSION, "op": "meta", "meta": encode_meta(meta)})
        self.meta = meta

    def compact(self) -> None:
        """Rewrite the snapshot from the records and empty the journal (or remove both when empty)."""
        layout = self.layout
        if self._journal is None and layout.snapshot.exists() and not layout.journal.exists():
            return  # nothing was appended since the last snapshot: a no-op command writes nothing
        self.close()
        if not self._records:
            for path in (layout.snapshot, layout.journal):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            return
        payload = {
            "schema_version": SCHEMA_VERSION,
            "project": self.project,
            "meta": encode_meta(self.meta),
            "resources": [
                {"rid": rid, "phase": s.phase, "hash": s.config_hash, "record": encode_record(s.record)}
                for rid, s in sorted(self._records.items())
            ],
        }
        atomic_write(layout.snapshot, json.dumps(payload, indent=1, sort_keys=True))
        with contextlib.suppress(FileNotFoundError):
            layout.journal.unlink()

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def read_store(layout: ProjectLayout) -> ProjectStore:
    """The project's records without taking its lock (the views: a snapshot plus the journal is enough)."""
    store = ProjectStore(layout)
    return store.load() if layout.dir.exists() else store


def _resource_id(text: object, where: str) -> ResourceId:
    try:
        return ResourceId(str(text))
    except ValueError as error:
        raise StateError(f"{where}: {error}") from error


def _replay_set(raw: dict[ResourceId, _Raw], rid: ResourceId, entry: Mapping[str, Any], version: int) -> None:
    current = raw.get(rid)
    if "record" in entry:  # schema 2: the whole record
        current = _Raw(current.phase if current else "creating", "", dict(entry["record"]), version)
    elif current is None:
        current = _Raw("creating", "", {}, version)
    if version == LEGACY_VERSION:  # schema 1: facts merged into the record line by line
        current.data.update(entry.get("data") or {})
    if "phase" in entry:
        current.phase = entry["phase"]
    if "hash" in entry:
        current.config_hash = entry["hash"]
    elif rid in raw:
        current.config_hash = raw[rid].config_hash
    raw[rid] = current


def _merge_meta(
    meta: tuple[dict[str, Any], int], update: Mapping[str, Any], version: int
) -> tuple[dict[str, Any], int]:
    if version == LEGACY_VERSION:
        return {**meta[0], **update}, meta[1]
    return dict(update), version
