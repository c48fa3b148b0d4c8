"""``composer events [--json] [SERVICE...]``: the project's events as they happen."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("events")
    def events(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only these services' containers.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
        since: Annotated[
            str | None, typer.Option("--since", help="Refused: there is no event history.")
        ] = None,
        until: Annotated[
            str | None, typer.Option("--until", help="Refused: there is no event history.")
        ] = None,
    ) -> None:
        """Stream container (create, start, die, pause, health ...), network and link events."""
        from composer.cli.context import options
        from composer.errors import ComposerError
        from composer.verbs.events import watch

        if since is not None or until is not None:
            raise ComposerError(
                "events --since/--until: composer keeps no event history (there is no daemon)",
                hint="start composer events before the commands whose events you want",
            )
        opts = options(ctx)
        try:
            for item in watch(opts.layout(), opts.host(), services=tuple(services or ())):
                sys.stdout.write((json.dumps(item.as_json()) if as_json else item.render()) + "\n")
                sys.stdout.flush()
        except KeyboardInterrupt:
            return
