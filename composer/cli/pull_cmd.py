"""``composer pull [SERVICE...]``: fetch the images of the project's services into the store,
and the sources of their ``type: image`` mounts.

Services built from a ``rootfs:`` folder or tarball have no image and are skipped,
as are services whose ``pull_policy`` is ``never`` or ``build``, and with
``--ignore-buildable`` those that have a ``build:`` section.  Without ``--policy`` every
image is checked against its registry (``always``), as ``docker compose pull``
does; ``--policy missing`` only fetches what the store lacks.  Each image is
pulled once even when several services use it.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from composer.images.progress import PullProgress


def register(app: typer.Typer) -> None:
    @app.command("pull")
    def pull(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Services to pull (default: all).")] = None,
        policy: Annotated[
            str | None, typer.Option("--policy", help="Pull policy: always or missing (default always).")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
        ignore_buildable: Annotated[
            bool, typer.Option("--ignore-buildable", help="Skip services that have a `build:` section.")
        ] = False,
        progress: Annotated[
            str, typer.Option("--progress", help="Progress output: auto, plain or rich.")
        ] = "auto",
    ) -> None:
        """Pull the images of the project's services."""
        from composer.cli.context import options
        from composer.images.store import ImageStore

        opts = options(ctx)
        opts.enter_images()
        targets = _images_to_pull(opts.load().spec.services, services or [], policy, ignore_buildable)
        store = ImageStore(opts.image_root)
        renderer, scope = _renderer(progress, quiet)
        with scope:
            for image, (effective, platform) in targets.items():
                store.ensure(image, policy=effective, platform=platform, progress=renderer)


def _images_to_pull(
    services: dict[str, Any], wanted: list[str], policy: str | None, ignore_buildable: bool = False
) -> dict[str, tuple[str, Any]]:
    from composer.errors import ComposerError

    unknown = sorted(set(wanted) - set(services))
    if unknown:
        raise ComposerError(f"no such service: {', '.join(unknown)}")
    targets: dict[str, tuple[str, Any]] = {}
    for name in sorted(wanted or services):
        spec = services[name]
        if not getattr(spec, "image", None) or getattr(spec, "pull_policy", None) in ("never", "build"):
            continue
        if ignore_buildable and getattr(spec, "build", None) is not None:
            continue
        targets.setdefault(spec.image, (policy or "always", getattr(spec, "platform", None)))
    for name in sorted(wanted or services):  # the sources of type: image mounts, which up needs too
        for volume in getattr(services[name], "volumes", None) or []:
            if volume.type == "image" and volume.source:
                targets.setdefault(volume.source, (policy or "always", None))
    return targets


def _renderer(mode: str, quiet: bool) -> tuple[PullProgress | None, AbstractContextManager[Any]]:
    from composer.errors import ComposerError
    from composer.images.progress import PlainProgress, RichProgress

    if mode not in ("auto", "plain", "rich"):
        raise ComposerError(f"unknown --progress {mode!r}", hint="use auto, plain or rich")
    if quiet:
        return None, nullcontext()
    if mode == "rich" or (mode == "auto" and sys.stderr.isatty()):
        rich = RichProgress()
        return rich, rich
    return PlainProgress(sys.stderr), nullcontext()
