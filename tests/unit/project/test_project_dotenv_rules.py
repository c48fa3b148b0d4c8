"""compose-go's dotenv rules, one table row per rule (cases from its parser tests and our own)."""

from __future__ import annotations

import pytest

from composer.project.dotenv import parse_env_file
from composer.project.interpolate import InterpolationError

ONE_KEY = [
    # unquoted values, spacing and separators
    ("FOO=bar", "FOO", "bar"),
    ("FOO =bar", "FOO", "bar"),
    ("FOO= bar", "FOO", "bar"),
    ("FOO = bar", "FOO", "bar"),
    (" KEY =value", "KEY", "value"),
    ("\tKEY=value", "KEY", "value"),
    ("FOO=bar ", "FOO", "bar"),
    ("FOO=foobar=", "FOO", "foobar="),
    ("OPTION_A=1:B", "OPTION_A", "1:B"),
    ("OPTION_A: 1", "OPTION_A", "1"),
    ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
    ("FOO=", "FOO", ""),
    (
        "OPTION_A=postgres://localhost:5432/database?sslmode=disable",
        "OPTION_A",
        "postgres://localhost:5432/database?sslmode=disable",
    ),
    # keys: dots, export prefix
    ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
    ("com.example.key=v", "com.example.key", "v"),
    ("export OPTION_A=2", "OPTION_A", "2"),
    ("export\tOPTION_A=2", "OPTION_A", "2"),
    ("  export OPTION_A=2", "OPTION_A", "2"),
    ("exportFOO=2", "exportFOO", "2"),
    ("export_FOO =2", "export_FOO", "2"),
    # quotes
    ('FOO="bar"', "FOO", "bar"),
    ("FOO='bar'", "FOO", "bar"),
    ('FOO=""', "FOO", ""),
    ("FOO=''", "FOO", ""),
    ('FOO="escaped\\"bar"', "FOO", 'escaped"bar'),
    ("FOO=\"'d'\"", "FOO", "'d'"),
    ("OPTION_I = \"echo 'asd'\"", "OPTION_I", "echo 'asd'"),
    # comments
    ("FOO=bar # this is foo", "FOO", "bar"),
    ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
    ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
    ('FOO="ba#r"', "FOO", "ba#r"),
    ("FOO=bar#baz", "FOO", "bar#baz"),
    # escapes: only in double quotes; \n and \r, any other escaped character loses its backslash
    ('FOO="bar\\nbaz"', "FOO", "bar\nbaz"),
    ("export OPTION_B='\\n'", "OPTION_B", "\\n"),
    ('FOO="bar\\n\\ b\\az"', "FOO", "bar\n baz"),
    ('FOO="bar\\\\\\n\\ b\\az"', "FOO", "bar\\\n baz"),
    ('FOO="bar\\\\r\\ b\\az"', "FOO", "bar\\r baz"),
    ("FOO=bar\\nbaz", "FOO", "bar\\nbaz"),
    # multi-line quoted values
    ('OPTION_J="first line\nsecond line"', "OPTION_J", "first line\nsecond line"),
    ("OPTION_K='first\n  second'", "OPTION_K", "first\n  second"),
    # escaped dollars stay literal in double quotes; single quotes never expand
    ('FOO="foo\\$BAR"', "FOO", "foo$BAR"),
    ('FOO="foo\\${BAR}"', "FOO", "foo${BAR}"),
    ("BAR='quote $FOO'", "BAR", "quote $FOO"),
]


@pytest.mark.parametrize(("text", "key", "value"), ONE_KEY, ids=[row[0] for row in ONE_KEY])
def test_one_entry(text: str, key: str, value: str) -> None:
    assert parse_env_file(text) == {key: value}


EXPANSION = [
    ("FOO=test\nBAR=$FOO", {"FOO": "test", "BAR": "test"}),
    ("FOO=test\nBAR=${FOO}bar", {"FOO": "test", "BAR": "testbar"}),
    ("BAR=$FOO", {"BAR": ""}),
    ('FOO=test\nBAR="quote $FOO"', {"FOO": "test", "BAR": "quote test"}),
    ('FOO=test\nBAR="foo\\${FOO} ${FOO}"', {"FOO": "test", "BAR": "foo${FOO} test"}),
    ("A=1\nB=${A}\nC=$B\nD=${A}${B}\nE=${NOT_DEFINED}", {"A": "1", "B": "1", "C": "1", "D": "11", "E": ""}),
    ("A=${UNSET:-fallback}\nB=${A:+set}", {"A": "fallback", "B": "set"}),
    ("ONE=1\nTWO='2'\nTHREE = \"3\"", {"ONE": "1", "TWO": "2", "THREE": "3"}),
    ("# comment\n\n\t # indented comment\r\nA=1\r\n", {"A": "1"}),
]


@pytest.mark.parametrize(("text", "expected"), EXPANSION)
def test_expansion_against_earlier_keys(text: str, expected: dict[str, str]) -> None:
    assert parse_env_file(text) == expected


INHERITED = [
    ("FROM_ENV", {"FROM_ENV": "from the shell"}),
    ("FROM_ENV\nfoo=bar", {"FROM_ENV": "from the shell", "foo": "bar"}),
    ("NOT_SET\nfoo=bar", {"foo": "bar"}),
    ("A=${FROM_ENV}", {"A": "from the shell"}),
    ("FROM_ENV=x\nB=$FROM_ENV", {"FROM_ENV": "x", "B": "x"}),  # a file's own key is seen before the shell's
]


@pytest.mark.parametrize(("text", "expected"), INHERITED)
def test_bare_keys_and_lookups_use_the_environment(text: str, expected: dict[str, str]) -> None:
    assert parse_env_file(text, {"FROM_ENV": "from the shell"}) == expected


ERRORS = [
    ("lol$wut", "unexpected character '$'"),
    ("KEY WITH SPACE=1", "cannot contain a space"),
    ('KEY="never closed\nOTHER=1', "unterminated quoted value"),
    ("A=ok\nB=${REQUIRED:?must be set}", "line 2: required variable REQUIRED"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_malformed_entries_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message.replace("$", r"\$").replace("?", r"\?")):
        parse_env_file(text)
