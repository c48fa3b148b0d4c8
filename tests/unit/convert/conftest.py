"""Helpers of the conversion tests: a project from text, converted, and its objects by kind/name."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from composer.convert.kubernetes import Result, convert
from composer.convert.options import KubeOptions
from composer.project.loader import load_project

Converted = Callable[..., "Objects"]


class Objects:
    """A conversion's manifests, looked up as ``objects["Deployment/web"]``, and its findings."""

    def __init__(self, result: Result) -> None:
        self.result = result
        self.by_key = {f"{m['kind']}/{m['metadata']['name']}": m for m in result.manifests}

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.by_key[key]

    def __contains__(self, key: str) -> bool:
        return key in self.by_key

    def keys(self) -> list[str]:
        return list(self.by_key)

    def pod(self, key: str) -> dict[str, Any]:
        pod: dict[str, Any] = self[key]["spec"]["template"]["spec"]
        return pod

    def container(self, key: str, index: int = 0) -> dict[str, Any]:
        container: dict[str, Any] = self.pod(key)["containers"][index]
        return container

    def paths(self) -> list[str]:
        return [f.path for f in self.result.findings]

    def finding(self, path: str) -> str:
        return next(f.render() for f in self.result.findings if f.path == path)


@pytest.fixture
def converted(tmp_path: Path) -> Callable[..., Objects]:
    def run(text: str, options: KubeOptions | None = None, environ: dict[str, str] | None = None) -> Objects:
        path = tmp_path / "compose.yaml"
        path.write_text(textwrap.dedent(text))
        project = load_project([path], environ=environ or {})
        return Objects(
            convert(project.spec, options, environment=project.environment, read_file=Path.read_bytes)
        )

    return run
