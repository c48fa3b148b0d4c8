"""``composer rm [-f] [-s] [-v] [SERVICE...]``: remove stopped service containers."""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("rm")
    def rm(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only these services.")] = None,
        force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask to confirm.")] = False,
        stop: Annotated[bool, typer.Option("--stop", "-s", help="Stop running containers first.")] = False,
        volumes: Annotated[
            bool,
            typer.Option(
                "--volumes", "-v", help="Anonymous volumes too (they live in the container: always)."
            ),
        ] = False,
    ) -> None:
        """Remove stopped containers (with -s, stop them first); the next up makes them again."""
        from composer.cli.context import options
        from composer.engine.remove import remove_containers
        from composer.verbs.remove import removal

        del volumes
        opts = options(ctx)
        if not opts.dry_run:
            opts.enter("rm", create=False)
        layout, host = opts.layout(), opts.host()
        chosen = removal(layout, host, services or (), stop=stop)
        if not chosen.names:
            typer.echo("No stopped containers", err=True)
            return
        if opts.dry_run:
            for name in chosen.names:
                typer.echo(f"remove         container:{name}")
            return
        if not force and sys.stdin.isatty():
            typer.echo(f"Going to remove {', '.join(chosen.names)}", err=True)
            if not typer.confirm("Are you sure?", default=False, err=True):
                return
        sink, close = opts.sink()
        try:
            remove_containers(layout.name, chosen.names, roots=opts.roots(), host=host, events=sink)
        finally:
            close()
