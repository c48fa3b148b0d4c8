"""``composer up``: converge the host on the project file, then attach to the logs unless -d."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from composer.cli.context import GlobalOptions

if TYPE_CHECKING:
    from composer.engine.fastpath import UpInputs
    from composer.events import Event, EventSink
    from composer.model.desired import DesiredState
    from composer.verbs.attach import AbortPolicy


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
        parallel: Annotated[int | None, typer.Option("--parallel", help="Actions run at once.")] = None,
        pull: Annotated[
            str | None, typer.Option("--pull", help="Pull policy for every image: always, missing, never.")
        ] = None,
        build: Annotated[bool, typer.Option("--build", help="Build images before starting.")] = False,
        no_build: Annotated[
            bool, typer.Option("--no-build", help="Do not build images, even missing ones.")
        ] = False,
        progress: Annotated[
            str | None, typer.Option("--progress", help="auto, tty, plain, json or quiet.")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="Same as --progress quiet.")] = False,
        on_host: Annotated[
            str | None, typer.Option("--host", help="Of a lab split across hosts: make this host's part.")
        ] = None,
        strict_limits: Annotated[
            bool,
            typer.Option(
                "--strict-limits",
                help="Without root: a limit that cannot be applied is an error.",
                envvar="COMPOSER_STRICT_LIMITS",
            ),
        ] = False,
        abort_on_exit: Annotated[
            bool, typer.Option("--abort-on-container-exit", help="Stop everything when a container exits.")
        ] = False,
        abort_on_failure: Annotated[
            bool,
            typer.Option("--abort-on-container-failure", help="Stop everything when a container fails."),
        ] = False,
        exit_code_from: Annotated[
            str | None,
            typer.Option("--exit-code-from", help="Exit with this service's status (implies abort on exit)."),
        ] = None,
        attach: Annotated[
            list[str] | None, typer.Option("--attach", help="Show only these services.")
        ] = None,
        no_attach: Annotated[
            list[str] | None, typer.Option("--no-attach", help="Do not show these services.")
        ] = None,
        attach_dependencies: Annotated[
            bool, typer.Option("--attach-dependencies", help="Show the dependencies' output too.")
        ] = False,
        no_deps: Annotated[bool, typer.Option("--no-deps", help="Do not start linked services.")] = False,
        always_recreate_deps: Annotated[
            bool, typer.Option("--always-recreate-deps", help="Recreate the dependencies' containers.")
        ] = False,
        renew_anon_volumes: Annotated[
            bool,
            typer.Option(
                "--renew-anon-volumes",
                "-V",
                help="Accepted: anonymous volumes are always new when recreated.",
            ),
        ] = False,
        timestamps: Annotated[bool, typer.Option("--timestamps", help="Show timestamps.")] = False,
        no_log_prefix: Annotated[bool, typer.Option("--no-log-prefix", help="No container prefix.")] = False,
        no_color: Annotated[bool, typer.Option("--no-color", help="Monochrome output.")] = False,
        quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without progress.")] = False,
        watch: Annotated[
            bool, typer.Option("--watch", "-w", help="Follow develop.watch rules while attached.")
        ] = False,
    ) -> None:
        """Create and start the project's networks, links and containers."""
        from composer.cli.context import options
        from composer.engine import up as engine
        from composer.engine.options import UpOptions
        from composer.errors import ComposerError
        from composer.verbs.attach import AbortPolicy

        opts = options(ctx)
        dry_run = dry_run or opts.dry_run
        if not dry_run:
            opts.enter("up")
        del renew_anon_volumes
        policy = AbortPolicy(abort_on_exit, abort_on_failure, exit_code_from)
        if watch and (detach or wait):
            raise ComposerError("--watch needs the foreground: it cannot go with -d or --wait")
        if policy.aborts and (detach or wait):
            raise ComposerError("--abort-on-container-exit, --abort-on-container-failure and --exit-code-from"
                                " need the foreground: they cannot go with -d or --wait")  # fmt: skip
        up_options = UpOptions(
            services=tuple(services or ()),
            no_deps=no_deps,
            recreate_dependencies=always_recreate_deps,
            dry_run=dry_run,
            force_recreate=force_recreate,
            no_recreate=no_recreate,
            remove_orphans=remove_orphans,
            no_start=no_start,
            scale=_parse_scale(scale or []),
            parallel=parallel or opts.parallel or 8,
            timeout=timeout,
            wait_timeout=wait_timeout,
            pull=pull,
            host=on_host,
            strict_limits=strict_limits,
            build=_build_mode(build, no_build),
        )
        inputs = _inputs(opts)
        sink, close = opts.sink("quiet" if quiet else progress)
        if quiet_pull:
            sink = _without_pulls(sink)
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
        if inputs is not None:
            from composer.cli import clab_labdir

            problem = clab_labdir.write(inputs.files, result.desired)
            if problem:  # the lab is up; only its description is missing
                typer.echo(f"warning: {problem}", err=True)
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
        view = LogView(
            timestamps=timestamps, prefix=not no_log_prefix, colour=not no_color and opts.ansi != "never"
        )
        shown = _shown(result.desired, services or [], attach or [], no_attach or [], attach_dependencies)
        stop_watching = _start_watch(opts, services or []) if watch else None
        try:
            code = _attach(opts, project, result.desired, timeout, shown, policy, view)
        finally:
            if stop_watching is not None:
                stop_watching()
        raise typer.Exit(code)


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


