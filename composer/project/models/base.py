"""The base of every model, the validation context, and the input converters the areas share.

Every field accepts all of compose's spellings on input and exposes one form
afterwards.  Each conversion is a ``BeforeValidator`` whose
``json_schema_input_type`` describes the accepted input, which is what the
generated JSON Schema (``schemas/compose.schema.json``) shows to editors.

Rules kept here:

* ``_Model``: frozen, ``extra="forbid"``; ``x-*`` extension keys are dropped
  before validation, but never inside free-form maps such as ``labels`` or
  ``environment``; numbers in string fields become strings
  (``coerce_numbers_to_str``), as compose does for ``environment: {PORT: 80}``.
* Sizes are int bytes, durations float seconds (``units`` parses them).
* Relative paths are made absolute against ``ModelContext.project_directory``
  and ``~`` against ``ModelContext.home_directory``, lexically (``..`` is
  folded as compose-go's ``filepath.Abs`` does; symlinks are not followed:
  nothing here looks at the disk or the environment).  The loader passes the
  context; a relative path validated without one is a programming error
  (``MissingContextError``), never a guess from the working directory.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePath
from typing import Annotated, Any, NamedTuple

# composer uses no pydantic plugins; looking for them scans the entry points of every
# installed distribution, a noticeable part of `composer config -q`'s start-up.  pydantic
# reads the variable when the first model class is built, so it is set before any is.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator

from composer.model.units import parse_bytes, parse_duration

StringOrList = str | list[str]
Scalar = str | int | float | bool | None


# --------------------------------------------------------------------------- the validation context


class MissingContextError(RuntimeError):
    """A relative path was validated without a ``ModelContext``: the caller forgot to pass one.

    Not a ValueError on purpose: pydantic would turn that into a problem of
    the user's file.
    """


class ModelContext(NamedTuple):  # a NamedTuple, not a dataclass: cheaper to define at start-up
    """What validation needs from outside the file: ``model_validate(data, context=ModelContext(...))``."""

    project_directory: PurePath  # absolute: relative paths of the file are below it
    home_directory: PurePath | None = None  # what ``~`` means; None: a ``~`` path is an error


def model_context(info: ValidationInfo) -> ModelContext:
    context = info.context
    if not isinstance(context, ModelContext):
        raise MissingContextError(
            "a relative path needs the project directory: validate with context=ModelContext(...)"
        )
    return context


def absolute_path(raw: str, info: ValidationInfo) -> str:
    """``raw`` made absolute and normalised, purely: ``~``, ``~/x``, ``./x``, ``x`` and ``/x/../y``."""
    if raw == "~" or raw.startswith("~/"):
        home = model_context(info).home_directory
        if home is None:
            raise ValueError(f"cannot expand {raw!r}: the home directory is not known (HOME is not set)")
        path = posixpath.join(str(home), raw[2:])
    elif raw.startswith("~"):
        raise ValueError(f"{raw!r}: ~USER paths are not supported, write the absolute path")
    elif raw.startswith("/"):
        path = raw
    else:
        path = posixpath.join(str(model_context(info).project_directory), raw)
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")  # normpath keeps a leading "//" (POSIX leaves it implementation-defined)


def _to_abs_path(raw: object, info: ValidationInfo) -> object:
    return Path(absolute_path(raw, info)) if isinstance(raw, str) else raw


# --------------------------------------------------------------------------- shared input converters


def scalar_text(value: object) -> str:
    """A YAML scalar as compose prints it into a string field (true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_list(raw: object) -> object:
    """A single string or number is a list of one."""
    return [raw] if isinstance(raw, str | int | float) and not isinstance(raw, bool) else raw


def to_env_map(raw: object) -> object:
    """``[A=1, B]`` or ``{A: 1, B: null}`` -> ``{"A": "1", "B": None}``."""
    if isinstance(raw, list):
        result: dict[str, object] = {}
        for item in raw:
            if not isinstance(item, str):
                raise ValueError(f"list entries must be strings like NAME=value, got {item!r}")
            name, sep, value = item.partition("=")
            result[name] = value if sep else None
        return result
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, dict | list):
                raise ValueError(
                    f"the value of {key} must be a string, a number or a boolean, not a list or mapping"
                )
        return {key: None if value is None else scalar_text(value) for key, value in raw.items()}
    return raw


def to_str_map(raw: object) -> object:
    """Like ``to_env_map`` but a missing value is the empty string (labels, sysctls, driver_opts)."""
    converted = to_env_map(raw)
    if isinstance(converted, dict):
        return {key: "" if value is None else value for key, value in converted.items()}
    return converted


def to_name_map(raw: object) -> object:
    """``[a, b]`` -> ``{a: {}, b: {}}``; ``{a: null}`` -> ``{a: {}}`` (service networks, depends_on)."""
    if isinstance(raw, list):
        if not all(isinstance(item, str) for item in raw):
            raise ValueError("list entries must be names")
        return {key: {} for key in raw}
    if isinstance(raw, dict):
        return {key: {} if value is None else value for key, value in raw.items()}
    return raw


def to_bytes(raw: object) -> object:
    return None if raw is None else parse_bytes(raw)


def _to_duration(raw: object) -> object:
    return None if raw is None else parse_duration(raw)


def _to_float(raw: object) -> object:
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    return raw


def _to_file_mode(raw: object) -> object:
    """A quoted mode is octal, as compose-go reads it ("1777"); a YAML number is taken as written."""
    if isinstance(raw, str):
        try:
            raw = int(raw, 8)
        except ValueError:
            raise ValueError(f'mode {raw!r} is not an octal number (e.g. 0440 or "1777")') from None
    if isinstance(raw, int) and not isinstance(raw, bool) and not 0 <= raw <= 0o7777:
        raise ValueError(f'mode {raw:o} (octal) is not a file mode: write it as 0o1777 or "1777"')
    return raw


BytesInput = int | str
DurationInput = int | float | str
OptBytes = Annotated[int | None, BeforeValidator(to_bytes, json_schema_input_type=BytesInput | None)]
Seconds = Annotated[float, BeforeValidator(_to_duration, json_schema_input_type=DurationInput)]
OptSeconds = Annotated[
    float | None, BeforeValidator(_to_duration, json_schema_input_type=DurationInput | None)
]
OptFloat = Annotated[float | None, BeforeValidator(_to_float, json_schema_input_type=float | str | None)]
ListOfStr = Annotated[list[str], BeforeValidator(to_list, json_schema_input_type=StringOrList)]
EnvMap = Annotated[
    dict[str, str | None],
    BeforeValidator(to_env_map, json_schema_input_type=dict[str, Scalar] | list[str]),
]
StrMap = Annotated[
    dict[str, str], BeforeValidator(to_str_map, json_schema_input_type=dict[str, Scalar] | list[str])
]
AbsPath = Annotated[Path, BeforeValidator(_to_abs_path, json_schema_input_type=str)]
OptFileMode = Annotated[int | None, BeforeValidator(_to_file_mode, json_schema_input_type=int | str | None)]


class _Model(BaseModel):
    """Base of every model: frozen, unknown keys rejected, ``x-*`` extension keys ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data
