"""The Dockerfile reader: BuildKit's grammar through its parser, stages, word expansion."""

from __future__ import annotations

import pytest

from composer.images.builder.dockerfile import BuildError, expand, expand_words, parse_dockerfile


def test_stages_names_global_args_and_flags() -> None:
    parsed = parse_dockerfile(
        "# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM ${BASE} AS Build\nRUN make \\\n  all\n"
        "FROM --platform=$BUILDPLATFORM scratch\nCOPY --from=build --chown=1:2 /out /srv\n",
        "Dockerfile",
    )
    assert [a.args for a in parsed.global_args] == [("BASE=busybox",)]
    first, second = parsed.stages
    assert (first.base, first.name, first.line) == ("${BASE}", "build", 3)
    assert first.instructions[0].args == ("make   all",)  # the continuation joined
    assert (second.base, second.name, second.platform) == ("scratch", None, "$BUILDPLATFORM")
    copy = second.instructions[0]
    assert copy.flag("from") == "build" and copy.flag("chown") == "1:2" and copy.flag("chmod") is None
    assert parsed.stage_named("BUILD") is first and parsed.stage_named("1") is second


def test_escape_directive_json_forms_and_heredocs() -> None:
    parsed = parse_dockerfile(
        '# escape=`\nFROM scratch\nRUN echo a `\n  b\nCMD ["a", "b c"]\nRUN <<EOT\necho hi\nEOT\n',
        "Dockerfile",
    )
    assert parsed.escape == "`"
    run, cmd, heredoc = parsed.stages[0].instructions
    assert run.args == ("echo a   b",) and not run.json
    assert cmd.json and cmd.args == ("a", "b c")
    assert heredoc.heredocs[0].name == "EOT" and heredoc.heredocs[0].content == "echo hi\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# only a comment\n", "file with no instructions"),
        ("RUN echo\n", "RUN before the first FROM"),
        ("ENV A=1\nFROM scratch\n", "ENV before the first FROM"),
        ("FROM a AS x\nFROM b AS x\n", "stage name 'x' is also used on line 1"),
        ("FROM a b c d\n", "FROM takes an image"),
        ("FROM scratch\nFROBNICATE x\n", "unknown instruction FROBNICATE"),
        ("FROM scratch\nONBUILD FROM x\n", "ONBUILD FROM is not allowed"),
    ],
)
def test_bad_dockerfiles_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(BuildError, match=message) as caught:
        parse_dockerfile(text, "ctx/Dockerfile")
    assert "ctx/Dockerfile" in caught.value.message


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "1"),
        ("${A}x", "1x"),
        ("${MISSING:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${A:+set}", "set"),
        ("${MISSING:+set}", ""),
        ("${EMPTY+set}", "set"),
        ("'$A'", "$A"),
        ('"$A b"', "1 b"),
        ("\\$A", "$A"),
        ("${MISSING:-${A}}", "1"),
        ("a$", "a$"),
    ],
)
def test_expansion_follows_the_shell_lexer(word: str, expected: str) -> None:
    assert expand(word, {"A": "1", "EMPTY": ""}) == expected


def test_expand_words_splits_on_unquoted_blanks() -> None:
    assert expand_words('80/tcp "$P" a\\ b', {"P": "443 x"}) == ["80/tcp", "443 x", "a b"]


def test_required_variable_is_an_error() -> None:
    with pytest.raises(BuildError, match="NAME: needed"):
        expand("${NAME:?needed}", {})
