"""``composer images``, ``composer rmi`` and the ``composer image ls|rm|prune`` group.

They work on the image store alone (no project file needed).  Removal never
touches an image a project has pinned (see ``ImageStore.pin``); ``image prune``
removes untagged images, ``image prune -a`` every image no project uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from composer.images.store import ImageStore, ImageSummary

image_app = typer.Typer(name="image", help="Manage images in the store.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("images")(list_images)
    app.command("rmi")(remove_images)
    image_app.command("ls")(list_images)
    image_app.command("rm")(remove_images)
    image_app.command("prune")(prune_images)
    app.add_typer(image_app, name="image")


def list_images(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only image ids.")] = False,
) -> None:
    """List the images in the store with their sizes."""
    import json
    from dataclasses import asdict

    from composer.errors import ComposerError

    summaries = _store(ctx).list_images()
    if quiet:
        for summary in summaries:
            typer.echo(summary.image_id)
        return
    if fmt == "json":
        typer.echo(json.dumps([asdict(s) for s in summaries], indent=2))
        return
    if fmt != "table":
        raise ComposerError(f"unknown --format {fmt!r}", hint="use table or json")
    _print_table(summaries)


def remove_images(
    ctx: typer.Context,
    images: Annotated[list[str], typer.Argument(help="References or image ids.")],
    force: Annotated[bool, typer.Option("--force", "-f", help="Remove an id with several tags.")] = False,
) -> None:
    """Remove images (never one a project uses)."""
    store = _store(ctx)
    for image in images:
        for line in store.remove(image, force=force):
            typer.echo(line)


def prune_images(
    ctx: typer.Context,
    all_unused: Annotated[bool, typer.Option("--all", "-a", help="Every image no project uses.")] = False,
) -> None:
    """Remove untagged images (with -a, every image no project uses)."""
    freed = _store(ctx).prune(all_unused=all_unused)
    typer.echo(f"Total reclaimed space: {_human(freed)}")


def _store(ctx: typer.Context) -> ImageStore:
    from composer.cli.context import options
    from composer.images.store import ImageStore

    opts = options(ctx)
    opts.enter_images()  # without root: layers owned by subordinate ids are only removable in there
    return ImageStore(opts.image_root)


def _print_table(summaries: list[ImageSummary]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("REPOSITORY", "TAG", "IMAGE ID", "SIZE", "USED BY"):
        table.add_column(column)
    for summary in summaries:
        names = [n for n in summary.references if "@" not in n] or ["<none>:<none>"]
        for name in names:
            repo, _, tag = name.rpartition(":")
            table.add_row(
                repo,
                tag,
                summary.image_id.removeprefix("sha256:")[:12],
                _human(summary.size),
                ",".join(summary.pinned_by),
            )
    Console(soft_wrap=True).print(table)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}GB"
