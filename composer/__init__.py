"""composer: a daemonless, declarative container composer for Linux.

One project file (compose-spec plus lab links) becomes containers made from
namespaces, cgroups, mounts and netlink; ``up`` converges the host on the file
and ``down`` removes everything the project made.  As a library::

    import composer

    project = composer.load_project(files=[Path("compose.yaml")])
    composer.up(project, composer.UpOptions())
    composer.down(project.name, composer.DownOptions())

The names below are loaded on first use, so ``import composer`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from composer.errors import ComposerError, SpecError, SpecIssue

__version__ = "0.1.0"

_LAZY = {
    "load_project": "composer.project.loader",
    "LoadedProject": "composer.project.loader",
    "up": "composer.engine.up",
    "up_cached": "composer.engine.up",
    "down": "composer.engine.down",
    "wait_ready": "composer.engine.wait",
    "Roots": "composer.engine.options",
    "UpOptions": "composer.engine.options",
    "DownOptions": "composer.engine.options",
    "UpResult": "composer.engine.options",
    "DownResult": "composer.engine.options",
    "Event": "composer.events",
    "Recorder": "composer.events",
}

__all__ = [
    "ComposerError", "DownOptions", "DownResult", "Event", "LoadedProject", "Recorder", "Roots",
    "SpecError", "SpecIssue", "UpOptions", "UpResult", "__version__", "down", "load_project", "up",
    "up_cached", "wait_ready",
]  # fmt: skip

if TYPE_CHECKING:
    from composer.engine.down import down
    from composer.engine.options import DownOptions, DownResult, Roots, UpOptions, UpResult
    from composer.engine.up import up, up_cached
    from composer.engine.wait import wait_ready
    from composer.events import Event, Recorder
    from composer.project.loader import LoadedProject, load_project


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'composer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
