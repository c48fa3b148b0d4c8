"""dotenv: the one choice of interpolation files, and the .env parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.engine.fastpath import UpInputs
from composer.project.discovery import project_directory
from composer.project.dotenv import InterpolationFiles, interpolation_files, parse_env_file
from composer.project.interpolate import InterpolationError


def test_default_is_the_project_directory_dot_env() -> None:
    assert interpolation_files([], Path("/p")) == InterpolationFiles((Path("/p/.env"),), explicit=False)


def test_env_files_replace_the_default_in_order(tmp_path: Path) -> None:
    choice = interpolation_files([Path("b.env"), Path("/abs/a.env")], Path("/p"))
    assert choice == InterpolationFiles((tmp_path / "b.env", Path("/abs/a.env")), explicit=True)


def test_project_directory_rule() -> None:
    assert project_directory(Path("/given"), [Path("/f/compose.yaml")]) == Path("/given")
    assert project_directory(None, [Path("/f/compose.yaml"), Path("/g/other.yaml")]) == Path("/f")


@pytest.mark.parametrize(
    ("files", "directory", "env_files"),
    [
        ((Path("/f/compose.yaml"),), None, ()),
        ((Path("/f/compose.yaml"), Path("/g/override.yaml")), None, ()),
        ((Path("/f/compose.yaml"),), Path("/elsewhere"), ()),
        ((Path("/f/compose.yaml"),), None, (Path("one.env"), Path("/x/two.env"))),
    ],
)
def test_the_fast_path_reads_the_files_the_loader_reads(
    files: tuple[Path, ...], directory: Path | None, env_files: tuple[Path, ...]
) -> None:
    """If the no-op fast path fingerprinted other files, a changed .env would go unnoticed."""
    inputs = UpInputs(files, None, directory, env_files, ())
    loader_choice = interpolation_files(env_files, project_directory(directory, files))
    assert inputs.interpolation_files() == list(loader_choice.paths)


def test_env_file() -> None:
    text = (
        "# comment\n"
        "A=1\n"
        "export B = two words\n"
        "C='literal ${A}'\n"
        'D="line\\nnext ${A}"\n'
        "E=${A}-x # trailing comment\n"
        "BARE\n"
        "F=${OUTER}\n"
    )
    assert parse_env_file(text, {"OUTER": "out"}) == {
        "A": "1",
        "B": "two words",
        "C": "literal ${A}",
        "D": "line\nnext 1",
        "E": "1-x",
        "F": "out",
    }


def test_env_file_bad_line() -> None:
    with pytest.raises(InterpolationError, match="line 2"):
        parse_env_file("A=1\nnot a variable line\n")
