"""``.env`` files: which ones feed interpolation, and how one is parsed.

The choice of files is one rule, used by the loader (which reads them) and by
the no-op fast path of ``up`` (which fingerprints them, ``engine.fastpath``):
if the two chose differently, a changed ``.env`` would go unnoticed.

* ``--env-file`` files, in order, replace the default; each must exist.
* Else the project directory's ``.env``, read when it exists.
* The process environment wins over both (the loader's step, not a file).

The same parser reads a service's ``env_file:`` entries.  Nothing here reads
a file: the caller reads the text and reports what cannot be read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # imported in parse_env_file: up's no-op fast path needs only the choice of files
    from composer.project.interpolate import Interpolator

DEFAULT_ENV_FILE = ".env"


class InterpolationFiles(NamedTuple):
    """The ``.env`` files interpolation reads, in order (later files win)."""

    paths: tuple[Path, ...]
    explicit: bool  # given with --env-file: a missing one is an error; the default .env may be absent


def interpolation_files(env_files: Sequence[Path], project_directory: Path) -> InterpolationFiles:
    """``--env-file`` files made absolute, else ``project_directory/.env``."""
    if env_files:
        return InterpolationFiles(tuple(path.absolute() for path in env_files), explicit=True)
    return InterpolationFiles((project_directory.absolute() / DEFAULT_ENV_FILE,), explicit=False)


def parse_env_file(text: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse a dotenv file (``KEY=value``, ``export KEY=value``, quotes, ``#`` comments).

    Single-quoted values are literal; double-quoted and bare values are
    interpolated against earlier keys of the file, then ``environment``.
    Raises InterpolationError with the line number of a malformed line.
    """
    from composer.project.interpolate import VARIABLE_NAME, InterpolationError, Interpolator

    result: dict[str, str] = {}
    base = dict(environment or {})
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not VARIABLE_NAME.fullmatch(key):
            raise InterpolationError(f"line {number}: expected NAME=value, got {raw_line.strip()!r}")
        if not sep:
            continue  # a bare NAME takes its value from the environment: nothing to set here
        lookup = Interpolator({**base, **result})
        result[key] = _env_value(value.strip(), lookup)
    return result


def _env_value(value: str, lookup: Interpolator) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        return lookup.expand(inner)
    comment = value.find(" #")
    if comment >= 0:
        value = value[:comment].rstrip()
    return lookup.expand(value)
