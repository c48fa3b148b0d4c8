"""``composer ls``: the projects under the state root."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("ls")
    def ls(
        ctx: typer.Context,
        fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    ) -> None:
        """List projects with the state of their containers."""
        from composer.cli.context import options
        from composer.cli.tables import print_table
        from composer.verbs import views

        opts = options(ctx)
        rows = views.ls(opts.root(), opts.host())
        if fmt == "json":
            typer.echo(json.dumps([asdict(r) for r in rows]))
            return
        print_table(["NAME", "STATUS", "CONFIG FILES"], [[r.Name, r.Status, r.ConfigFiles] for r in rows])
