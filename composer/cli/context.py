"""Global options shared by every verb (``composer [-f FILE]... [-p NAME] VERB``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from composer.engine.hosts.base import Host
    from composer.engine.options import Roots
    from composer.events import EventSink
    from composer.project.loader import LoadedProject
    from composer.store.layout import ProjectLayout, StateRoot

DEFAULT_STATE_ROOT = "/run/composer"
DEFAULT_IMAGE_ROOT = "/var/lib/composer"


@dataclass
class GlobalOptions:
    files: list[Path] = field(default_factory=list)
    project_name: str | None = None
    project_directory: Path | None = None
    env_files: list[Path] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    state_root: Path = field(default_factory=lambda: _default_roots()[0])
    image_root: Path = field(default_factory=lambda: _default_roots()[1])
    debug: bool = False
    dry_run: bool = False  # the global --dry-run: verbs that can plan print the plan, the others refuse
    parallel: int | None = None  # the global --parallel: actions at once for up, down, create, rm
    ansi: str = "auto"  # never, always, auto: colours and the live display
    progress: str | None = None  # the global --progress, the default of every verb's own

    def sink(self, mode: str | None = None) -> tuple[EventSink, Callable[[], None]]:
        """The progress display for ``mode`` (the verb's own), else the global --progress, else auto."""
        from composer.cli.progress import make_sink

        return make_sink(mode or self.progress or "auto", ansi=self.ansi)

    def refuse_dry_run(self, verb: str) -> None:
        """Verbs with no plan to show cannot pretend: --dry-run is an error there, not ignored."""
        if self.dry_run:
            from composer.errors import ComposerError

            raise ComposerError(
                f"{verb} has no dry-run mode", hint="--dry-run works with up, down, create and rm"
            )

    def load(self) -> LoadedProject:
        """Load and validate the project the options point at (raises SpecError)."""
        import sys

        from composer.project.loader import load_project

        project = load_project(
            files=self.files,
            project_directory=self.project_directory,
            env_files=self.env_files,
            project_name=self.project_name,
            profiles=self.profiles,
        )
        for warning in project.warnings:  # e.g. a variable used but set nowhere, as compose warns
            sys.stderr.write(f"warning: {warning}\n")
        return project

    def enter(self, verb: str, *, create: bool = True) -> None:
        """As root, nothing; without root, the rest of this command runs in the project's user namespace.

        The process left outside only serves the inside (pasta) and exits with its status here.
        ``create`` false: a read-only verb, which goes on outside when the project has no namespace.
        """
        if os.geteuid() != 0:
            self._enter_namespace(self._quiet_project(), create=create)

    def enter_images(self) -> None:
        """Without root, image verbs unpack and delete in a user namespace of their own (owners as inside)."""
        if os.geteuid() != 0:
            from composer.engine.hosts.rootless import IMAGE_VERBS

            self._enter_namespace(IMAGE_VERBS, create=True)

    def _enter_namespace(self, name: str, *, create: bool) -> None:
        import sys

        from composer.engine.hosts.rootless import enter_project

        def warn(text: str) -> None:
            sys.stderr.write(f"warning: {text}\n")

        code = enter_project(name, self.roots(), create=create, warn=warn)
        if code is not None:
            raise typer.Exit(code)

    def _quiet_project(self) -> str:
        """The project name, without the loader's warnings (the command inside prints them)."""
        if self.project_name:
            return self.project()
        from composer.project.loader import load_project

        return load_project(
            files=self.files, project_directory=self.project_directory, env_files=self.env_files,
            project_name=None, profiles=self.profiles,
        ).name  # fmt: skip

    def roots(self) -> Roots:
        from composer.engine.options import Roots

        return Roots(state=self.state_root, images=self.image_root)

    def host(self) -> Host:
        """The machine the verbs act on (the composition root's choice: the real one)."""
        from composer.engine.hosts import default_host

        return default_host(self.roots())

    def root(self) -> StateRoot:
        from composer.store.layout import StateRoot

        return StateRoot(self.state_root)

    def layout(self) -> ProjectLayout:
        """Where the named (or loaded) project's state is."""
        return self.root().project(self.project())

    def project(self) -> str:
        """The project name: -p when given (the file is then not needed), else the loaded file's."""
        if self.project_name:
            from composer.model.naming import normalize_project_name

            return normalize_project_name(self.project_name)
        return self.load().name


def _default_roots() -> tuple[Path, Path]:
    """/run/composer and /var/lib/composer as root; the user's runtime and data folders without."""
    if os.geteuid() != 0:
        import pwd

        from composer.model.rootless import default_paths

        home = os.environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
        paths = default_paths(os.getuid(), os.environ, home)
        return paths.state, paths.images
    return (
        Path(os.environ.get("COMPOSER_ROOT", DEFAULT_STATE_ROOT)),
        Path(os.environ.get("COMPOSER_IMAGE_ROOT", DEFAULT_IMAGE_ROOT)),
    )


def options(ctx: typer.Context) -> GlobalOptions:
    """The GlobalOptions stored by the top-level callback."""
    root = ctx.find_root()
    assert isinstance(root.obj, GlobalOptions)
    return root.obj
