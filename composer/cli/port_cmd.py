"""``composer port``: the public address of a published port."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("port")
    def port(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="The service.")],
        private_port: Annotated[int, typer.Argument(help="The container port.")],
        protocol: Annotated[str, typer.Option("--protocol", help="tcp or udp.")] = "tcp",
        index: Annotated[int, typer.Option("--index", help="Which replica.")] = 1,
    ) -> None:
        """Print the host address a container port is published on."""
        from composer.cli.context import options
        from composer.verbs import views

        typer.echo(views.port(options(ctx).layout(), service, private_port, protocol, index))
