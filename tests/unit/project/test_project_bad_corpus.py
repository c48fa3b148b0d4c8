"""The corpus of bad project files: each ``bad/*.yaml`` ends with ``# expect:`` lines.

Every expected line is ``LINE:COLUMN: PATH: MESSAGE (HINT)`` as the CLI prints
it after the file name; the file must produce exactly these issues, no more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import SpecError
from composer.project.loader import load_project

CORPUS = sorted((Path(__file__).parent / "bad").glob("*.yaml"))
PREFIX = "# expect: "


def expectations(path: Path) -> list[str]:
    return [line[len(PREFIX) :] for line in path.read_text().splitlines() if line.startswith(PREFIX)]


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) >= 30
    assert all(expectations(path) for path in CORPUS), "every bad file names its expected issues"


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_file(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_project([path], None, [], None, [])
    rendered = [issue.render().removeprefix(f"{issue.file}:") for issue in caught.value.issues]
    assert rendered == expectations(path)
    assert all(Path(issue.file).name == path.name for issue in caught.value.issues if issue.line)
