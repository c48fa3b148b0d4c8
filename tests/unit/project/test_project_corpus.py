"""The compose-file corpus (``tests/corpus``): valid projects with their ``config --format json``, invalid ones.

* ``valid/CASE/``: ``compose.yaml`` (or the files named in ``files.txt``, in
  ``-f`` order) and ``expected.json``, the normalised form ``composer config
  --format json`` prints, with the case folder written ``${CASE}``.  The
  environment is empty: variables come from the case's ``.env`` only.
* ``invalid/CASE.yaml``: ends with ``# expect:`` lines, ``LINE:COLUMN: PATH:
  MESSAGE (HINT)`` as the CLI prints them after the file name (the corpus
  folder written ``${DIR}``).

``COMPOSER_UPDATE_CORPUS=1`` rewrites the expected outputs (review the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from composer.errors import SpecError
from composer.project.loader import load_project
from composer.project.normal_form import normal_form

CORPUS = Path(__file__).parents[2] / "corpus"
VALID = sorted(p for p in (CORPUS / "valid").iterdir() if p.is_dir())
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))
PREFIX = "# expect: "


def case_files(folder: Path) -> list[Path]:
    listed = folder / "files.txt"
    names = listed.read_text().split() if listed.exists() else ["compose.yaml"]
    return [folder / name for name in names]


def rendered(folder: Path) -> str:
    project = load_project(case_files(folder), environ={})
    text = (
        json.dumps(
            normal_form(project.spec, project.environment, project.project_directory),
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    return text.replace(str(folder), "${CASE}")


def test_the_corpus_covers_the_features() -> None:
    assert len(VALID) >= 20 and len(INVALID) >= 15


@pytest.mark.parametrize("folder", VALID, ids=[p.name for p in VALID])
def test_valid_case(folder: Path) -> None:
    expected = folder / "expected.json"
    text = rendered(folder)
    if os.environ.get("COMPOSER_UPDATE_CORPUS") == "1":
        expected.write_text(text)
    assert text == expected.read_text()


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_case(path: Path) -> None:
    wanted = [line[len(PREFIX) :] for line in path.read_text().splitlines() if line.startswith(PREFIX)]
    assert wanted, "an invalid case names its expected issues"
    with pytest.raises(SpecError) as caught:
        load_project([path], environ={})
    found = [issue.render().removeprefix(f"{issue.file}:") for issue in caught.value.issues]
    assert [line.replace(str(path.parent), "${DIR}") for line in found] == wanted
