"""Resolve a container's ``user:`` setting against the container's own account files.

Accepted forms, as Docker: ``""`` (root), ``uid``, ``name``, ``uid:gid``,
``name:group``, ``uid:group``, ``name:gid``.  Names are looked up in the
rootfs's /etc/passwd and /etc/group (never the host's); a numeric uid absent
from passwd is fine and gets gid 0.  Supplementary groups are the groups of
/etc/group that list the user by name, plus its primary group.

The parsing is pure (:func:`resolve_user_from_text`); :func:`resolve_user`
only reads the two files from a root folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ContainerError


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str = "/"
    name: str = ""


@dataclass(frozen=True)
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


def _parse_passwd(text: str) -> list[_Passwd]:
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 6 or line.startswith("#"):
            continue
        try:
            entries.append(_Passwd(fields[0], int(fields[2]), int(fields[3]), fields[5] or "/"))
        except ValueError:
            continue  # a malformed line in the image is skipped, like libc does
    return entries


def _parse_group(text: str) -> list[_Group]:
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 3 or line.startswith("#"):
            continue
        members = tuple(m for m in (fields[3].split(",") if len(fields) > 3 else []) if m)
        try:
            entries.append(_Group(fields[0], int(fields[2]), members))
        except ValueError:
            continue
    return entries


def _find_user(spec: str, passwd: list[_Passwd]) -> _Passwd | None:
    for entry in passwd:
        if entry.name == spec or (spec.isdigit() and entry.uid == int(spec)):
            return entry
    return None


def _find_gid(spec: str, groups: list[_Group]) -> int:
    if spec.isdigit():
        return int(spec)
    for entry in groups:
        if entry.name == spec:
            return entry.gid
    raise ContainerError(f"user: no group {spec!r} in the container's /etc/group")


def resolve_user_from_text(spec: str, passwd_text: str, group_text: str) -> ResolvedUser:
    """Resolve ``spec`` with the given /etc/passwd and /etc/group contents."""
    user_part, _, group_part = spec.partition(":")
    passwd = _parse_passwd(passwd_text)
    groups = _parse_group(group_text)
    entry = _find_user(user_part or "0", passwd)
    if entry is None and not (user_part or "0").isdigit():
        raise ContainerError(f"user: no user {user_part!r} in the container's /etc/passwd")
    uid = entry.uid if entry else int(user_part or "0")
    gid = _find_gid(group_part, groups) if group_part else (entry.gid if entry else 0)
    supplementary = {gid}
    if entry is not None and not group_part:
        supplementary.update(g.gid for g in groups if entry.name in g.members)
    home = entry.home if entry else "/"
    return ResolvedUser(uid, gid, tuple(sorted(supplementary)), home, entry.name if entry else "")


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def with_groups(user: ResolvedUser, names: Sequence[str], root: str | Path = "/") -> ResolvedUser:
    """``user`` with the supplementary groups of ``group_add`` (names from ``root``/etc/group, or numbers)."""
    if not names:
        return user
    groups = _parse_group(_read_or_empty(Path(root) / "etc/group"))
    extra = {_find_gid(name, groups) for name in names}
    return dataclasses.replace(user, groups=tuple(sorted({*user.groups, *extra})))


def resolve_user(spec: str, root: str | Path = "/") -> ResolvedUser:
    """Resolve ``spec`` against ``root``/etc/passwd and ``root``/etc/group."""
    base = Path(root)
    return resolve_user_from_text(
        spec, _read_or_empty(base / "etc/passwd"), _read_or_empty(base / "etc/group")
    )
