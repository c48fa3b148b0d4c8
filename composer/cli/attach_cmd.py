"""``composer attach [--index N] [--no-stdin] [--sig-proxy] SERVICE``: follow a running container."""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("attach")
    def attach(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="The service.")],
        index: Annotated[int, typer.Option("--index", help="Which replica.")] = 1,
        no_stdin: Annotated[
            bool, typer.Option("--no-stdin", help="Accepted: standard input is never attached.")
        ] = False,
        sig_proxy: Annotated[
            bool, typer.Option("--sig-proxy/--no-sig-proxy", help="Pass Ctrl-C on to the container.")
        ] = True,
        detach_keys: Annotated[
            str | None, typer.Option("--detach-keys", help="Accepted: Ctrl-C detaches without --sig-proxy.")
        ] = None,
    ) -> None:
        """Show a running container's output until it exits; its exit status becomes composer's."""
        import signal

        from composer.cli.context import options
        from composer.errors import ContainerError
        from composer.store.journal import read_store
        from composer.verbs.run import exit_code, follow_until_exit
        from composer.verbs.targets import find_container

        del no_stdin, detach_keys
        opts = options(ctx)
        layout, host = opts.layout(), opts.host()
        target = find_container(read_store(layout), service, index)
        if host.container_status(layout, target.name).state not in ("running", "paused"):
            raise ContainerError(f"container {target.name} is not running", hint=f"composer start {service}")
        try:
            for line in follow_until_exit(layout, host, target.name, tail=0):
                stream = sys.stderr if line.stream == "stderr" else sys.stdout
                stream.write(line.text if line.text.endswith("\n") else line.text + "\n")
                stream.flush()
        except KeyboardInterrupt:
            if not sig_proxy:
                return
            host.kill_container(layout, target.name, signal.SIGINT)
            for line in follow_until_exit(layout, host, target.name, tail=0):
                sys.stdout.write(line.text)
        raise typer.Exit(exit_code(layout, host, target.name))
