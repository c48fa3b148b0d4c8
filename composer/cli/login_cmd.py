"""``composer login REGISTRY`` and ``composer logout REGISTRY``.

Credentials are checked against the registry (``GET /v2/`` through the usual
challenge) before they are saved in composer's own credentials file (mode 0600;
see ``composer.images.auth`` for where it lives and what else is read).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("login")
    def login(
        registry: Annotated[str, typer.Argument(help="Registry host[:port] (docker.io for Docker Hub).")],
        username: Annotated[str, typer.Option("--username", "-u", help="User name.")],
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input.")
        ] = False,
        insecure: Annotated[
            bool, typer.Option("--insecure", help="Use plain HTTP for this registry.")
        ] = False,
    ) -> None:
        """Check and store credentials for a registry."""
        from composer.errors import ComposerError
        from composer.images.auth import Credentials, save_credentials
        from composer.images.registry import RegistryClient

        if password_stdin:
            password = sys.stdin.read().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True)
        if not password:
            raise ComposerError("empty password")
        creds = Credentials(username, password)
        with RegistryClient(insecure=[registry] if insecure else []) as client:
            client.check_login(registry, creds)
        path = save_credentials(registry, creds)
        typer.echo(f"Login succeeded (saved in {path})")

    @app.command("logout")
    def logout(registry: Annotated[str, typer.Argument(help="Registry host[:port].")]) -> None:
        """Forget the credentials stored for a registry."""
        from composer.images.auth import remove_credentials

        if remove_credentials(registry):
            typer.echo(f"Removed login credentials for {registry}")
        else:
            typer.echo(f"Not logged in to {registry}")