def _parse_scale(items: list[str]) -> dict[str, int]:
    from composer.errors import ComposerError

    scale: dict[str, int] = {}
    for item in items:
        service, sep, count = item.partition("=")
        if not sep or not count.isdigit():
            raise ComposerError(f"--scale {item!r}: expected SERVICE=N", hint="e.g. --scale web=3")
        scale[service] = int(count)
    return scale


@dataclass(frozen=True)
class LogView:
    timestamps: bool = False
    prefix: bool = True
    colour: bool = True


def _start_watch(opts: GlobalOptions, services: list[str]) -> Callable[[], None]:
    """The develop.watch loop in a thread beside the logs; the function that ends it."""
    import threading

    from composer.cli.watch_cmd import run_watch
    from composer.verbs.watch import rules_of

    loaded = opts.load()
    rules_of(loaded, services)  # a rule that cannot be honoured stops up here, not in the thread
    done = threading.Event()
    thread = threading.Thread(
        target=run_watch, args=(opts, loaded, services), kwargs={"stop": done.is_set}, daemon=True
    )
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(timeout=2)

    return stop


def _without_pulls(sink: EventSink) -> EventSink:
    def filtered(event: Event) -> None:
        if event.status not in ("Pulling", "Pulled"):
            sink(event)

    return filtered


def _shown(
    desired: DesiredState, named: list[str], attach: list[str], no_attach: list[str], dependencies: bool
) -> list[str]:
    from composer.verbs.attach import attached_services

    every = sorted({c.service for c in desired.containers.values()})
    return attached_services(
        every, named, [s for s in every if s not in named], attach=attach, no_attach=no_attach,
        attach_dependencies=dependencies,
    )  # fmt: skip


def _attach(
    opts: GlobalOptions,
    project: str,
    desired: DesiredState,
    timeout: float | None,
    shown: list[str],
    policy: AbortPolicy,
    view: LogView,
) -> int:
    """Follow the shown containers' logs; Ctrl-C, or an abort the flags ask for, stops the project."""
    import threading

    from composer.cli.logs_cmd import print_lines
    from composer.verbs import lifecycle
    from composer.verbs.attach import Seen, abort_trigger, exit_status, has_finished
    from composer.verbs.logs import logs

    layout, host = opts.root().project(project), opts.host()
    services = sorted({c.service for c in desired.containers.values()})
    watched = sorted((c.name, c.service) for c in desired.containers.values() if c.service in shown)
    trigger: list[Seen] = []
    reported: set[str] = set()
    lock = threading.Lock()  # every log-following thread asks

    def read() -> list[Seen]:
        found = []
        for name, service in watched:
            status = host.container_status(layout, name)
            found.append(Seen(name, service, status.state, status.exit_code))
        return found

    def finished() -> bool:
        with lock:
            return _check()

    def _check() -> bool:
        if trigger:
            return True
        seen = read()
        for item in seen:
            if has_finished(item.state, item.exit_code) and item.name not in reported:
                reported.add(item.name)
                typer.echo(f"{item.name} exited with code {item.exit_code}")
        hit = abort_trigger(policy, seen) if policy.aborts else None
        if hit is not None:
            trigger.append(hit)
            return True
        return all(has_finished(s.state, s.exit_code) or s.state == "created" for s in seen)

    lines = logs(layout, shown, follow=True, timestamps=view.timestamps, until=finished)
    try:
        print_lines(lines, prefix=view.prefix, colour=view.colour)
    except KeyboardInterrupt:
        typer.echo("Gracefully stopping... (press Ctrl+C again to force)", err=True)
        lifecycle.stop(layout, host, services, timeout=timeout)
        return 130
    if trigger:
        typer.echo("Aborting on container exit...", err=True)
        lifecycle.stop(layout, host, services, timeout=timeout)
    final = {s.name: s for s in read()}
    return exit_status(policy, trigger[0] if trigger else None, final)
