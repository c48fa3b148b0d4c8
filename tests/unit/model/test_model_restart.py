"""RestartPolicy: compose's restart text parsed once, with Docker's semantics."""

from __future__ import annotations

import dataclasses

import pytest

from composer.model.restart import RestartPolicy

PARSE_CASES: list[tuple[str, str, int | None, bool, str]] = [
    # text, name, max_retries, is_one_shot, str()
    ("no", "no", None, True, "no"),
    ("always", "always", None, False, "always"),
    ("unless-stopped", "unless-stopped", None, False, "unless-stopped"),
    ("on-failure", "on-failure", None, True, "on-failure"),
    ("on-failure:3", "on-failure", 3, True, "on-failure:3"),
    ("on-failure:010", "on-failure", 10, True, "on-failure:10"),
    ("on-failure:0", "on-failure", None, True, "on-failure"),  # Docker: 0 is no limit
]


@pytest.mark.parametrize(("text", "name", "retries", "one_shot", "shown"), PARSE_CASES)
def test_parse(text: str, name: str, retries: int | None, one_shot: bool, shown: str) -> None:
    policy = RestartPolicy.parse(text)
    assert (policy.name, policy.max_retries, policy.is_one_shot, str(policy)) == (
        name,
        retries,
        one_shot,
        shown,
    )
    assert RestartPolicy.parse(str(policy)) == policy


ERROR_CASES = [
    ("", "use no, always, on-failure, on-failure:N or unless-stopped"),
    ("never", "invalid restart policy 'never'"),
    ("Always", "invalid restart policy 'Always'"),
    ("always:3", "only on-failure takes a maximum retry count"),
    ("no:1", "only on-failure takes a maximum retry count"),
    ("on-failure:", "must be a number"),
    ("on-failure:-1", "must be a number"),
    ("on-failure:x", "must be a number"),
    ("on-failure:²", "must be a number"),
    ("on-failure:1:2", "must be a number"),
    (":3", "invalid restart policy ':3'"),
]


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RestartPolicy.parse(text)


def test_value_is_frozen_and_checked() -> None:
    assert RestartPolicy() == RestartPolicy("no", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        RestartPolicy().name = "always"  # type: ignore[misc]
    with pytest.raises(ValueError, match="only allowed with on-failure"):
        RestartPolicy("always", 3)
    with pytest.raises(ValueError, match="1 or more"):
        RestartPolicy("on-failure", 0)


RESTART_CASES: list[tuple[str, int | None, int, bool]] = [
    # policy, exit code (None: unknown), restarts so far, restarted?
    ("no", 1, 0, False),
    ("no", 0, 0, False),
    ("always", 0, 0, True),
    ("always", 137, 99, True),
    ("unless-stopped", 0, 5, True),
    ("on-failure", 0, 0, False),
    ("on-failure", None, 0, False),
    ("on-failure", 1, 1000, True),
    ("on-failure:2", 1, 0, True),
    ("on-failure:2", 1, 1, True),
    ("on-failure:2", 1, 2, False),
    ("on-failure:2", 0, 0, False),
]


@pytest.mark.parametrize(("text", "exit_code", "count", "restarted"), RESTART_CASES)
def test_restarts_after(text: str, exit_code: int | None, count: int, restarted: bool) -> None:
    assert RestartPolicy.parse(text).restarts_after(exit_code, count) is restarted
