"""Finding the project files and the project directory, as compose does, without loading them.

Cheap on purpose (no YAML, no pydantic): ``up``'s no-op fast path and the
loader both start here, so they agree on which files a command reads.

* files: ``-f`` (in order), else ``$COMPOSE_FILE`` (split on ``os.pathsep``),
  else ``compose.yaml`` (or a sibling name) in the start folder or the nearest
  parent, plus its ``*.override.*`` file;
* the project directory: ``--project-directory``, else the folder of the
  first file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
)


def discover_files(start: Path) -> list[Path]:
    """compose.yaml (or a sibling name) in ``start`` or the nearest parent, plus its override file."""
    for folder in (start, *start.parents):
        for name in DEFAULT_FILES:
            candidate = folder / name
            if is_file(candidate):
                overrides = [folder / o for o in OVERRIDE_FILES if is_file(folder / o)]
                return [candidate, *overrides[:1]]
    return []


def is_file(path: Path) -> bool:
    """Like Path.is_file, but a file we may not look at counts: reading it then says why it fails."""
    try:
        return path.is_file()
    except PermissionError:
        return True


def absolute(path: Path) -> Path:
    """The absolute, cleaned path (``sub/../compose.yaml`` -> ``compose.yaml``), as Go's filepath.Abs.

    Not ``resolve()``: symlinks stay as written, so the project is named after the
    folder the user named.
    """
    return Path(os.path.abspath(path))


def project_files(
    files: Sequence[Path], project_directory: Path | None, environment: Mapping[str, str] | None = None
) -> list[Path]:
    """The files a command reads: -f, else $COMPOSE_FILE, else discovery ([] when none is found).

    ``COMPOSE_FILE`` is split on ``$COMPOSE_PATH_SEPARATOR`` (default ``os.pathsep``);
    its relative names are taken from the project directory (or the working
    directory).  ``environment`` is the process environment unless the
    caller passes one (the loader passes it with the ``.env`` values under it).
    """
    if files:
        return [absolute(f) for f in files]
    env = os.environ if environment is None else environment
    from_env = env.get("COMPOSE_FILE")
    base = (project_directory or Path.cwd()).absolute()
    if from_env:
        separator = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [absolute(base / p) for p in from_env.split(separator) if p]
    return discover_files(base)


def project_directory(explicit: Path | None, files: Sequence[Path]) -> Path:
    """``--project-directory``, else the folder of the first project file (else the working directory)."""
    if explicit is not None:
        return absolute(explicit)
    return absolute(files[0]).parent if files else Path.cwd()
