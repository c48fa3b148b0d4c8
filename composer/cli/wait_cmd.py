"""``composer wait [--down-project] SERVICE...``: block until the containers stop."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("wait")
    def wait(
        ctx: typer.Context,
        services: Annotated[
            list[str] | None, typer.Argument(help="Services to wait for (all if none).")
        ] = None,
        down_project: Annotated[
            bool, typer.Option("--down-project", help="Take the project down when the first container stops.")
        ] = False,
    ) -> None:
        """Wait for containers to stop; the exit status is the (last, or with --down-project first) one's."""
        from composer.cli.context import options
        from composer.verbs.wait import wait_exits

        opts = options(ctx)
        if down_project:
            opts.refuse_dry_run("wait --down-project")
            opts.enter("wait", create=False)
        layout, host = opts.layout(), opts.host()

        def report(name: str, code: int) -> None:
            typer.echo(f"container {name} exited with status code {code}")

        code = wait_exits(layout, host, services or (), on_exit=report, first_only=down_project)
        if down_project:
            from composer.engine.down import down
            from composer.engine.options import DownOptions

            down(layout.name, DownOptions(), roots=opts.roots(), host=host)
        raise typer.Exit(code)
