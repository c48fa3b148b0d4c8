"""``composer graph``: the dependency graph and network topology as dot, mermaid, json, svg or png."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer


class GraphFormat(enum.StrEnum):
    dot = "dot"
    mermaid = "mermaid"
    json = "json"
    svg = "svg"
    png = "png"


def register(app: typer.Typer) -> None:
    @app.command("graph")
    def graph(
        ctx: typer.Context,
        fmt: Annotated[GraphFormat, typer.Option("--format", help="Output format.")] = GraphFormat.dot,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write to FILE instead of standard output.")
        ] = None,
    ) -> None:
        """Render services, networks, links and dependencies."""
        from composer.cli.context import options
        from composer.project import graph as topology

        spec = options(ctx).load().spec
        if fmt in (GraphFormat.svg, GraphFormat.png):
            _draw(spec, fmt.value, output)
            return
        text = topology.render(spec, fmt.value)  # type: ignore[arg-type]
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text)


def _draw(spec: object, fmt: str, output: Path | None) -> None:
    import tempfile

    from composer.kernel.tools import draw_dot
    from composer.project import graph as topology
    from composer.project.models import ProjectSpec

    assert isinstance(spec, ProjectSpec)
    source = topology.render_dot(spec)
    if output is not None:
        draw_dot(source, fmt, output)
        return
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"graph.{fmt}"
        draw_dot(source, fmt, target)
        sys.stdout.buffer.write(target.read_bytes())
        sys.stdout.flush()
