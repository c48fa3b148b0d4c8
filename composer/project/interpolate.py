"""Variable interpolation and ``.env`` files, with compose's rules.

Forms, in any string value of the project file (never in keys)::

    $VAR  ${VAR}        the value, or "" when unset (and a warning)
    ${VAR:-default}     default when VAR is unset or empty     ${VAR-default}  only when unset
    ${VAR:?message}     an error when VAR is unset or empty    ${VAR?message}  only when unset
    ${VAR:+alt}         alt when VAR is set and not empty      ${VAR+alt}      alt when set
    $$                  a literal $

Defaults and alternatives may themselves contain interpolations
(``${A:-${B:-x}}``); they are expanded only when used.  The scanner is a small
hand-written one (no regular expression can match nested braces).  ``.env``
files are ``dotenv``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A ``${VAR:?message}`` whose variable is missing, or a malformed ``${...}``."""


@dataclass
class Interpolator:
    """Expands strings against ``environment``; records the names of unset variables."""

    environment: Mapping[str, str]
    missing: set[str] = field(default_factory=set)

    def expand(self, text: str) -> str:
        if "$" not in text:
            return text
        out: list[str] = []
        index = 0
        while index < len(text):
            dollar = text.find("$", index)
            if dollar < 0:
                out.append(text[index:])
                break
            out.append(text[index:dollar])
            piece, index = self._dollar(text, dollar)
            out.append(piece)
        return "".join(out)

    def _dollar(self, text: str, at: int) -> tuple[str, int]:
        """Expand the ``$...`` starting at ``at``; returns the text and the index after it."""
        following = text[at + 1 : at + 2]
        if following == "$":
            return "$", at + 2
        if following == "{":
            end = _closing_brace(text, at + 2)
            return self._braced(text[at + 2 : end]), end + 1
        match = VARIABLE_NAME.match(text, at + 1)
        if match is None:
            return "$", at + 1  # a lone $ is kept, as compose does
        return self._lookup(match.group()), match.end()

    def _lookup(self, name: str) -> str:
        value = self.environment.get(name)
        if value is None:
            self.missing.add(name)
            return ""
        return value

    def _braced(self, body: str) -> str:
        match = VARIABLE_NAME.match(body)
        if match is None:
            raise InterpolationError(
                f"invalid interpolation ${{{body}}}: expected ${{NAME}} or ${{NAME:-default}}"
            )
        name, rest = match.group(), body[match.end() :]
        if not rest:
            return self._lookup(name)
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise InterpolationError(f"invalid interpolation ${{{body}}}: unknown operator after {name}")
        word = rest[len(operator) :]
        value = self.environment.get(name)
        # ":" in the operator means "empty counts as unset".
        absent = value is None or (operator.startswith(":") and value == "")
        kind = operator[-1]
        if kind == "-":
            return self.expand(word) if absent else str(value)
        if kind == "+":
            return "" if absent else self.expand(word)
        if absent:
            detail = self.expand(word) or "is required"
            raise InterpolationError(f"required variable {name} is missing a value: {detail}")
        return str(value)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    index = start
    while index < len(text):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise InterpolationError(f"unterminated interpolation in {text!r}: a '}}' is missing")


def interpolate_tree(
    data: Any, interpolator: Interpolator, path: tuple[str | int, ...] = ()
) -> tuple[Any, list[tuple[tuple[str | int, ...], str]]]:
    """A copy of ``data`` with every string value expanded, and the (path, message) of each failure."""
    errors: list[tuple[tuple[str | int, ...], str]] = []

    def walk(node: Any, where: tuple[str | int, ...]) -> Any:
        if isinstance(node, str):
            try:
                return interpolator.expand(node)
            except InterpolationError as error:
                errors.append((where, str(error)))
                return node
        if isinstance(node, dict):
            return {key: walk(value, (*where, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item, (*where, index)) for index, item in enumerate(node)]
        return node

    return walk(data, path), errors


@dataclass(frozen=True)
class Variable:
    """A variable a file uses, as ``config --variables`` lists it (compose-go's ExtractVariables)."""

    name: str
    required: bool = False  # ${NAME:?...} / ${NAME?...}
    default: str = ""  # ${NAME:-default} / ${NAME-default}
    alternate: str = ""  # ${NAME:+alternate} / ${NAME+alternate}


def variables_in(text: str) -> list[Variable]:
    """Every variable ``text`` uses, those inside defaults and alternates too; ``$$`` is no variable."""
    found: list[Variable] = []
    index = 0
    while True:
        dollar = text.find("$", index)
        if dollar < 0 or dollar + 1 >= len(text):
            return found
        following = text[dollar + 1]
        if following == "$":
            index = dollar + 2
        elif following == "{":
            try:
                end = _closing_brace(text, dollar + 2)
            except InterpolationError:
                return found
            found.extend(_braced_variables(text[dollar + 2 : end]))
            index = end + 1
        else:
            match = VARIABLE_NAME.match(text, dollar + 1)
            if match is not None:
                found.append(Variable(match.group()))
            index = match.end() if match is not None else dollar + 1


def _braced_variables(body: str) -> list[Variable]:
    match = VARIABLE_NAME.match(body)
    if match is None:
        return []
    name, rest = match.group(), body[match.end() :]
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        return [Variable(name)] if not rest else []
    word = rest[len(operator) :]
    kind = operator[-1]
    own = Variable(
        name,
        required=kind == "?",
        default=word if kind == "-" else "",
        alternate=word if kind == "+" else "",
    )
    return [own, *variables_in(word)]


def variables_of_tree(data: Any) -> dict[str, Variable]:
    """The variables of every string of a YAML tree, by name (the first use that says most wins)."""
    found: dict[str, Variable] = {}

    def walk(node: Any) -> None:
        if isinstance(node, str):
            for variable in variables_in(node):
                known = found.get(variable.name)
                if known is None or (variable != Variable(variable.name) and known == Variable(known.name)):
                    found[variable.name] = variable
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return dict(sorted(found.items()))
