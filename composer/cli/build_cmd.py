"""``composer build [SERVICE...]`` and ``composer builder prune``: build the services' images.

Progress is a line per step (``#N [service stage] INSTRUCTION`` then ``CACHED``
or ``DONE 0.4s``) with the RUN output between, on standard error; ``--progress
json`` writes one JSON object per event instead; ``-q`` prints only the image
ids on standard output.  A failing step ends the command with its command, exit
status and last output lines, exit status 1, and no image is recorded.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from composer.images.builder.builder import Progress
    from composer.images.builder.compose import ServiceBuild


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build(
        ctx: typer.Context,
        services: Annotated[
            list[str] | None, typer.Argument(help="Services to build (default: all).")
        ] = None,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the build cache.")] = False,
        pull: Annotated[bool, typer.Option("--pull", help="Pull newer versions of the base images.")] = False,
        build_arg: Annotated[
            list[str] | None, typer.Option("--build-arg", metavar="KEY=VALUE", help="A build argument.")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the image ids.")] = False,
        progress: Annotated[str, typer.Option("--progress", help="auto, plain, json or quiet.")] = "auto",
    ) -> None:
        """Build the images of the project's services that have a `build:` section."""
        from composer.cli.context import options
        from composer.images.builder.compose import known_services, run_builds, service_builds
        from composer.images.store import ImageStore

        _require_root()
        opts = options(ctx)
        loaded = opts.load()
        names = known_services(loaded, list(services or ()))
        builds = service_builds(
            loaded, names, no_cache=no_cache, pull=pull, build_args=parse_build_args(build_arg or [])
        )
        store = ImageStore(opts.image_root)
        mode = "quiet" if quiet else progress
        results = run_builds(builds, store, lambda b: make_progress(mode, b))
        for name, result in sorted(results.items()):
            if quiet:
                typer.echo(result.image.image_id)
            elif mode != "json":
                sys.stderr.write(
                    f"built {name}: {result.image.reference} {result.image.image_id[:19]} "
                    f"({result.steps} steps, {result.cached} cached, {result.seconds:.2f}s)\n"
                )

    @app.command("builder")
    def builder(
        ctx: typer.Context,
        action: Annotated[str, typer.Argument(help="prune: drop the build cache.")],
    ) -> None:
        """Manage the build cache (`composer builder prune`)."""
        from composer.cli.context import options
        from composer.errors import ComposerError
        from composer.images.builder.cache import BuildCache

        if action != "prune":
            raise ComposerError(f"unknown builder action {action!r}", hint="use: composer builder prune")
        opts = options(ctx)
        count = BuildCache(opts.image_root / "build-cache").prune()
        typer.echo(f"removed {count} build cache entries")


def parse_build_args(items: list[str]) -> dict[str, str]:
    import os

    from composer.errors import ComposerError

    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise ComposerError(f"invalid --build-arg {item!r}", hint="use --build-arg KEY=VALUE")
        if eq:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]  # docker's rule: a bare KEY takes the caller's environment
    return out


def make_progress(mode: str, build: ServiceBuild) -> Progress:
    from composer.errors import ComposerError
    from composer.images.builder.builder import OutputLine, StepEvent

    if mode not in ("auto", "plain", "json", "quiet", "tty", "rich"):
        raise ComposerError(f"unknown --progress {mode!r}", hint="use auto, plain, json or quiet")

    def plain(event: StepEvent | OutputLine) -> None:
        if isinstance(event, OutputLine):
            sys.stderr.write(f"#{event.step} {event.line}\n")
            sys.stderr.flush()
            return
        head = f"#{event.number} [{build.service} {event.stage} {event.number}/{event.total}] {event.text}"
        if event.status == "running":
            sys.stderr.write(head + "\n")
        elif event.status == "cached":
            sys.stderr.write(head + " CACHED\n")
        elif event.status == "done" and event.seconds >= 0.05:
            sys.stderr.write(f"#{event.number} DONE {event.seconds:.1f}s\n")
        elif event.status == "failed":
            sys.stderr.write(f"#{event.number} ERROR after {event.seconds:.1f}s\n")
        sys.stderr.flush()

    def as_json(event: StepEvent | OutputLine) -> None:
        if isinstance(event, OutputLine):
            record = {"service": build.service, "step": event.step, "output": event.line}
        else:
            record = {"service": build.service, "stage": event.stage, "step": event.number,
                      "total": event.total, "instruction": event.text, "status": event.status,
                      "seconds": round(event.seconds, 4)}  # fmt: skip
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    def nothing(event: StepEvent | OutputLine) -> None:
        return None

    if mode == "json":
        return as_json
    if mode == "quiet":
        return nothing
    return plain


def _require_root() -> None:
    from composer.kernel.privileges import require_root

    require_root("build")
