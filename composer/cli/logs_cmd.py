"""``composer logs``: the containers' output."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer

_COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only these services.")] = None,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following new lines.")] = False,
        timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show timestamps.")] = False,
        tail: Annotated[
            str, typer.Option("--tail", help="Lines from the end of each log, or 'all'.")
        ] = "all",
        no_prefix: Annotated[
            bool, typer.Option("--no-log-prefix", "--no-prefix", help="No container name prefix.")
        ] = False,
        since: Annotated[
            str | None, typer.Option("--since", help="Lines since a time (RFC 3339) or a duration (10m).")
        ] = None,
        until_time: Annotated[
            str | None, typer.Option("--until", help="Lines before a time (RFC 3339) or a duration (10m).")
        ] = None,
        index: Annotated[int | None, typer.Option("--index", help="Which replica.")] = None,
        no_color: Annotated[bool, typer.Option("--no-color", help="Monochrome output.")] = False,
    ) -> None:
        """Print the containers' stdout and stderr."""
        from composer.cli.context import options
        from composer.verbs.logs import logs as read_logs

        opts = options(ctx)
        opts.enter("logs", create=False)  # without root: -f follows the project's own PIDs
        count = None if tail == "all" else int(tail)
        window = _window(since, until_time)
        lines = read_logs(
            opts.layout(), services or (), tail=count, follow=follow, timestamps=timestamps, window=window,
            index=index,
        )  # fmt: skip
        with contextlib.suppress(KeyboardInterrupt):
            print_lines(lines, prefix=not no_prefix, colour=not no_color)


def _window(since: str | None, until: str | None) -> Any:
    if since is None and until is None:
        return None
    import time

    from composer.verbs.logs import TimeWindow, time_bound

    now = time.time_ns()
    try:
        return TimeWindow(time_bound(since, now) if since else "", time_bound(until, now) if until else "")
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--since/--until") from None


def print_lines(lines: Iterable[Any], *, prefix: bool, colour: bool = True) -> None:
    colour_of: dict[str, str] = {}
    width = 0
    use_colour = colour and sys.stdout.isatty()
    for item in lines:
        text = item.text if item.text.endswith("\n") else item.text + "\n"
        if not prefix:
            sys.stdout.write(text)
        else:
            code = colour_of.setdefault(item.container, _COLOURS[len(colour_of) % len(_COLOURS)])
            width = max(width, len(item.container))
            label = f"{item.container:<{width}} | "
            sys.stdout.write((f"\x1b[{code}m{label}\x1b[0m" if use_colour else label) + text)
        sys.stdout.flush()
