"""The part of Go's text/template that ``--format`` strings use: ``{{.Field}}``, ``{{json .Field}}``.

``docker compose ps --format 'table {{.Name}}\\t{{.Status}}'`` style: a leading
``table`` prints a header row (the field names, upper case) and aligns the
columns; ``\\t`` and ``\\n`` are escapes; ``{{json .}}`` is the whole row.  An
unknown field is an error naming the fields there are, not an empty column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_ACTION = re.compile(r"{{\s*(json\s+|upper\s+|lower\s+)?\.([A-Za-z_]\w*)?\s*}}")


class TemplateError(ValueError):
    pass


def render(template: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lines ``template`` makes of ``rows``."""
    text = template.replace("\\t", "\t").replace("\\n", "\n")
    table = text.startswith("table ") or text == "table"
    if table:
        text = text[len("table") :].lstrip(" ")
    _check(text, rows)
    lines = [_fill(text, row) for row in rows]
    if not table:
        return lines
    header = _ACTION.sub(lambda m: _heading(m.group(2)), text)
    return _align([header, *lines])


def _check(text: str, rows: Sequence[Mapping[str, Any]]) -> None:
    leftover = _ACTION.sub("", text)
    if "{{" in leftover:
        raise TemplateError(
            f"unsupported template action in {text!r}: use {{{{.Field}}}} or {{{{json .Field}}}}"
        )
    if not rows:
        return
    for match in _ACTION.finditer(text):
        field = match.group(2)
        if field is not None and field not in rows[0]:
            known = ", ".join(sorted(rows[0]))
            raise TemplateError(f"no field {field!r}: the fields are {known}")


def _fill(text: str, row: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        func, field = (match.group(1) or "").strip(), match.group(2)
        item = row if field is None else row[field]
        if func == "json":
            return json.dumps(item)
        shown = _plain(item)
        return shown.upper() if func == "upper" else shown.lower() if func == "lower" else shown

    return _ACTION.sub(value, text)


def _plain(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, Mapping):
        return ",".join(f"{k}={v}" for k, v in item.items())
    if isinstance(item, list | tuple):
        return ",".join(_plain(i) for i in item)
    return str(item)


def _heading(field: str | None) -> str:
    if field is None:
        return ""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).upper()


def _align(lines: list[str]) -> list[str]:
    """Tab-separated cells padded to their column's width (Go's tabwriter, as docker uses it)."""
    cells = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for row in cells:
        for index, cell in enumerate(row[:-1]):
            widths[index] = max(widths.get(index, 0), len(cell))
    return [
        "   ".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)).rstrip()
        for row in cells
    ]
