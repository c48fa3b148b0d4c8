"""``composer down``: remove everything the project made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from composer.cli.context import GlobalOptions


def register(app: typer.Typer) -> None:
    @app.command("down")
    def down(
        ctx: typer.Context,
        volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Remove named volumes too.")] = False,
        timeout: Annotated[
            float | None, typer.Option("--timeout", "-t", help="Seconds before SIGKILL.")
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
        remove_orphans: Annotated[
            bool,
            typer.Option("--remove-orphans", help="Accepted for compatibility: down removes all containers."),
        ] = False,
        parallel: Annotated[int | None, typer.Option("--parallel", help="Actions run at once.")] = None,
        progress: Annotated[
            str | None, typer.Option("--progress", help="auto, tty, plain, json or quiet.")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="Same as --progress quiet.")] = False,
        on_host: Annotated[
            str | None, typer.Option("--host", help="Of a lab split across hosts: this machine's host.")
        ] = None,
    ) -> None:
        """Stop and remove containers, links, networks, cgroups and state (-v: named volumes)."""
        from composer.cli.context import options
        from composer.engine.down import down as down_project
        from composer.engine.options import DownOptions
        from composer.errors import ComposerError

        opts = options(ctx)
        dry_run = dry_run or opts.dry_run
        if not dry_run:
            opts.enter("down")
        project = opts.project()
        sink, close = opts.sink("quiet" if quiet else progress)
        try:
            result = down_project(
                project,
                DownOptions(
                    dry_run=dry_run,
                    volumes=volumes,
                    timeout=timeout,
                    parallel=parallel or opts.parallel or 32,
                    host=on_host,
                ),
                roots=opts.roots(),
                events=sink,
            )
        finally:
            close()
        del remove_orphans
        if dry_run:
            typer.echo(result.plan.render(), nl=False)
            return
        _remove_lab_directory(opts, project)
        if not result.plan:
            typer.echo(f"project {project}: nothing to remove", err=True)
        if result.leftovers:
            raise ComposerError(
                f"project {project} still has: {', '.join(result.leftovers)}",
                hint="run composer down again; if it persists, report it with --debug output",
            )


def _remove_lab_directory(opts: GlobalOptions, project: str) -> None:
    from composer.cli import clab_labdir
    from composer.project.discovery import project_files

    clab_labdir.remove(project_files(opts.files, opts.project_directory), project)
