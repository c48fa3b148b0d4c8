"""A stage's state while it is built, and the instructions that only change its config (pure).

ENV, ARG, LABEL, MAINTAINER, USER, EXPOSE, VOLUME, STOPSIGNAL, CMD,
ENTRYPOINT, SHELL, ONBUILD and HEALTHCHECK touch no file: :func:`apply_config`
applies one of them to a :class:`StageState` with Docker's meaning (an
ENTRYPOINT drops the CMD a stage inherits; ENV wins over ARG in expansion; an ARG
of the global scope is seen in a stage only once redeclared).  The filesystem
steps live in :mod:`composer.images.builder.builder`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from composer.images.builder.dockerfile import (
    BuildError,
    Instruction,
    arg_definitions,
    expand,
    expand_words,
    key_values,
)

DEFAULT_SHELL = ("/bin/sh", "-c")
CONFIG_INSTRUCTIONS = frozenset(
    {"ARG", "ENV", "LABEL", "MAINTAINER", "USER", "EXPOSE", "VOLUME", "STOPSIGNAL", "CMD", "ENTRYPOINT",
     "SHELL", "ONBUILD", "HEALTHCHECK"}
)  # fmt: skip
_DURATION_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


@dataclass(frozen=True)
class Layer:
    diff_id: str
    digest: str
    size: int


@dataclass
class StageState:
    name: str
    layers: list[Layer]
    config: dict[str, Any]  # the OCI config's `config` object
    history: list[dict[str, Any]]
    key: str  # the cache key of the last step
    created: str
    args: dict[str, str] = field(default_factory=dict)  # ARGs in scope (not in the image)
    cmd_set: bool = False  # CMD set in this stage (a later ENTRYPOINT keeps it)

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            key, _, value = str(item).partition("=")
            out[key] = value
        return out

    def set_env(self, key: str, value: str) -> None:
        env = self.env()
        env[key] = value
        self.config["Env"] = [f"{k}={v}" for k, v in env.items()]

    def expansion_env(self) -> dict[str, str]:
        return {**self.args, **self.env()}  # ENV wins over ARG, as in BuildKit

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def copy(self, name: str) -> StageState:
        """The start of a stage built FROM this one: no ARG carries over, nor the CMD-set mark."""
        return StageState(
            name, list(self.layers), json.loads(json.dumps(self.config)), list(self.history),
            self.key, self.created, {}, False,
        )  # fmt: skip


@dataclass(frozen=True)
class ConfigContext:
    source: str  # the Dockerfile's name, for messages
    escape: str
    scope: Mapping[str, str]  # the global ARGs (and the predefined ones)
    arg_value: Callable[[str, str | None], str | None]  # --build-arg, else the default


def apply_config(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    """Apply a config-only instruction to ``state``."""
    _HANDLERS[ins.cmd](state, ins, ctx)


def _arg(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    for name, default in arg_definitions(ins, state.expansion_env(), ctx.escape):
        value = ctx.arg_value(name, default)
        if value is None and name in ctx.scope:
            value = ctx.scope[name]  # a global ARG redeclared without a default
        state.args[name] = value if value is not None else ""


def _env(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    for key, value in key_values(ins.args, ins, state.expansion_env(), ctx.escape):
        state.set_env(key, value)


def _label(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    labels = dict(state.config.get("Labels") or {})
    labels.update(key_values(ins.args, ins, state.expansion_env(), ctx.escape))
    state.config["Labels"] = labels


def _maintainer(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    state.config["Labels"] = {**(state.config.get("Labels") or {}), "maintainer": " ".join(ins.args)}


def _user(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    state.config["User"] = expand(ins.args[0], state.expansion_env(), ctx.escape)


def _expose(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    ports = dict(state.config.get("ExposedPorts") or {})
    for word in ins.args:
        for port in expand_words(word, state.expansion_env(), ctx.escape):
            ports[port if "/" in port else f"{port}/tcp"] = {}
    state.config["ExposedPorts"] = ports


def _volume(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    volumes = dict(state.config.get("Volumes") or {})
    env = state.expansion_env()
    words = list(ins.args) if ins.json else [w for a in ins.args for w in expand_words(a, env, ctx.escape)]
    for path in words:
        volumes[path] = {}
    state.config["Volumes"] = volumes


def _stopsignal(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    state.config["StopSignal"] = expand(ins.args[0], state.expansion_env(), ctx.escape)


def command(state: StageState, ins: Instruction) -> list[str]:
    """CMD/ENTRYPOINT/RUN argv: the JSON form as it is, the shell form through SHELL."""
    return list(ins.args) if ins.json else [*state.shell(), ins.args[0]]


def _cmd(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    state.config["Cmd"] = command(state, ins)
    state.cmd_set = True


def _entrypoint(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    state.config["Entrypoint"] = command(state, ins)
    if not state.cmd_set:
        state.config["Cmd"] = None  # Docker: a new ENTRYPOINT drops the CMD inherited from the base


def _shell(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    if not ins.json:
        raise BuildError(f'{ctx.source}:{ins.line}: SHELL needs the JSON form, e.g. SHELL ["/bin/sh", "-c"]')
    state.config["Shell"] = list(ins.args)


def _onbuild(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    trigger = ins.original.split(None, 1)[1] if " " in ins.original else ""
    state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), trigger]


def _healthcheck(state: StageState, ins: Instruction, ctx: ConfigContext) -> None:
    kind = ins.args[0].upper() if ins.args else ""
    if kind == "NONE":
        state.config["Healthcheck"] = {"Test": ["NONE"]}
        return
    if kind != "CMD" or len(ins.args) < 2:
        raise BuildError(f"{ctx.source}:{ins.line}: HEALTHCHECK takes NONE or CMD COMMAND")
    check: dict[str, Any] = {"Test": ["CMD", *ins.args[1:]] if ins.json else ["CMD-SHELL", ins.args[1]]}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):  # fmt: skip
        value = ins.flag(flag)
        if value:
            check[key] = duration_ns(value, f"{ctx.source}:{ins.line}")
    retries = ins.flag("retries")
    if retries:
        if not retries.isdigit():
            raise BuildError(f"{ctx.source}:{ins.line}: --retries={retries} is not a number")
        check["Retries"] = int(retries)
    state.config["Healthcheck"] = check


def duration_ns(text: str, where: str) -> int:
    """A Go duration (``1m30s``, ``500ms``) in nanoseconds, as the image config stores it."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise BuildError(f"{where}: {text!r} is not a duration (e.g. 30s, 1m30s)")
    return int(sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


_HANDLERS: dict[str, Callable[[StageState, Instruction, ConfigContext], None]] = {
    "ARG": _arg, "ENV": _env, "LABEL": _label, "MAINTAINER": _maintainer, "USER": _user, "EXPOSE": _expose,
    "VOLUME": _volume, "STOPSIGNAL": _stopsignal, "CMD": _cmd, "ENTRYPOINT": _entrypoint, "SHELL": _shell,
    "ONBUILD": _onbuild, "HEALTHCHECK": _healthcheck,
}  # fmt: skip
