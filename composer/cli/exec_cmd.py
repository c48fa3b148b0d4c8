"""``composer exec``: run a command in a running container."""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("exec", context_settings={"allow_interspersed_args": False})
    def exec_(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="The service.")],
        command: Annotated[list[str], typer.Argument(help="The command and its arguments.")],
        no_tty: Annotated[
            bool, typer.Option("--no-TTY", "-T", help="Do not allocate a pseudo-terminal.")
        ] = False,
        user: Annotated[str | None, typer.Option("--user", "-u", help="Run as this user.")] = None,
        workdir: Annotated[str | None, typer.Option("--workdir", "-w", help="Working directory.")] = None,
        env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE (repeatable).")] = None,
        index: Annotated[int, typer.Option("--index", help="Which replica.")] = 1,
    ) -> None:
        """Run a command inside a service's container; its exit status becomes composer's."""
        from composer.cli.context import options
        from composer.engine.hosts.base import ExecRequest
        from composer.verbs.execute import exec_in

        opts = options(ctx)
        opts.enter("exec", create=False)
        variables = dict(item.partition("=")[::2] for item in env or [])
        tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
        request = ExecRequest(tuple(command), user=user, working_dir=workdir, env=variables, tty=tty)
        code = exec_in(opts.layout(), opts.host(), service, request, index=index)
        raise typer.Exit(code)
