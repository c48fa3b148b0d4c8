"""Write a project file into a folder and load it, for tests of the planner and executor."""

from __future__ import annotations

import textwrap
from pathlib import Path

from composer.project.loader import LoadedProject, load_project


def write_project(folder: Path, text: str, rootfs: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = textwrap.dedent(text)
    if rootfs is not None:
        body = body.replace("ROOTFS", str(rootfs))
    path = folder / "compose.yaml"
    path.write_text(body)
    return path


def load(path: Path, name: str | None = None) -> LoadedProject:
    return load_project(files=[path], project_directory=None, env_files=[], project_name=name, profiles=[])
