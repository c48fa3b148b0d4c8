"""Programs of the host that composer runs for the user: today Graphviz's ``dot``.

Runs in the command itself (``composer graph --format svg``): the topology is
rendered as dot text by :mod:`composer.project.graph`, which stays pure, and
handed to ``dot`` here, the one place outside the container code that starts a
process.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from composer.errors import ComposerError

IMAGE_FORMATS = ("svg", "png")


def draw_dot(dot_source: str, fmt: str, out_path: Path) -> None:
    """Draw the Graphviz ``dot_source`` into ``out_path`` as ``fmt`` (svg or png)."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format {fmt!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise ComposerError(
            f"cannot draw {fmt}: Graphviz's `dot` command is not installed",
            hint="apt-get install graphviz, or use --format dot|mermaid|json",
        )
    result = subprocess.run(
        [dot, f"-T{fmt}", "-o", str(out_path)],
        input=dot_source.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise ComposerError(
            f"Graphviz failed to draw the graph: {result.stderr.decode(errors='replace').strip()}"
        )
