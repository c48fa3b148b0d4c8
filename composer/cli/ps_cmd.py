"""``composer ps``: the project's containers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from composer.store.layout import ProjectLayout


def register(app: typer.Typer) -> None:
    @app.command("ps")
    def ps(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Only these services.")] = None,
        all_states: Annotated[bool, typer.Option("--all", "-a", help="Show stopped containers too.")] = False,
        fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only names.")] = False,
    ) -> None:
        """List the project's containers with state, health, addresses and published ports."""
        from composer.cli.context import options
        from composer.verbs import views

        opts = options(ctx)
        layout, host = opts.layout(), opts.host()
        host.revive_supervisor(
            layout
        )  # a dead supervisor is noticed by any ps: a new one adopts the containers
        rows = views.ps(layout, host, services=services or (), all_states=all_states)
        if quiet:
            for row in rows:
                typer.echo(row.Name)
        elif fmt == "json":
            typer.echo(json.dumps([asdict(r) for r in rows], indent=None))
        else:
            _table(rows)
            _live_links(layout)


def _live_links(layout: ProjectLayout) -> None:
    """Live link changes differ from the file until the next ``up``: say so under the table."""
    from composer.engine.live import differences

    for endpoint, changes in differences(layout):
        typer.echo(f"note: link end {endpoint} differs from the file: {'; '.join(changes)} (up restores it)")


def _table(rows: Sequence[object]) -> None:
    from composer.cli.tables import print_table

    print_table(
        ["NAME", "SERVICE", "STATUS", "PID", "NETWORKS", "PORTS"],
        [
            [
                r.Name,  # type: ignore[attr-defined]
                r.Service,  # type: ignore[attr-defined]
                r.Status,  # type: ignore[attr-defined]
                str(r.Pid or ""),  # type: ignore[attr-defined]
                ", ".join(f"{k}={v}" for k, v in r.Networks.items()),  # type: ignore[attr-defined]
                ", ".join(
                    f"{p['URL'] or '0.0.0.0'}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
                    for p in r.Publishers  # type: ignore[attr-defined]
                ),
            ]
            for r in rows
        ],
    )
