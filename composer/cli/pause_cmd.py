"""``composer pause|unpause [SERVICE...]``: freeze and thaw containers (cgroup freezer)."""

from __future__ import annotations

from typing import Annotated

import typer

Services = Annotated[list[str] | None, typer.Argument(help="Only these services.")]


def register(app: typer.Typer) -> None:
    @app.command("pause")
    def pause(ctx: typer.Context, services: Services = None) -> None:
        """Pause the running containers of services."""
        _run(ctx, "pause", services or [])

    @app.command("unpause")
    def unpause(ctx: typer.Context, services: Services = None) -> None:
        """Unpause paused containers of services."""
        _run(ctx, "unpause", services or [])


def _run(ctx: typer.Context, verb: str, services: list[str]) -> None:
    from composer.cli.context import options
    from composer.verbs import lifecycle

    opts = options(ctx)
    opts.refuse_dry_run(verb)
    opts.enter(verb, create=False)
    sink, close = opts.sink()
    act = lifecycle.pause if verb == "pause" else lifecycle.unpause
    try:
        act(opts.layout(), opts.host(), services, events=sink)
    finally:
        close()
