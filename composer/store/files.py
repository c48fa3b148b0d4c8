"""Writing and reading the store's files so that readers see the old or the new file, never half of one."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from composer.errors import StateError


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # on first write: the read-only verbs (ps, exec, logs) never load it

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # see is_unfinished_write
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def is_unfinished_write(name: str) -> bool:
    """A temporary sibling of atomic_write (``.NAME.`` and mkstemp's 8 characters) never renamed:
    its writer was killed. Only under the lock of the folder's writers is it surely debris."""
    return _UNFINISHED.match(name) is not None


_UNFINISHED = re.compile(r"^\..+\.[A-Za-z0-9_]{8}$")


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; StateError naming the file when it is unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise StateError(f"cannot read the state file {path}: {error}") from error
    if not isinstance(data, dict):
        raise StateError(f"the state file {path} does not hold an object")
    return data
