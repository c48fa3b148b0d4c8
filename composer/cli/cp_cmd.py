"""``composer cp [-a] [-L] SERVICE:SRC DEST|-`` and ``composer cp SRC|- SERVICE:DEST``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("cp")
    def cp(
        ctx: typer.Context,
        source: Annotated[str, typer.Argument(help="SERVICE:SRC_PATH, a host path, or - (a tar on stdin).")],
        destination: Annotated[
            str, typer.Argument(help="SERVICE:DEST_PATH, a host path, or - (tar to stdout).")
        ],
        archive: Annotated[bool, typer.Option("--archive", "-a", help="Keep uid/gid.")] = False,
        follow_link: Annotated[
            bool, typer.Option("--follow-link", "-L", help="Follow a source symlink.")
        ] = False,
        index: Annotated[int, typer.Option("--index", help="Which replica.")] = 1,
        all_replicas: Annotated[
            bool, typer.Option("--all", help="Accepted (deprecated in compose).")
        ] = False,
    ) -> None:
        """Copy files or folders between a service container and the host."""
        from composer.cli.context import options
        from composer.verbs.cp import copy, parse_copy

        del all_replicas
        spec = parse_copy(source, destination)
        opts = options(ctx)
        opts.refuse_dry_run("cp")
        opts.enter("cp", create=False)
        stream = None
        if spec.host_path == "-":
            stream = sys.stdin.buffer if spec.to_container else sys.stdout.buffer
        copy(
            opts.layout(),
            opts.host(),
            spec,
            index=index,
            archive=archive,
            follow_link=follow_link,
            stream=stream,
        )
