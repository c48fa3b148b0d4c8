"""Config-only instructions applied to a stage's state, with Docker's meaning (pure)."""

from __future__ import annotations

import pytest

from composer.images.builder.dockerfile import BuildError, parse_dockerfile
from composer.images.builder.stage import ConfigContext, StageState, apply_config, duration_ns


def run(body: str, args: dict[str, str] | None = None, scope: dict[str, str] | None = None) -> StageState:
    parsed = parse_dockerfile("FROM scratch\n" + body, "Dockerfile")
    state = StageState("0", [], {"Cmd": ["base"]}, [], "scratch", "")
    given = args or {}
    ctx = ConfigContext("Dockerfile", parsed.escape, scope or {}, lambda n, d: given.get(n, d))
    for ins in parsed.stages[0].instructions:
        apply_config(state, ins, ctx)
    return state


def test_arg_scoping_and_env_precedence() -> None:
    state = run("ARG A=default\nARG G\nARG B\nENV A=env\nENV C=$A-$G-$B\n", {"B": "given"}, {"G": "global"})
    assert state.args == {"A": "default", "G": "global", "B": "given"}
    assert state.env()["C"] == "env-global-given"  # ENV wins over ARG; a redeclared global ARG is seen


def test_entrypoint_drops_the_inherited_cmd_but_not_its_own() -> None:
    assert run('ENTRYPOINT ["e"]\n').config["Cmd"] is None
    assert run('CMD ["c"]\nENTRYPOINT ["e"]\n').config["Cmd"] == ["c"]


def test_shell_form_goes_through_shell() -> None:
    state = run('SHELL ["/bin/bash", "-c"]\nCMD echo hi\n')
    assert state.config["Cmd"] == ["/bin/bash", "-c", "echo hi"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("SHELL /bin/sh -c\n", "SHELL needs the JSON form"),
        ("HEALTHCHECK --interval=soon CMD true\n", "is not a duration"),
        ("HEALTHCHECK --retries=x CMD true\n", "is not a number"),
        ("HEALTHCHECK true\n", "HEALTHCHECK takes NONE or CMD"),
    ],
)
def test_bad_config_instructions_name_the_line(body: str, message: str) -> None:
    with pytest.raises(BuildError, match=message) as caught:
        run(body)
    assert "Dockerfile:2" in caught.value.message


def test_durations() -> None:
    assert duration_ns("1m30s", "x") == 90 * 10**9
    assert duration_ns("500ms", "x") == 500 * 10**6
