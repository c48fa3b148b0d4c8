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
    pass

DEFAULT_ENV_FILE = ".env"


class InterpolationFiles(NamedTuple):
    """The ``.env`` files interpolation reads, in order (later files win)."""

    paths: tuple[Path, ...]
    explicit: bool  # given with --env-file: a missing one is an error; the default .env may be absent


def interpolation_files(
    env_files: Sequence[Path], project_directory: Path, compose_env_files: str | None = None
) -> InterpolationFiles:
    """``--env-file`` files, else ``$COMPOSE_ENV_FILES`` (comma-separated), else ``project_directory/.env``.

    Relative names are taken from the working directory for ``--env-file``
    (as a shell would) and from the project directory for ``COMPOSE_ENV_FILES``.
    """
    if env_files:
        return InterpolationFiles(tuple(path.absolute() for path in env_files), explicit=True)
    named = [name.strip() for name in (compose_env_files or "").split(",") if name.strip()]
    if named:
        base = project_directory.absolute()
        return InterpolationFiles(tuple(base / name for name in named), explicit=True)
    return InterpolationFiles((project_directory.absolute() / DEFAULT_ENV_FILE,), explicit=False)


def parse_env_file(text: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse a dotenv file with compose-go's rules.

    * ``KEY=value``, ``KEY = value``, ``KEY: value`` and ``export KEY=value``;
      keys are letters, digits, ``_`` and ``.`` (``com.example.key``);
    * ``'single'`` quotes are literal; ``"double"`` quotes take ``\\n``/``\\r``
      escapes, drop the backslash of any other escaped character, and are
      interpolated; both may span several lines;
    * an unquoted value ends at the end of the line or at `` #``;
    * a bare ``KEY`` takes its value from ``environment`` (left out when unset);
    * values are interpolated against earlier keys of the file, then ``environment``.

    Raises InterpolationError naming the line of a malformed entry.
    """
    from composer.project.interpolate import InterpolationError

    result: dict[str, str] = {}
    base = dict(environment or {})
    scanner = _Scanner(text)
    while scanner.next_statement():
        line = scanner.line
        key, inherited = scanner.key()
        if inherited:
            if key in base:
                result[key] = base[key]
            continue
        try:
            result[key] = scanner.value({**base, **result})
        except InterpolationError as error:
            raise InterpolationError(f"line {line}: {error}") from None
    return result


_SPACES = " \t\v\f\r"


class _Scanner:
    """A cursor over a dotenv text (quoted values may span lines, so not line by line)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.at) + 1

    def _error(self, message: str) -> Exception:
        from composer.project.interpolate import InterpolationError

        return InterpolationError(f"line {self.line}: {message}")

    def next_statement(self) -> bool:
        """Skip blank lines and comments; False at the end of the text."""
        while self.at < len(self.text):
            char = self.text[self.at]
            if char.isspace():
                self.at += 1
            elif char == "#":
                end = self.text.find("\n", self.at)
                self.at = len(self.text) if end < 0 else end
            else:
                return True
        return False

    def key(self) -> tuple[str, bool]:
        """The key and whether it is bare (its value inherited); the cursor is after the separator."""
        if self.text.startswith("export", self.at) and self.text[self.at + 6 : self.at + 7] in (" ", "\t"):
            self.at += 6
            while self.at < len(self.text) and self.text[self.at] in _SPACES:
                self.at += 1
        start = self.at
        while self.at < len(self.text):
            char = self.text[self.at]
            if char in "=:\n":
                key = self.text[start : self.at].rstrip(_SPACES)
                if " " in key or "\t" in key:
                    raise self._error(f"a key cannot contain a space: {key!r}")
                if not key:
                    raise self._error("expected KEY=value, found no key")
                self.at += 1
                if char == "\n":
                    return key, True
                while self.at < len(self.text) and self.text[self.at] in _SPACES:
                    self.at += 1
                return key, False
            if not (char.isalnum() or char in "_." or char in _SPACES):
                raise self._error(f"unexpected character {char!r} in a variable name")
            self.at += 1
        key = self.text[start:].rstrip(_SPACES)
        return key, True  # a bare key on the last line

    def value(self, known: Mapping[str, str]) -> str:
        from composer.project.interpolate import Interpolator

        quote = self.text[self.at : self.at + 1]
        if quote not in ("'", '"'):
            end = self.text.find("\n", self.at)
            end = len(self.text) if end < 0 else end
            raw = self.text[self.at : end]
            self.at = end
            comment = _inline_comment(raw)
            raw = (raw[:comment] if comment >= 0 else raw).rstrip()
            return Interpolator(known).expand(raw)
        index = self.at + 1
        while index < len(self.text):
            if self.text[index] == quote and self.text[index - 1] != "\\":
                break
            index += 1
        else:
            raise self._error(f"unterminated quoted value {self.text[self.at :].partition(chr(10))[0]}")
        inner = self.text[self.at + 1 : index]
        self.at = index + 1
        self._rest_of_line()
        if quote == "'":
            return inner
        return Interpolator(known).expand(_unescape(inner))

    def _rest_of_line(self) -> None:
        """After a closing quote only spaces and a comment may follow on the line."""
        end = self.text.find("\n", self.at)
        end = len(self.text) if end < 0 else end
        rest = self.text[self.at : end].strip()
        if rest and not rest.startswith("#"):
            raise self._error(f"unexpected text after the closing quote: {rest!r}")
        self.at = end


def _inline_comment(raw: str) -> int:
    """Where an unquoted value's comment starts (a ``#`` after a space), or -1."""
    for index, char in enumerate(raw):
        if char == "#" and (index == 0 or raw[index - 1] in _SPACES):
            return index
    return -1


def _unescape(inner: str) -> str:
    """compose-go's escapes in double quotes: ``\\n``, ``\\r``; ``\\X`` is ``X`` except before ``$``."""
    out: list[str] = []
    index = 0
    while index < len(inner):
        char = inner[index]
        following = inner[index + 1 : index + 2]
        if char == "\\" and following:
            if following == "$":
                out.append("$$")  # an escaped dollar stays literal through interpolation
            else:
                out.append({"n": "\n", "r": "\r"}.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def parse_raw_env_file(text: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env_file`` entries with ``format: raw``: ``docker run --env-file``'s rules.

    One ``KEY=VALUE`` per line, the value taken as written (no quotes, no
    escapes, no interpolation); ``#`` starts a comment line only at the start;
    a bare ``KEY`` takes its value from ``environment`` (left out when unset).
    """
    base = environment or {}
    result: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        key, found, value = stripped.partition("=")
        if found:
            result[key] = value
        elif key.strip() in base:
            result[key.strip()] = base[key.strip()]
    return result
