"""``composer scale SERVICE=N... [--no-deps]``: set the number of containers of services."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("scale")
    def scale(
        ctx: typer.Context,
        replicas: Annotated[list[str], typer.Argument(metavar="SERVICE=N...", help="Replicas per service.")],
        no_deps: Annotated[bool, typer.Option("--no-deps", help="Do not start linked services.")] = False,
    ) -> None:
        """Scale services: make or remove containers (highest numbers first); the others stay as they are."""
        from composer.cli.context import options
        from composer.cli.up_cmd import _parse_scale
        from composer.engine import up as engine
        from composer.engine.options import UpOptions

        opts = options(ctx)
        counts = _parse_scale(replicas)
        if not opts.dry_run:
            opts.enter("scale")
        up_options = UpOptions(
            services=tuple(counts), scale=counts, no_recreate=True, no_deps=no_deps, dry_run=opts.dry_run,
            parallel=opts.parallel or 8,
        )  # fmt: skip
        sink, close = opts.sink()
        try:
            result = engine.up(opts.load(), up_options, roots=opts.roots(), host=opts.host(), events=sink)
        finally:
            close()
        if opts.dry_run:
            typer.echo(result.plan.render(), nl=False)
