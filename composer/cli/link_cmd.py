"""``composer link ls|show|set|reset|down|up``: look at and change a running lab's links.

A change made here is live only: it is recorded in the project's state, ``ps``
and ``link ls`` show that it differs from the file, and the next ``up`` puts the
file's values back (the file stays the truth).  See :mod:`composer.engine.live`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from composer.engine.live import EndView, LiveResult
    from composer.store.live import EndSetting

link_app = typer.Typer(help="Look at and change the lab's links while it runs.", no_args_is_help=True)

Target = Annotated[
    str, typer.Argument(help="SERVICE:IFNAME (that end's egress) or SERVICE:IF--SERVICE:IF (both).")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing.")]
Value = Annotated[str | None, typer.Option(help="A value, or none to remove it.")]


def _context(ctx: typer.Context) -> tuple[Any, Any]:
    from composer.cli.context import options

    opts = options(ctx)
    return opts.layout(), opts.host()


@link_app.command("ls")
def link_ls(
    ctx: typer.Context, fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table"
) -> None:
    """Every link end and network attachment: state, carrier, impairments, and what differs from the file."""
    from composer.engine.live import views

    layout, host = _context(ctx)
    rows = views(layout, host)
    if fmt == "json":
        typer.echo(json.dumps([_as_json(r) for r in rows]))
        return
    _table(rows)


@link_app.command("show")
def link_show(
    ctx: typer.Context,
    target: Target,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The effective settings of one end (or both ends of a link), as set and as the kernel shows them."""
    from composer.engine.live import resolve, views
    from composer.errors import StateError
    from composer.store import live

    layout, host = _context(ctx)
    recorded = live.load(layout)
    if recorded is None:
        raise StateError(f"project {layout.name} has no links", hint="bring the lab up first (composer up)")
    wanted = set(resolve(recorded.desired, target))
    rows = views(layout, host)
    chosen = [r for r in rows if r.interface in wanted]
    if fmt == "json":
        typer.echo(json.dumps([_as_json(r) for r in chosen], indent=2))
        return
    _table(chosen)


@link_app.command("set")
def link_set(
    ctx: typer.Context,
    target: Target,
    rate: Value = None,
    delay: Value = None,
    jitter: Value = None,
    loss: Value = None,
    corrupt: Value = None,
    duplicate: Value = None,
    reorder: Value = None,
    dry_run: DryRun = False,
) -> None:
    """Change impairments live, e.g. ``link set r1:eth1 --rate 2mbit`` (``up`` puts the file's back)."""
    given = {"rate": rate, "delay": delay, "jitter": jitter, "loss": loss, "corrupt": corrupt,
             "duplicate": duplicate, "reorder": reorder}  # fmt: skip
    values = {name: _parse(name, text) for name, text in given.items() if text is not None}
    if not values:
        raise typer.BadParameter(
            "give at least one of --rate, --delay, --jitter, --loss, --corrupt, --duplicate, --reorder"
        )
    _change(ctx, target, lambda _file, now: _with(now, values), dry_run)


@link_app.command("reset")
def link_reset(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Argument(help="An end or a link; every live change when omitted.")
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Put the file's values back on an end, a link, or (without a target) every live change."""
    _change(ctx, target, lambda _file, _now: None, dry_run)


@link_app.command("down")
def link_down(ctx: typer.Context, target: Target, dry_run: DryRun = False) -> None:
    """Take an end down (its peer loses carrier, as with a pulled cable), or both ends of a link."""
    _change(ctx, target, lambda _file, now: _with(now, {"up": False}), dry_run)


@link_app.command("up")
def link_up(ctx: typer.Context, target: Target, dry_run: DryRun = False) -> None:
    """Bring an end (or both ends of a link) up again; the routes through it come back."""
    _change(ctx, target, lambda _file, now: _with(now, {"up": True}), dry_run)


def _with(setting: EndSetting, values: dict[str, Any]) -> EndSetting:
    from dataclasses import replace

    return replace(setting, **values)


def _parse(name: str, text: str) -> Any:
    from composer.model.units import parse_duration, parse_percent, parse_rate

    if text.strip().lower() in ("none", "off", "0"):
        return None
    parser: Callable[[object], Any] = {
        "rate": parse_rate,
        "delay": parse_duration,
        "jitter": parse_duration,
    }.get(name, parse_percent)
    try:
        return parser(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{name}") from None


def _change(
    ctx: typer.Context,
    target: str | None,
    edit: Callable[[EndSetting, EndSetting], EndSetting | None],
    dry_run: bool,
) -> None:
    from composer.engine.live import change

    layout, host = _context(ctx)
    result = change(layout, host, target, edit, dry_run=dry_run)
    _report(result, dry_run)


def _report(result: LiveResult, dry_run: bool) -> None:
    typer.echo(result.plan.render(), nl=False)
    if result.plan and not dry_run:
        ends = len(result.plan)
        typer.echo(
            f"applied in {result.seconds * 1000:.1f} ms ({ends} action{'s' if ends != 1 else ''})", err=True
        )
        typer.echo("live change: the next `composer up` puts the file's values back", err=True)


def _impairments(setting: EndSetting) -> str:
    from composer.engine.live import show

    values = setting.values()
    return " ".join(f"{k} {show(k, v)}" for k, v in values.items() if k != "up" and v is not None) or "-"


def _table(rows: list[EndView]) -> None:
    from composer.cli.tables import print_table

    print_table(
        ["LINK", "END", "PEER", "STATE", "CARRIER", "IMPAIRMENTS", "FROM THE FILE"],
        [
            [
                r.carrier, r.endpoint, r.peer, _state(r), _carrier(r), _impairments(r.effective),
                "; ".join(r.differences()) or "same",
            ]
            for r in rows
        ],
    )  # fmt: skip


def _state(row: EndView) -> str:
    if row.kernel is None:
        return "missing"
    return "up" if row.kernel.up else "down"


def _carrier(row: EndView) -> str:
    if row.kernel is None or not row.kernel.up:
        return "-"
    return "yes" if row.kernel.carrier else "no"


def _as_json(row: EndView) -> dict[str, Any]:
    kernel = row.kernel
    return {
        "Link": row.carrier,
        "End": row.endpoint,
        "Peer": row.peer,
        "File": row.file.values(),
        "Live": row.live.values() if row.live else None,
        "Effective": row.effective.values(),
        "DiffersFromFile": row.differences(),
        "Kernel": None
        if kernel is None
        else {
            "Up": kernel.up, "Carrier": kernel.carrier, "Mtu": kernel.mtu, "Qdisc": kernel.qdisc,
            "Rate": kernel.rate_bps, "Netem": kernel.netem.values() if kernel.netem else None,
        },
    }  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(link_app, name="link")
