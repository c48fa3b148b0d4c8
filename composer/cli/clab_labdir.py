"""containerlab's lab directory ``clab-<lab>/``: written by ``up``, removed by ``down``.

Only a project of one containerlab topology file has one.  ``down`` removes
only what ``up`` wrote (``topology-data.json`` and the empty node folders),
so files a user put in the lab directory stay, and so does the directory then.
The folder is named after the lab; ``up -p NAME`` writes NAME in a marker file
there, so that ``down -p NAME`` knows the folder is its project's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from composer.model.desired import DesiredState

DATA_FILE = "topology-data.json"
PROJECT_FILE = ".composer-project"  # the project that wrote the folder, when not named like the lab
# a top-level "topology:" key: a compose file has none, so it is not parsed a second time
_TOPOLOGY_KEY = re.compile(
    rb"""^["']?topology["']?\s*:""", re.MULTILINE
)  # a compose file has none: skip parsing it


def _topology(files: Sequence[Path]) -> tuple[Path, Any] | None:
    if len(files) != 1:
        return None
    try:
        raw = files[0].read_bytes()
    except OSError:
        return None
    if _TOPOLOGY_KEY.search(raw) is None:  # every up reads this: a compose file costs one search
        return None
    from composer.errors import ComposerError
    from composer.project import clab
    from composer.project.yamlsafe import load_yaml

    try:
        data = load_yaml(raw, str(files[0])).data
    except ComposerError:
        return None
    if not clab.is_topology(data) or not data.get("name"):
        return None
    return files[0], data


def _mgmt_addresses(desired: DesiredState, data: Any) -> dict[str, tuple[str, ...]]:
    from composer.project import clab

    network = str({**clab.DEFAULT_MGMT, **(data.get("mgmt") or {})}["network"])
    return {
        container.service: attachment.addresses
        for container in desired.containers.values()
        if not container.oneoff
        for attachment in container.attachments
        if attachment.network == network
    }


def write(files: Sequence[Path], desired: DesiredState) -> str:
    """Write the lab directory of a topology file; what went wrong, or "" (also when it is no topology)."""
    found = _topology(files)
    if found is None:
        return ""
    from composer.project import clab

    file, data = found
    content = clab.topology_data(data, file, _mgmt_addresses(desired, data))
    folder = clab.lab_directory(file.absolute(), str(data["name"]))
    try:
        for name in content["nodes"]:
            (folder / name).mkdir(parents=True, exist_ok=True)
        partial = folder / f".{DATA_FILE}.tmp"
        partial.write_text(json.dumps(content, indent=2) + "\n")
        os.replace(partial, folder / DATA_FILE)  # a reader never sees half a file
        if desired.project != data["name"]:
            (folder / PROJECT_FILE).write_text(desired.project + "\n")
    except OSError as error:
        return f"cannot write the lab directory {folder}: {error.strerror or error}"
    return ""


def remove(files: Sequence[Path], project: str) -> None:
    """The lab directory of ``project``'s topology file (another lab's is left alone)."""
    found = _topology(files)
    if found is None:
        return
    from composer.project import clab

    file, data = found
    folder = clab.lab_directory(file.absolute(), str(data["name"]))
    if data["name"] != project and _writer(folder) != project:
        return
    (folder / DATA_FILE).unlink(missing_ok=True)
    (folder / PROJECT_FILE).unlink(missing_ok=True)
    for name in data["topology"].get("nodes") or {}:
        _remove_empty(folder / str(name))
    _remove_empty(folder)


def _writer(folder: Path) -> str:
    try:
        return (folder / PROJECT_FILE).read_text().strip()
    except OSError:
        return ""


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # absent, or holds files that are not ours
        folder.rmdir()
