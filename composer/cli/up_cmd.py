"""``composer up``: converge the host on the project file, then attach to the logs unless -d."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from composer.cli.context import GlobalOptions

if TYPE_CHECKING:
    from composer.engine.fastpath import UpInputs
    from composer.model.desired import DesiredState


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        ctx: typer.Context,
        services: Annotated[
            list[str] | None, typer.Argument(help="Only these services (and their dependencies).")
        ] = None,
        detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
        force_recreate: Annotated[
            bool, typer.Option("--force-recreate", help="Recreate every container.")
        ] = False,
        no_recreate: Annotated[
            bool, typer.Option("--no-recreate", help="Never recreate existing containers.")
        ] = False,
        remove_orphans: Annotated[
            bool,
            typer.Option("--remove-orphans", help="Remove containers of services no longer in the file."),
        ] = False,
        no_start: Annotated[bool, typer.Option("--no-start", help="Create, but do not start.")] = False,
        scale: Annotated[
            list[str] | None, typer.Option("--scale", metavar="SERVICE=N", help="Replicas of a service.")
        ] = None,
        wait: Annotated[
            bool, typer.Option("--wait", help="Return once everything is running/healthy (implies -d).")
        ] = False,
        wait_timeout: Annotated[
            float, typer.Option("--wait-timeout", help="Seconds to wait (with --wait).")
        ] = 300.0,
        timeout: Annotated[
            float | None, typer.Option("--timeout", "-t", help="Stop timeout when recreating.")
        ] = None,
        parallel: Annotated[int, typer.Option("--parallel", help="Actions run at once.")] = 8,
        pull: Annotated[
            str | None, typer.Option("--pull", help="Pull policy for every image: always, missing, never.")
        ] = None,
        build: Annotated[bool, typer.Option("--build", help="Build images before starting.")] = False,
        no_build: Annotated[
            bool, typer.Option("--no-build", help="Do not build images, even missing ones.")
        ] = False,
        progress: Annotated[
            str, typer.Option("--progress", help="auto, tty, plain, json or quiet.")
        ] = "auto",
        quiet: Annotated[bool, typer.Option("--quiet", help="Same as --progress quiet.")] = False,
    ) -> None:
        """Create and start the project's networks, links and containers."""
        from composer.cli.context import options
        from composer.cli.progress import make_sink
        from composer.engine import up as engine
        from composer.engine.options import UpOptions

        opts = options(ctx)
        if not dry_run:
            _require_root()
        up_options = UpOptions(
            services=tuple(services or ()),
            dry_run=dry_run,
            force_recreate=force_recreate,
            no_recreate=no_recreate,
            remove_orphans=remove_orphans,
            no_start=no_start,
            scale=_parse_scale(scale or []),
            parallel=parallel,
            timeout=timeout,
            wait_timeout=wait_timeout,
            pull=pull,
            build=_build_mode(build, no_build),
        )
        inputs = _inputs(opts)
        sink, close = make_sink("quiet" if quiet else progress)
        try:
            host = opts.host()
            result = None
            if inputs is not None:
                result = engine.up_cached(inputs, up_options, roots=opts.roots(), host=host, events=sink)
            if result is None:  # something may have changed: load the project and converge
                loaded = opts.load()
                result = engine.up(
                    loaded, up_options, roots=opts.roots(), host=host, events=sink, inputs=inputs
                )
        finally:
            close()
        project = result.desired.project
        if dry_run:
            typer.echo(result.plan.render(), nl=False)
            return
        for note in result.plan.notes:
            typer.echo(f"warning: {note}", err=True)
        if not result.plan:
            typer.echo("nothing to do: the project is up to date", err=True)
        if wait:
            from composer.engine.wait import wait_ready

            wait_ready(opts.root().project(project), result.desired, host, timeout=wait_timeout)
            return
        if detach or no_start:
            return
        _attach(opts, project, result.desired, timeout)


def _inputs(opts: GlobalOptions) -> UpInputs | None:
    from composer.engine.fastpath import UpInputs
    from composer.project.discovery import project_files

    files = project_files(opts.files, opts.project_directory)
    if not files:
        return None
    return UpInputs(
        files=tuple(files),
        project_name=opts.project_name,
        project_directory=opts.project_directory.absolute() if opts.project_directory else None,
        env_files=tuple(opts.env_files),
        profiles=tuple(opts.profiles),
    )


def _build_mode(build: bool, no_build: bool) -> str:
    from composer.errors import ComposerError

    if build and no_build:
        raise ComposerError("--build and --no-build cannot be given together")
    return "always" if build else "never" if no_build else "missing"


def _require_root() -> None:
    from composer.kernel.privileges import require_root

    require_root("up")


def _parse_scale(items: list[str]) -> dict[str, int]:
    from composer.errors import ComposerError

    scale: dict[str, int] = {}
    for item in items:
        service, sep, count = item.partition("=")
        if not sep or not count.isdigit():
            raise ComposerError(f"--scale {item!r}: expected SERVICE=N", hint="e.g. --scale web=3")
        scale[service] = int(count)
    return scale


def _attach(opts: GlobalOptions, project: str, desired: DesiredState, timeout: float | None) -> None:
    """Follow the logs with a coloured prefix per container; Ctrl-C stops the project's containers."""
    from composer.cli.logs_cmd import print_lines
    from composer.verbs import lifecycle
    from composer.verbs.logs import logs

    layout, host = opts.root().project(project), opts.host()
    services = sorted({c.service for c in desired.containers.values()})
    names = [c.name for c in desired.containers.values()]

    def all_exited() -> bool:
        return all(host.container_status(layout, n).state in ("exited", "dead", "created") for n in names)

    try:
        print_lines(logs(layout, services, follow=True, until=all_exited), prefix=True)
    except KeyboardInterrupt:
        typer.echo("Gracefully stopping... (press Ctrl+C again to force)", err=True)
        lifecycle.stop(layout, host, services, timeout=timeout)
