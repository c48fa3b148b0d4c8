"""``composer config``: validate the project, print it resolved, list names, print config hashes.

This verb is the fast path (``config -q`` in editors and CI): it imports only
the loader, never networkx, pyroute2 or httpx.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer


class ConfigFormat(enum.StrEnum):
    yaml = "yaml"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("config")
    def config(
        ctx: typer.Context,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only validate; print nothing.")] = False,
        fmt: Annotated[ConfigFormat, typer.Option("--format", help="Output format.")] = ConfigFormat.yaml,
        services: Annotated[bool, typer.Option("--services", help="Print the service names.")] = False,
        networks: Annotated[bool, typer.Option("--networks", help="Print the network names.")] = False,
        volumes: Annotated[bool, typer.Option("--volumes", help="Print the volume names.")] = False,
        hash_of: Annotated[
            str | None,
            typer.Option("--hash", metavar="SERVICE", help="Print the config hash of SERVICE ('*': all)."),
        ] = None,
    ) -> None:
        """Validate the project file and print it resolved."""
        from composer.cli.context import options

        project = options(ctx).load()
        if quiet:
            return
        names = {"services": services, "networks": networks, "volumes": volumes}
        for kind, wanted in names.items():
            if wanted:
                for name in getattr(project.spec, kind):
                    typer.echo(name)
        if any(names.values()):
            return
        if hash_of is not None:
            _print_hashes(project, hash_of)
            return
        typer.echo(_render(project, fmt), nl=False)


def _print_hashes(project: object, wanted: str) -> None:
    from composer.errors import ComposerError
    from composer.project.hashing import service_config_hash
    from composer.project.loader import LoadedProject

    assert isinstance(project, LoadedProject)
    names = list(project.spec.services) if wanted == "*" else [n.strip() for n in wanted.split(",")]
    unknown = [n for n in names if n not in project.spec.services]
    if unknown:
        raise ComposerError(f"no such service: {', '.join(unknown)}", hint="see `composer config --services`")
    for name in names:
        typer.echo(f"{name} {service_config_hash(project, name)}")


def _render(project: object, fmt: ConfigFormat) -> str:
    import json

    from composer.project.loader import LoadedProject

    assert isinstance(project, LoadedProject)
    data = project.spec.model_dump(mode="json", exclude_defaults=True)
    data = {"name": project.name, **data}
    if fmt is ConfigFormat.json:
        return json.dumps(data, indent=2) + "\n"
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))
