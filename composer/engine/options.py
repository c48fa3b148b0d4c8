"""The options and results of ``up`` and ``down``: frozen values the CLI fills in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from composer.store.layout import DEFAULT_IMAGE_ROOT, DEFAULT_STATE_ROOT

if TYPE_CHECKING:  # the results' field types: ps and exec import the roots alone
    from composer.engine.plan import Plan
    from composer.model.desired import DesiredState


@dataclass(frozen=True)
class Roots:
    """Where composer keeps its state (runtime) and its images (persistent)."""

    state: Path = DEFAULT_STATE_ROOT
    images: Path = DEFAULT_IMAGE_ROOT


DEFAULT_ROOTS = Roots()


@dataclass(frozen=True)
class UpOptions:
    services: tuple[str, ...] = ()
    dry_run: bool = False
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    no_start: bool = False
    scale: Mapping[str, int] = field(default_factory=dict)
    parallel: int = 8
    timeout: float | None = None  # stop timeout when recreating
    wait_timeout: float = 300.0
    pull: str | None = None  # overrides every service's pull_policy
    host: str | None = None  # of a lab split across hosts: make only this host's part
    strict_limits: bool = False  # a limit the host cannot hold (rootless) is an error, not a note
    no_deps: bool = False  # only ``services``, not what they depend on
    recreate_dependencies: bool = False  # --always-recreate-deps
    build: str = "missing"  # images of buildable services: missing (build what is not there), always, never

    @property
    def plain(self) -> bool:
        """An ``up`` whose desired state depends on the project alone (so the fast path may store it)."""
        return not (
            self.services or self.scale or self.dry_run or self.no_start or self.pull or self.no_deps
            or self.recreate_dependencies or self.host or self.build == "always"
        )  # fmt: skip


@dataclass(frozen=True)
class DownOptions:
    dry_run: bool = False
    volumes: bool = False
    timeout: float | None = None
    # Stopping is mostly waiting out grace periods, so more at once than for up: like docker compose,
    # a hundred containers that ignore SIGTERM take one grace period, not a dozen.
    parallel: int = 32
    host: str | None = None  # of a split lab: refuse when this machine's state is another host's part


@dataclass(frozen=True)
class UpResult:
    plan: Plan
    desired: DesiredState


@dataclass(frozen=True)
class DownResult:
    plan: Plan
    leftovers: list[str]
