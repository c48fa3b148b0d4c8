"""Drawing the topology with Graphviz's ``dot`` (the real program when it is installed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from composer.errors import ComposerError
from composer.kernel.tools import draw_dot
from composer.project.graph import render_dot
from composer.project.models import ProjectSpec

LAB = ProjectSpec.model_validate(
    {
        "name": "t",
        "services": {"r1": {"image": "x", "network_mode": "none"}, "r2": {"image": "x"}},
        "links": [{"endpoints": ["r1:eth1", "r2:eth1"]}],
    }
)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize(("fmt", "magic"), [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_images_with_graphviz(tmp_path: Path, fmt: str, magic: bytes) -> None:
    target = tmp_path / f"lab.{fmt}"
    draw_dot(render_dot(LAB), fmt, target)
    assert magic in target.read_bytes()[:400]


def test_missing_graphviz_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without dot: the real lookup, nothing faked
    with pytest.raises(ComposerError, match="Graphviz's `dot` command is not installed") as caught:
        draw_dot(render_dot(LAB), "svg", tmp_path / "x.svg")
    assert "apt-get install graphviz" in (caught.value.hint or "")


def test_unknown_image_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown image format"):
        draw_dot("digraph {}", "gif", tmp_path / "x.gif")
