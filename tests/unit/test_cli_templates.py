"""--format templates (composer.cli.templates) and --since/--until bounds (composer.verbs.logs)."""

from __future__ import annotations

import pytest

from composer.cli.templates import TemplateError, render
from composer.verbs.logs import TimeWindow, time_bound

ROWS = [{"Name": "p-web-1", "State": "running", "ExitCode": 0, "Networks": {"back": "10.0.0.2"}},
        {"Name": "p-db-1", "State": "exited", "ExitCode": 3, "Networks": {}}]  # fmt: skip


def test_fields_json_and_escapes() -> None:
    assert render("{{.Name}}\\t{{.ExitCode}}", ROWS) == ["p-web-1\t0", "p-db-1\t3"]
    assert render("{{json .Networks}}", ROWS[:1]) == ['{"back": "10.0.0.2"}']
    assert render("{{ .Networks }}", ROWS[:1]) == ["back=10.0.0.2"]
    assert render("{{upper .State}}", ROWS[:1]) == ["RUNNING"]


def test_table_has_a_header_and_aligned_columns() -> None:
    assert render("table {{.Name}}\\t{{.ExitCode}}", ROWS) == [
        "NAME      EXIT CODE",
        "p-web-1   0",
        "p-db-1    3",
    ]


def test_unknown_fields_and_actions_are_errors() -> None:
    with pytest.raises(TemplateError, match="no field 'Nmae'"):
        render("{{.Nmae}}", ROWS)
    with pytest.raises(TemplateError, match="unsupported"):
        render("{{range .Networks}}x{{end}}", ROWS)


def test_time_bounds() -> None:
    now = 1_700_000_000 * 10**9
    assert time_bound("10m", now) == "2023-11-14T22:03:20.000000000Z"
    assert time_bound("1700000000", now) == "2023-11-14T22:13:20.000000000Z"
    assert time_bound("2023-11-14T22:13:20Z", now) == "2023-11-14T22:13:20.000000000Z"
    assert time_bound("2023-11-14", now) == "2023-11-14T00:00:00.000000000Z"
    with pytest.raises(ValueError, match="RFC 3339"):
        time_bound("yesterday", now)
    window = TimeWindow(since="2023-01-01T00:00:00.000000000Z", until="2023-01-02T00:00:00.000000000Z")
    assert window.holds("2023-01-01T12:00:00.000000000Z") and not window.holds(
        "2023-01-02T00:00:00.000000000Z"
    )
