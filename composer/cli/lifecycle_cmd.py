"""``composer start|stop|restart|kill``: act on containers that ``up`` made."""

from __future__ import annotations

from typing import Annotated

import typer

from composer.cli.context import GlobalOptions
from composer.events import EventSink

Services = Annotated[list[str] | None, typer.Argument(help="Only these services.")]
Timeout = Annotated[float | None, typer.Option("--timeout", "-t", help="Seconds before SIGKILL.")]


def register(app: typer.Typer) -> None:
    @app.command("start")
    def start(ctx: typer.Context, services: Services = None) -> None:
        """Start existing containers."""
        from composer.verbs import lifecycle

        opts, sink = _prepare(ctx, "start")
        lifecycle.start(opts.layout(), opts.host(), services or (), events=sink)

    @app.command("stop")
    def stop(ctx: typer.Context, services: Services = None, timeout: Timeout = None) -> None:
        """Stop running containers (stop_signal, grace period, then SIGKILL)."""
        from composer.verbs import lifecycle

        opts, sink = _prepare(ctx, "stop")
        lifecycle.stop(opts.layout(), opts.host(), services or (), timeout=timeout, events=sink)

    @app.command("restart")
    def restart(ctx: typer.Context, services: Services = None, timeout: Timeout = None) -> None:
        """Restart containers."""
        from composer.verbs import lifecycle

        opts, sink = _prepare(ctx, "restart")
        lifecycle.restart(opts.layout(), opts.host(), services or (), timeout=timeout, events=sink)

    @app.command("kill")
    def kill(
        ctx: typer.Context,
        services: Services = None,
        signal_name: Annotated[str, typer.Option("--signal", "-s", help="Signal to send.")] = "SIGKILL",
    ) -> None:
        """Send a signal to containers' main processes."""
        from composer.verbs import lifecycle

        opts, sink = _prepare(ctx, "kill")
        lifecycle.kill(opts.layout(), opts.host(), services or (), sig=_signal(signal_name), events=sink)


def _prepare(ctx: typer.Context, verb: str) -> tuple[GlobalOptions, EventSink]:
    from composer.cli.context import options
    from composer.cli.progress import make_sink

    opts = options(ctx)
    opts.enter(verb)
    sink, _close = make_sink("auto")
    return opts, sink


def _signal(name: str) -> int:
    from composer.errors import ComposerError
    from composer.model.naming import signal_number

    number = signal_number(name)
    if number is None:
        raise ComposerError(f"unknown signal {name!r}", hint="e.g. SIGTERM, SIGHUP, SIGKILL or a number")
    return number
