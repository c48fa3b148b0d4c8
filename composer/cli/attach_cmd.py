"""``composer attach [--index N] [--no-stdin] [--sig-proxy] SERVICE``: follow a running container."""

from __future__ import annotations

import functools
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer


def _feed_stdin(fifo: Path) -> None:
    """``stdin_open``: composer's stdin goes to the container's stdin FIFO, from a thread, until it ends.

    A container without ``stdin_open`` has no FIFO, and a ``tty`` one reads its terminal: nothing
    is passed then, as docker attach passes nothing to a container without an open stdin.
    """
    try:
        source = sys.stdin.fileno()
        if not stat.S_ISFIFO(os.stat(fifo).st_mode):
            return
        target = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # the container holds it open
    except (OSError, ValueError, AttributeError):  # no stdin of ours, or no FIFO of the container's
        return
    os.set_blocking(target, True)
    threading.Thread(target=_copy, args=(source, target), daemon=True).start()


def _copy(source: int, target: int) -> None:
    from composer.cli.terminal import write_all

    try:
        while data := os.read(source, 65536):
            write_all(target, data)
    except OSError:  # the container exited (no reader left), or stdin was closed
        pass
    finally:
        os.close(target)


def register(app: typer.Typer) -> None:
    @app.command("attach")
    def attach(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="The service.")],
        index: Annotated[int, typer.Option("--index", help="Which replica.")] = 1,
        no_stdin: Annotated[
            bool,
            typer.Option("--no-stdin", help="Do not pass standard input (given to stdin_open containers)."),
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

        del detach_keys
        opts = options(ctx)
        layout, host = opts.layout(), opts.host()
        target = find_container(read_store(layout), service, index)
        if host.container_status(layout, target.name).state not in ("running", "paused"):
            raise ContainerError(f"container {target.name} is not running", hint=f"composer start {service}")
        fifo = layout.container(target.name).stdin_fifo
        feed = None if no_stdin else functools.partial(_feed_stdin, fifo)
        try:
            for line in follow_until_exit(layout, host, target.name, tail=0, on_open=feed):
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
