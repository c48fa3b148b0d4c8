"""``composer push [SERVICE...]``: send the services' images to their registries.

Pushes the image each service names (``image:``, or the built ``<project>-<service>``
name, which has no registry of its own and so goes to Docker Hub as compose does;
give ``image: registry.example/app:1`` to choose).  Services without an image
(``rootfs:``) are skipped.  Blobs the registry has already are not sent again.
"""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("push")
    def push(
        ctx: typer.Context,
        services: Annotated[list[str] | None, typer.Argument(help="Services to push (default: all).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    ) -> None:
        """Push the images of the project's services."""
        from composer.cli.context import options
        from composer.images.builder.compose import image_name, is_buildable, known_services
        from composer.images.store import ImageStore

        opts = options(ctx)
        loaded = opts.load()
        store = ImageStore(opts.image_root)
        pushed: set[str] = set()
        for name in known_services(loaded, list(services or ())):
            spec = loaded.spec.services[name]
            if not (spec.image or is_buildable(spec)):
                continue
            reference = image_name(loaded.name, name, spec)
            if reference in pushed:
                continue
            digest, sent = store.push(reference)
            pushed.add(reference)
            if not quiet:
                typer.echo(f"pushed {reference}@{digest} ({sent} blobs sent)", err=True)
