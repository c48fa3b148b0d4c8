"""``composer fault run FILE``: link and node faults on a schedule, in the foreground.

FILE lists steps with an ``at`` offset (see :mod:`composer.project.models.labtests`),
run ``repeat`` times every ``period``; one line per step as it runs.  Ctrl-C stops
between steps; ``--restore`` then (or at the end) puts the file's link settings back
and starts what a step stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

fault_app = typer.Typer(help="Link and node faults on a schedule.", no_args_is_help=True)


@fault_app.command("run")
def fault_run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The schedule (faults: [{at: 2s, link_down: r1:eth1}, ...]).")],
    restore: Annotated[
        bool,
        typer.Option("--restore", help="At the end, put the file's link settings back, start what stopped."),
    ] = False,
) -> None:
    """Run a fault schedule against the running lab."""
    from composer.cli.context import options
    from composer.project.labfiles import load_faults
    from composer.verbs import labtest

    schedule = load_faults(file)
    opts = options(ctx)
    layout, host = opts.layout(), opts.host()

    def show(event: labtest.FaultEvent) -> None:
        status = f"FAILED: {event.error}" if event.error else "done"
        late = f"{event.late * 1000:.0f} ms late"
        typer.echo(f"round {event.round} +{event.offset:g}s  {event.step}  {status} ({late})")

    failed = 0
    try:
        failed = sum(bool(e.error) for e in labtest.run_faults(layout, host, schedule, show))
    except KeyboardInterrupt:
        typer.echo("interrupted")
    finally:
        if restore:
            labtest.restore_lab(layout, host)
            typer.echo("restored the file's link settings")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(fault_app, name="fault")
