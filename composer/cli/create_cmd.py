"""``composer create [SERVICE...]``: make the project's containers without starting them."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("create")
    def create(
        ctx: typer.Context,
        services: Annotated[
            list[str] | None, typer.Argument(help="Only these services (and their dependencies).")
        ] = None,
        force_recreate: Annotated[
            bool, typer.Option("--force-recreate", help="Recreate every container.")
        ] = False,
        no_recreate: Annotated[
            bool, typer.Option("--no-recreate", help="Never recreate existing containers.")
        ] = False,
        remove_orphans: Annotated[
            bool, typer.Option("--remove-orphans", help="Remove containers of services gone from the file.")
        ] = False,
        pull: Annotated[
            str | None, typer.Option("--pull", help="Pull policy for every image: always, missing, never.")
        ] = None,
        quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without progress.")] = False,
        scale: Annotated[
            list[str] | None, typer.Option("--scale", metavar="SERVICE=N", help="Replicas of a service.")
        ] = None,
        build: Annotated[bool, typer.Option("--build", help="Build images before creating.")] = False,
        no_build: Annotated[bool, typer.Option("--no-build", help="Do not build images.")] = False,
    ) -> None:
        """Create networks, volumes and containers; start nothing (composer start does)."""
        from composer.cli.context import options
        from composer.cli.up_cmd import _build_mode, _parse_scale
        from composer.engine import up as engine
        from composer.engine.options import UpOptions

        opts = options(ctx)
        if not opts.dry_run:
            opts.enter("create")
        up_options = UpOptions(
            dry_run=opts.dry_run,
            services=tuple(services or ()),
            force_recreate=force_recreate,
            no_recreate=no_recreate,
            remove_orphans=remove_orphans,
            no_start=True,
            scale=_parse_scale(scale or []),
            pull=pull,
            parallel=opts.parallel or 8,
            build=_build_mode(build, no_build),
        )
        sink, close = opts.sink("quiet" if quiet_pull else None)
        try:
            result = engine.up(opts.load(), up_options, roots=opts.roots(), host=opts.host(), events=sink)
        finally:
            close()
        if opts.dry_run:
            typer.echo(result.plan.render(), nl=False)
            return
        for note in result.plan.notes:
            typer.echo(f"warning: {note}", err=True)
