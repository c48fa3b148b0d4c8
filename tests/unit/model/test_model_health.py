"""health_argv: every form of a healthcheck test, as compose-go reads it and Docker runs it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from composer.model.health import as_test_list, health_argv

SH = ("/bin/sh", "-c")

ARGV_CASES: list[tuple[str | Sequence[str], tuple[str, ...] | None]] = [
    # a string is CMD-SHELL (compose-go's loader)
    ("curl -f http://localhost/ || exit 1", (*SH, "curl -f http://localhost/ || exit 1")),
    ("  exit 0", (*SH, "  exit 0")),
    # composer's one exception: the string NONE disables
    ("NONE", None),
    (" NONE ", None),
    # list forms
    (["CMD", "curl", "-f", "localhost"], ("curl", "-f", "localhost")),
    (("CMD", "true"), ("true",)),
    (["CMD-SHELL", "pg_isready -U postgres"], (*SH, "pg_isready -U postgres")),
    # Docker appends the items after CMD-SHELL to the shell: a second one is $0, not joined
    (["CMD-SHELL", "echo $0", "name"], (*SH, "echo $0", "name")),
    (["NONE"], None),
    (["NONE", "ignored"], None),
    # no test of its own: the caller keeps the image's
    ([], None),
]


@pytest.mark.parametrize(("test", "argv"), ARGV_CASES)
def test_health_argv(test: str | Sequence[str], argv: tuple[str, ...] | None) -> None:
    assert health_argv(test) == argv


ERROR_CASES: list[tuple[str | Sequence[str], str]] = [
    (["RUN", "x"], "must be CMD, CMD-SHELL or NONE, got 'RUN'"),
    (["curl", "-f", "x"], "must be CMD, CMD-SHELL or NONE, got 'curl'"),
    (["cmd", "true"], "got 'cmd'"),  # the kinds are case-sensitive, as Docker's
    (["CMD"], "CMD needs a command after it"),
    (["CMD", ""], "CMD needs a command after it"),
    (["CMD-SHELL"], "CMD-SHELL needs a command after it"),
    (["CMD-SHELL", "  "], "CMD-SHELL needs a command after it"),
    ("", "CMD-SHELL needs a command after it"),
]


@pytest.mark.parametrize(("test", "message"), ERROR_CASES)
def test_health_argv_rejects(test: str | Sequence[str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("$", r"\$")):
        health_argv(test)


def test_image_shell_is_used_for_cmd_shell_only() -> None:
    bash = ("/bin/bash", "-o", "pipefail", "-c")
    assert health_argv(["CMD-SHELL", "a | b"], shell=bash) == (*bash, "a | b")
    assert health_argv("a | b", shell=bash) == (*bash, "a | b")
    assert health_argv(["CMD", "a"], shell=bash) == ("a",)


@pytest.mark.parametrize(
    ("test", "items"),
    [("x y", ["CMD-SHELL", "x y"]), ("NONE", ["NONE"]), (["CMD", "a"], ["CMD", "a"]), ((), [])],
)
def test_as_test_list(test: str | Sequence[str], items: list[str]) -> None:
    assert as_test_list(test) == items
