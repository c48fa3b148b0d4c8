"""``composer watch [SERVICE...] [--no-up]``: keep containers in step with the sources (``develop.watch``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from composer.cli.context import GlobalOptions
    from composer.project.loader import LoadedProject


def register(app: typer.Typer) -> None:
    @app.command("watch")
    def watch(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only these services.")] = None,
        no_up: Annotated[bool, typer.Option("--no-up", help="Do not bring the project up first.")] = False,
        prune: Annotated[
            bool, typer.Option("--prune", help="Accepted: nothing is built, nothing to prune.")
        ] = True,
        quiet: Annotated[bool, typer.Option("--quiet", help="Hide what is synced or restarted.")] = False,
    ) -> None:
        """Sync files, restart or run commands in containers as the sources change, until Ctrl-C."""
        from composer.cli.context import options

        del prune
        opts = options(ctx)
        opts.refuse_dry_run("watch")
        opts.enter("watch", create=False)
        loaded = opts.load()
        if not no_up:
            from composer.engine import up as engine
            from composer.engine.options import UpOptions

            sink, close = opts.sink("quiet" if quiet else None)
            try:
                chosen = UpOptions(services=tuple(services or ()))
                engine.up(loaded, chosen, roots=opts.roots(), host=opts.host(), events=sink)
            finally:
                close()
        try:
            run_watch(opts, loaded, services or [], quiet=quiet)
        except KeyboardInterrupt:
            return


def run_watch(
    opts: GlobalOptions,
    loaded: LoadedProject,
    services: list[str],
    *,
    quiet: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Initial syncs, then one batch of steps per quiet spell of changes, until ``stop()``."""
    import os

    from composer.verbs.watch import apply_steps, initial_steps, plan_steps, rules_of

    rules = rules_of(loaded, services)
    layout, host = opts.root().project(loaded.name), opts.host()
    sink, close = opts.sink("quiet" if quiet else "plain")
    try:
        apply_steps(layout, host, initial_steps(rules), events=sink)
        if not quiet:
            typer.echo(f"watching {', '.join(sorted({r.path for r in rules}))}", err=True)
        for batch in host.watch_files(sorted({r.path for r in rules}), debounce=0.5, stop=stop):
            apply_steps(layout, host, plan_steps(rules, batch, os.path.exists), events=sink)
    finally:
        close()
