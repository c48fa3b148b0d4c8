"""Fixtures for the project-file tests: a clean compose environment and a project folder helper."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

COMPOSE_VARIABLES = ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES")


@pytest.fixture(autouse=True)
def clean_compose_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Variables of the caller's shell must not change what a test loads; run in a scratch folder."""
    for name in COMPOSE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[..., Path]:
    """write_project(text, name="compose.yaml", folder="proj") -> path of the written file."""

    def write(text: str, name: str = "compose.yaml", folder: str = "proj") -> Path:
        directory = tmp_path / folder
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(text)
        return path

    return write
