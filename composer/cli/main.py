"""The ``composer`` application: global options, verb registration and error rendering."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from composer import __version__
from composer.cli.context import GlobalOptions
from composer.errors import ComposerError

# Each verb lives in composer/cli/<verb>_cmd.py and exposes register(app); they are found by name,
# so adding a verb is adding a module.
VERB_SUFFIX = "_cmd"

app = typer.Typer(
    name="composer",
    help="Declarative containers and virtual networks from one project file, without a daemon.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"composer {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    file: Annotated[
        list[Path] | None, typer.Option("--file", "-f", help="Project file (repeat to merge, in order).")
    ] = None,
    project_name: Annotated[str | None, typer.Option("--project-name", "-p", help="Project name.")] = None,
    project_directory: Annotated[
        Path | None, typer.Option("--project-directory", help="Base folder for relative paths.")
    ] = None,
    env_file: Annotated[
        list[Path] | None, typer.Option("--env-file", help="Environment file(s) for interpolation.")
    ] = None,
    profile: Annotated[list[str] | None, typer.Option("--profile", help="Enable a profile.")] = None,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="State root (default /run/composer, or $COMPOSER_ROOT)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be done; change nothing.")
    ] = False,
    parallel: Annotated[int | None, typer.Option("--parallel", help="Actions run at once.")] = None,
    ansi: Annotated[str, typer.Option("--ansi", help="Control characters: never, always, auto.")] = "auto",
    progress: Annotated[
        str | None, typer.Option("--progress", help="auto, tty, plain, json or quiet.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    opts = GlobalOptions(
        files=list(file or []),
        project_name=project_name,
        project_directory=project_directory,
        env_files=list(env_file or []),
        profiles=list(profile or []) or _profiles_from_env(),
        debug=debug,
        dry_run=dry_run,
        parallel=parallel,
        ansi=_ansi(ansi),
        progress=progress,
    )
    if root is not None:
        opts.state_root = root
    ctx.obj = opts


def _ansi(value: str) -> str:
    if value not in ("never", "always", "auto"):
        raise typer.BadParameter(f"{value!r}: expected never, always or auto", param_hint="--ansi")
    return value


def _profiles_from_env() -> list[str]:
    raw = os.environ.get("COMPOSE_PROFILES", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


# Which module holds each verb: the CLI imports and builds only the verb it runs (typer inspects
# every registered command's signature at start-up, which costs more than the verb itself).
VERB_MODULES = {
    "config": "config_cmd", "graph": "graph_cmd", "up": "up_cmd", "down": "down_cmd", "ps": "ps_cmd",
    "logs": "logs_cmd", "exec": "exec_cmd", "start": "lifecycle_cmd", "stop": "lifecycle_cmd",
    "restart": "lifecycle_cmd", "kill": "lifecycle_cmd", "top": "top_cmd", "ls": "ls_cmd",
    "port": "port_cmd", "network": "network_cmd", "pull": "pull_cmd", "images": "images_cmd",
    "rmi": "images_cmd", "image": "images_cmd", "login": "login_cmd", "logout": "login_cmd",
    "unshare": "unshare_cmd",
    "run": "run_cmd", "create": "create_cmd", "rm": "rm_cmd", "version": "version_cmd",
    "pause": "pause_cmd", "unpause": "pause_cmd", "wait": "wait_cmd", "cp": "cp_cmd",
    "stats": "stats_cmd", "events": "events_cmd", "attach": "attach_cmd", "scale": "scale_cmd",
    "volumes": "volumes_cmd", "watch": "watch_cmd",
    "build": "build_cmd", "builder": "build_cmd", "push": "push_cmd",
    "link": "link_cmd", "test": "test_cmd", "fault": "fault_cmd", "capture": "capture_cmd",
}  # fmt: skip
VERB_MODULES["convert"] = "convert_cmd"
_OPTIONS_WITH_VALUES = {"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file",
                        "--profile", "--root", "--parallel", "--ansi", "--progress"}  # fmt: skip


def verb_in(argv: list[str]) -> str | None:
    """The verb of a command line, skipping the global options (and their values) before it."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _OPTIONS_WITH_VALUES:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _register_verbs(argv: list[str]) -> None:
    verb = verb_in(argv)
    if verb in VERB_MODULES and not _wants_completion():
        modules = [VERB_MODULES[verb]]
    else:  # help, completion, or a typo that deserves the list of verbs
        modules = sorted(p.stem for p in Path(__file__).parent.glob(f"*{VERB_SUFFIX}.py"))
    for name in dict.fromkeys(modules):
        importlib.import_module(f"composer.cli.{name}").register(app)


def _wants_completion() -> bool:
    return any(key.endswith("_COMPLETE") for key in os.environ)


def run() -> None:
    """Console-script entry: run the app, turn ComposerError into a message and an exit status."""
    _register_verbs(sys.argv[1:])
    debug = "--debug" in sys.argv
    try:
        app()  # standalone: typer renders usage errors itself and exits 2
    except ComposerError as error:
        if debug:
            raise
        sys.stderr.write(f"error: {error.render()}\n")
        sys.exit(error.exit_code)
    except OSError as error:  # a file or device the command could not use: say which, no traceback
        if debug:
            raise
        sys.stderr.write(f"error: {error.strerror or error}: {error.filename or ''}\n".replace(": \n", "\n"))
        sys.exit(1)
    except Exception as error:  # a bug: one line, and the way to see more
        if debug:
            raise
        sys.stderr.write(
            f"internal error: {type(error).__name__}: {error} (run with --debug for a traceback)\n"
        )
        sys.exit(70)


if __name__ == "__main__":
    run()
