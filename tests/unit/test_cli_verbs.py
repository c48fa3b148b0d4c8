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


def test_pull_fetches_the_sources_of_image_mounts_once(tmp_path: Path) -> None:
    from composer.cli.pull_cmd import _images_to_pull
    from tests.support.projects import load, write_project

    loaded = load(
        write_project(
            tmp_path,
            """
            services:
              web:
                image: web:1
                volumes: [{type: image, source: "assets:2", target: /srv/assets}]
              worker:
                rootfs: .
                volumes: [{type: image, source: "assets:2", target: /a}, {type: image, source: "models:3", target: /m}]
            """,
        )
    )
    targets = _images_to_pull(loaded.spec.services, [], None)
    assert sorted(targets) == ["assets:2", "models:3", "web:1"]
    assert sorted(_images_to_pull(loaded.spec.services, ["web"], "missing")) == ["assets:2", "web:1"]
