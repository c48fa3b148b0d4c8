"""``composer run [OPTIONS] SERVICE [COMMAND [ARGS...]]``: a one-off container of a service."""

from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from composer.cli.context import GlobalOptions
    from composer.engine.hosts.base import Host

Repeated = list[str] | None


def register(app: typer.Typer) -> None:
    @app.command("run", context_settings={"allow_interspersed_args": False})
    def run(
        ctx: typer.Context,
        service: Annotated[str, typer.Argument(help="The service.")],
        command: Annotated[list[str] | None, typer.Argument(help="The command and its arguments.")] = None,
        detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")] = False,
        remove: Annotated[bool, typer.Option("--rm", help="Remove the container once it exits.")] = False,
        no_tty: Annotated[
            bool, typer.Option("--no-TTY", "-T", help="No pseudo-terminal, even on a terminal.")
        ] = False,
        interactive: Annotated[
            bool,
            typer.Option(
                "--interactive/--no-interactive",
                "-i",
                help="Standard input goes to the command (a pipe's end is its EOF); not with -d.",
            ),
        ] = True,
        env: Annotated[Repeated, typer.Option("--env", "-e", help="KEY=VALUE, or KEY from here.")] = None,
        label: Annotated[Repeated, typer.Option("--label", "-l", help="KEY=VALUE label.")] = None,
        user: Annotated[str | None, typer.Option("--user", "-u", help="Run as this user.")] = None,
        workdir: Annotated[str | None, typer.Option("--workdir", "-w", help="Working directory.")] = None,
        entrypoint: Annotated[
            str | None, typer.Option("--entrypoint", help="Override the entrypoint (shell words).")
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="The container's name.")] = None,
        volume: Annotated[Repeated, typer.Option("--volume", "-v", help="Bind or volume mount.")] = None,
        publish: Annotated[Repeated, typer.Option("--publish", "-p", help="Publish a port.")] = None,
        no_deps: Annotated[bool, typer.Option("--no-deps", help="Do not start linked services.")] = False,
        service_ports: Annotated[
            bool, typer.Option("--service-ports", help="Publish the service's ports.")
        ] = False,
        use_aliases: Annotated[
            bool, typer.Option("--use-aliases", help="Give the service's network aliases.")
        ] = False,
        build: Annotated[bool, typer.Option("--build", help="Build the service's image first.")] = False,
        quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without progress.")] = False,
        remove_orphans: Annotated[
            bool, typer.Option("--remove-orphans", help="Accepted: up --remove-orphans removes them.")
        ] = False,
    ) -> None:
        """Run a one-off command in a new container of a service; its exit status becomes composer's."""
        import dataclasses

        from composer.cli.context import options
        from composer.cli.terminal import terminal_size, wants_terminal
        from composer.engine.executor import PlanFailed
        from composer.engine.run import RunRequest, oneoff_name, run_oneoff
        from composer.errors import ComposerError

        del remove_orphans
        if remove and detach:
            raise ComposerError(
                "run --rm with -d: with no daemon, nothing would remove the container when it exits",
                hint="run it in the foreground with --rm, or remove it later with composer rm",
            )
        opts = options(ctx)
        opts.refuse_dry_run("run")
        opts.enter("run")
        request = RunRequest(
            service=service,
            command=tuple(command) if command else None,
            entrypoint=tuple(shlex.split(entrypoint)) if entrypoint is not None else None,
            env=environment(env or []),
            labels=dict(item.partition("=")[::2] for item in label or []),
            user=user,
            working_dir=workdir,
            volumes=tuple(volume or []),
            publish=tuple(publish or []),
            service_ports=service_ports,
            use_aliases=use_aliases,
            no_deps=no_deps,
            name=name,
            build="always" if build else "missing",
            stdin=_stdin_fd() if interactive and not detach else -1,
            tty=terminal_size() if wants_terminal(detach, no_tty) and interactive else None,
        )
        loaded = opts.load()
        request = dataclasses.replace(request, name=name or oneoff_name(loaded.name, service))
        sink, close = opts.sink("quiet" if quiet_pull or not detach else None)
        host = opts.host()  # one instance: the terminal of a tty start comes back to it
        try:
            made = run_oneoff(loaded, request, roots=opts.roots(), host=host, events=sink)
        except PlanFailed as error:
            raise typer.Exit(_failed_start(opts, loaded.name, request.name or "", error, remove)) from None
        finally:
            close()
        if detach:
            typer.echo(made.name)
            return
        if request.tty:
            raise typer.Exit(_on_terminal(opts, host, loaded.name, made.name, remove))
        raise typer.Exit(_follow(opts, loaded.name, made.name, remove))


def _stdin_fd() -> int:
    """composer's own stdin, when it has one."""
    try:
        return sys.stdin.fileno() if sys.stdin is not None else -1
    except (OSError, ValueError):  # closed, or replaced by something with no fd
        return -1


def environment(items: list[str]) -> dict[str, str]:
    """``-e KEY=VALUE``; a bare ``-e KEY`` takes KEY from composer's environment (left out when unset)."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep:
            result[key] = value
        elif key in os.environ:
            result[key] = os.environ[key]
    return result


def _failed_start(opts: GlobalOptions, project: str, name: str, error: Exception, remove: bool) -> int:
    """The one-off could not start (no such program, ...): docker's status for that (127), after --rm.

    Any other failure (a dependency, the network) is raised as it is.
    """
    from composer.engine.executor import PlanFailed
    from composer.engine.plan import Verb
    from composer.model.ids import container_id

    assert isinstance(error, PlanFailed)
    ours = [a for a, _ in error.failures if a.rid == container_id(name) and a.verb is Verb.START]
    layout, host = opts.root().project(project), opts.host()
    status = host.container_status(layout, name)
    if not ours or status.exit_code is None:
        raise error
    sys.stderr.write(f"error: {error.render()}\n")
    if remove:
        from composer.engine.remove import remove_containers

        remove_containers(project, [name], roots=opts.roots(), host=host)
    return status.exit_code


def _on_terminal(opts: GlobalOptions, host: Host, project: str, name: str, remove: bool) -> int:
    """Relay the one-off's terminal until it exits; its exit status."""
    from composer.cli.terminal import relay
    from composer.verbs.run import wait_finished

    layout = opts.root().project(project)
    master = host.take_terminal(name)
    if master >= 0:
        relay(master)
    code = wait_finished(layout, host, name, poll_interval=0.02)
    if remove:
        from composer.engine.remove import remove_containers

        remove_containers(project, [name], roots=opts.roots(), host=host)
    return code


def _follow(opts: GlobalOptions, project: str, name: str, remove: bool) -> int:
    """Print the one-off's output until it exits; Ctrl-C stops it. Its exit status."""
    from composer.verbs.run import exit_code, follow_until_exit

    layout, host = opts.root().project(project), opts.host()
    try:
        for line in follow_until_exit(layout, host, name):
            stream = sys.stderr if line.stream == "stderr" else sys.stdout
            stream.write(line.text if line.text.endswith("\n") else line.text + "\n")
            stream.flush()
        code = exit_code(layout, host, name)
    except KeyboardInterrupt:
        host.stop_container(layout, name, None)
        code = 130
    if remove:
        from composer.engine.remove import remove_containers

        remove_containers(project, [name], roots=opts.roots(), host=host)
    return code
