"""Interpolation forms, with compose's semantics."""

from __future__ import annotations

import pytest

from composer.project.interpolate import InterpolationError, Interpolator, interpolate_tree

ENV = {"SET": "value", "EMPTY": "", "B": "bee"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("pre-${SET}-post", "pre-value-post"),
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${UNSET-dflt}", "dflt"),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("$$SET", "$SET"),
        ("cost: 5$", "cost: 5$"),
        ("${UNSET:-${B}}", "bee"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${SET:?never shown}", "value"),
        ("$${SET}", "${SET}"),
        ("$$$SET", "$value"),
        ("$SET_SUFFIX", ""),
        ("${SET}_SUFFIX", "value_SUFFIX"),
        ("${UNSET:-}", ""),
        ("${EMPTY?x}", ""),
        ("${UNSET:-a b c}", "a b c"),
        ("${UNSET:-$SET}", "value"),
        ("${UNSET:-{x}}", "{x}"),
        ("${SET:+${B}-${SET}}", "bee-value"),
        ("$SET$B", "valuebee"),
        ("a $ b", "a $ b"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert Interpolator(ENV).expand(text) == expected


def test_unset_is_blank_and_recorded() -> None:
    interpolator = Interpolator(ENV)
    assert interpolator.expand("a${NOPE}b$ALSO") == "ab"
    assert interpolator.missing == {"NOPE", "ALSO"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?give it}", "required variable UNSET is missing a value: give it"),
        ("${EMPTY:?}", "required variable EMPTY is missing a value: is required"),
        ("${UNSET?x}", "required variable UNSET is missing a value: x"),
        ("${SET", "unterminated interpolation"),
        ("${1BAD}", "invalid interpolation"),
        ("${SET!x}", "unknown operator"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message.replace("?", r"\?")):
        Interpolator(ENV).expand(text)


def test_tree_reports_each_failing_path_and_keeps_keys() -> None:
    data = {"services": {"$SET": {"image": "${SET}", "command": ["${UNSET:?no}", 5]}}}
    result, errors = interpolate_tree(data, Interpolator(ENV))
    assert result == {"services": {"$SET": {"image": "value", "command": ["${UNSET:?no}", 5]}}}
    assert errors == [(("services", "$SET", "command", 0), "required variable UNSET is missing a value: no")]
