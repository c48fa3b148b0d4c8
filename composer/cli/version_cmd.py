"""``composer version [--format json] [--short]``."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version(
        fmt: Annotated[str, typer.Option("--format", "-f", help="pretty or json.")] = "pretty",
        short: Annotated[bool, typer.Option("--short", help="Only the version number.")] = False,
    ) -> None:
        """Show composer's version."""
        import json

        from composer import __version__

        if short:
            typer.echo(__version__)
        elif fmt == "json":
            typer.echo(json.dumps({"version": __version__}))
        elif fmt == "pretty":
            typer.echo(f"composer version {__version__}")
        else:
            raise typer.BadParameter(f"{fmt!r}: expected pretty or json", param_hint="--format")
