"""``include``: other projects' resources taken into this one.

Short syntax ``include: [other/compose.yaml]``; long syntax with ``path`` (a
file or a list of files merged like ``-f``), ``project_directory`` (default:
the folder of the first path) and ``env_file`` (default: that directory's
``.env``), all relative to the including file's folder.  An included project
is loaded on its own (its own interpolation environment, its own
``include`` and ``extends``) and its relative paths are made absolute
against its own project directory.  Its services, networks, volumes,
secrets, configs and models are added; a name defined on both sides with a
different definition is an error (compose-go's rule), the same definition
twice is fine.

Loading is the caller's: ``load`` takes (files, project directory, env
files, the chain of including files) and returns the project's data.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from composer.errors import SpecIssue

Loader = Callable[
    [list[Path], Path, list[Path], tuple[Path, ...]], tuple[dict[str, Any] | None, list[SpecIssue]]
]
Locator = Callable[[str], tuple[str, int, int]]
RESOURCES = ("services", "networks", "volumes", "secrets", "configs", "models")


def _as_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _entry(raw: Any, folder: Path) -> tuple[list[Path], Path, list[Path]] | str:
    """(files, project directory, env files) of one include entry, or what is wrong with it."""
    spec = {"path": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, dict):
        return "an include entry is a path or {path:, project_directory:, env_file:}"
    unknown = sorted(set(spec) - {"path", "project_directory", "env_file"})
    if unknown:
        return f"unknown key `{unknown[0]}` (include takes path, project_directory, env_file)"
    paths = _as_list(spec.get("path"))
    if not paths:
        return "`path` is required: a file or a list of files"

    def here(text: str) -> Path:
        return Path(posixpath.normpath(posixpath.join(str(folder), text)))

    files = [here(path) for path in paths]
    directory = here(str(spec["project_directory"])) if spec.get("project_directory") else files[0].parent
    env = _as_list(spec.get("env_file")) if spec.get("env_file") is not None else []
    if env is None:
        return "`env_file` is a file or a list of files"
    return files, directory, [here(name) for name in env]


def apply_include(
    data: dict[str, Any], file: Path, load: Loader, locate: Locator, chain: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], list[SpecIssue]]:
    """``data`` (without ``include``) with the included resources added, and the problems found."""
    raw = data.get("include")
    result = {k: v for k, v in data.items() if k != "include"}
    if raw is None:
        return result, []
    entries = raw if isinstance(raw, list) else [raw]
    issues: list[SpecIssue] = []
    for index, entry in enumerate(entries):
        path = f"include.{index}"
        parsed = _entry(entry, file.parent)
        if isinstance(parsed, str):
            issues.append(SpecIssue.at(locate(path), path, parsed))
            continue
        files, directory, env_files = parsed
        looping = [f for f in files if f in (*chain, file)]
        if looping:
            names = " -> ".join(str(f) for f in (*chain, file, looping[0]))
            issues.append(SpecIssue.at(locate(path), path, f"include makes a cycle: {names}"))
            continue
        included, found = load(files, directory, env_files, (*chain, file))
        # A file that cannot be read has no place of its own: show the include entry that names it.
        issues.extend(
            issue if issue.line else SpecIssue.at(locate(path), path, issue.message, issue.hint)
            for issue in found
        )
        if included is not None:
            issues.extend(_add(result, included, files[0], path, locate))
    return result, issues


def _add(
    result: dict[str, Any], included: dict[str, Any], source: Path, path: str, locate: Locator
) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    for kind in RESOURCES:
        theirs = included.get(kind)
        if not isinstance(theirs, dict):
            continue
        ours = dict(result.get(kind) or {})
        for name, definition in theirs.items():
            if name in ours and ours[name] != definition:
                where = f"{kind}.{name}"
                issues.append(
                    SpecIssue.at(
                        locate(where),
                        where,
                        f"`{name}` is defined here and, differently, in the included {source}",
                        "rename one of them, or define it in one file only",
                    )
                )
                continue
            ours[name] = definition
        result[kind] = ours
    return issues
