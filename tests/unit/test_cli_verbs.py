"""The CLI builds only the verb it runs: the verb-to-module map must know every verb."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import typer

from composer.cli import main


def _all_commands() -> set[str]:
    app = typer.Typer()
    for path in sorted(Path(main.__file__).parent.glob("*_cmd.py")):
        importlib.import_module(f"composer.cli.{path.stem}").register(app)
    names = {
        info.name or (info.callback.__name__ if info.callback else "") for info in app.registered_commands
    }
    names |= {group.name or "" for group in app.registered_groups}
    return names


def test_every_registered_verb_is_in_the_map() -> None:
    assert _all_commands() == set(main.VERB_MODULES)


@pytest.mark.parametrize(
    ("argv", "verb"),
    [
        (["up", "-d"], "up"),
        (["-f", "a.yaml", "-p", "x", "down", "-v"], "down"),
        (["--project-directory", "d", "--env-file", "e", "--profile", "p", "--root", "r", "ps"], "ps"),
        (["--debug", "exec", "web", "sh"], "exec"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_verb_is_found_after_global_options(argv: list[str], verb: str | None) -> None:
    assert main.verb_in(argv) == verb
