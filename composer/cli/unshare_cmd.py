"""``composer unshare -- CMD``: run a command as root of a rootless user namespace (podman's verb).

Without root, image layers, writable layers and volumes hold files owned by the
user's subordinate ids, which the user cannot remove from outside; in here they
are root's and ``rm -rf ~/.local/share/composer`` works.  As root it just runs
the command.
"""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("unshare", context_settings={"allow_interspersed_args": False})
    def unshare(
        ctx: typer.Context,
        command: Annotated[list[str], typer.Argument(help="The command and its arguments.")],
    ) -> None:
        """Run a command in a user namespace with your subordinate ids mapped (rootless clean-up)."""
        from composer.cli.context import options
        from composer.kernel.userns import replace_with

        options(ctx).enter_images()
        replace_with(command)
