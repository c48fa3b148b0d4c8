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
        fmt: Annotated[
            str, typer.Option("--format", help="table, json, or a template such as '{{.Name}} {{.State}}'.")
        ] = "table",
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only names.")] = False,
        service_names: Annotated[bool, typer.Option("--services", help="Only the service names.")] = False,
        status: Annotated[
            list[str] | None,
            typer.Option("--status", help="Only containers in this state (running, paused, exited, ...)."),
        ] = None,
        filters: Annotated[
            list[str] | None, typer.Option("--filter", help="KEY=VALUE; status=STATE is supported.")
        ] = None,
        no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Accepted: nothing is truncated.")] = False,
        orphans: Annotated[bool, typer.Option("--orphans", help="Accepted: orphans are listed.")] = True,
    ) -> None:
        """List the project's containers with state, health, addresses and published ports."""
        from composer.cli.context import options
        from composer.verbs import views

        opts = options(ctx)
        opts.enter("ps", create=False)  # without root: PIDs are the project namespace's
        layout, host = opts.layout(), opts.host()
        host.revive_supervisor(
            layout
        )  # a dead supervisor is noticed by any ps: a new one adopts the containers
        del no_trunc, orphans
        states = _states(status or [], filters or [])
        rows = views.ps(layout, host, services=services or (), all_states=all_states or bool(states))
        rows = [r for r in rows if not states or r.State in states]
        if quiet:
            for row in rows:
                typer.echo(row.Name)
        elif service_names:
            for name in dict.fromkeys(row.Service for row in rows):
                typer.echo(name)
        elif fmt == "json":  # one object per line, as docker compose prints them (jq reads each)
            for row in rows:
                typer.echo(json.dumps(asdict(row)))
        elif fmt == "table":
            _table(rows)
            _live_links(layout)
        else:
            _template(fmt, rows)


STATES = ("created", "running", "restarting", "paused", "exited", "dead", "removing")


def _states(status: list[str], filters: list[str]) -> set[str]:
    """The states asked for by --status and --filter status=... (compose knows no other filter)."""
    wanted = set(status)
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or key != "status":
            raise typer.BadParameter(f"{item!r}: the supported filter is status=STATE", param_hint="--filter")
        wanted.add(value)
    unknown = sorted(wanted - set(STATES))
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: a state is one of {', '.join(STATES)}")
    return wanted


def _template(fmt: str, rows: Sequence[object]) -> None:
    from composer.cli.templates import TemplateError, render

    fields = [{**asdict(r), "Ports": _ports(r), "Names": r.Name} for r in rows]  # type: ignore[call-overload, attr-defined]
    try:
        lines = render(fmt, fields)
    except TemplateError as error:
        raise typer.BadParameter(str(error), param_hint="--format") from None
    for line in lines:
        typer.echo(line)


def _ports(row: object) -> str:
    return ", ".join(
        f"{p['URL'] or '0.0.0.0'}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
        for p in row.Publishers  # type: ignore[attr-defined]
    )


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
