"""``composer top``: the processes running in each container."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("top")
    def top(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only these services.")] = None,
    ) -> None:
        """Show the processes of the project's containers."""
        from composer.cli.context import options
        from composer.cli.tables import print_table
        from composer.verbs import views

        opts = options(ctx)
        opts.enter("top", create=False)
        layout, host = opts.layout(), opts.host()
        for row in views.ps(layout, host, services=services or ()):
            typer.echo(row.Name)
            procs = views.top(layout, host, row.Name)
            print_table(
                ["UID", "PID", "PPID", "TIME", "CMD"],
                [[p.UID, str(p.PID), str(p.PPID), p.TIME, p.CMD] for p in procs],
            )
            typer.echo("")
