"""Service options read and validated in full, several of which the runtime does not honour yet.

``logging``, lifecycle hooks (``post_start``, ``pre_stop``, ``pre_start``),
``develop.watch``, GPU and device requests (``gpus``,
``deploy.resources.reservations.devices``), ``provider`` and ``models``.
Which of them ``up`` refuses, and why, is one table: ``project.refusals``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from composer.project.models.base import EnvMap, ListOfStr, StrMap, _Model

ROTATING_DRIVERS = ("json-file", "local")  # their max-size/max-file map onto composer's own rotation
HONOURED_DRIVERS = (*ROTATING_DRIVERS, "none")


class LoggingSpec(_Model):
    """``logging``: json-file and local rotate composer's own log file, none keeps nothing.

    Any other driver is accepted (the loader warns once, naming it) and the
    output goes to composer's own log file.
    """

    driver: str | None = None
    options: StrMap = {}

    @model_validator(mode="after")
    def _rotation(self) -> LoggingSpec:
        if (self.driver or "json-file") not in ROTATING_DRIVERS:
            return self
        from composer.model.units import parse_bytes

        size = self.options.get("max-size")
        if size is not None and size != "-1":
            try:
                parse_bytes(size)
            except ValueError:
                raise ValueError(f"max-size {size!r} is not a size (e.g. 10m, 1g)") from None
        count = self.options.get("max-file")
        if count is not None and not (count.isdigit() and int(count) >= 1):
            raise ValueError(f"max-file {count!r} must be a whole number of 1 or more")
        return self


def _shell_words(raw: object) -> object:
    """A string command is split like a POSIX shell would (as a service's ``command``)."""
    if isinstance(raw, str):
        import shlex

        try:
            return shlex.split(raw)
        except ValueError as error:
            raise ValueError(f"cannot split the command like a shell would: {error}") from None
    return raw


class HookSpec(_Model):
    """A command run in the container at a point of its life (compose's ``post_start`` & co.)."""

    command: Annotated[list[str], BeforeValidator(_shell_words, json_schema_input_type=str | list[str])]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: EnvMap = {}


WatchAction = Literal["sync", "rebuild", "restart", "sync+restart", "sync+exec"]


class WatchSpec(_Model):
    path: str
    action: WatchAction
    target: str | None = None
    ignore: ListOfStr = []
    include: ListOfStr = []
    exec: HookSpec | None = None
    initial_sync: bool = False

    @model_validator(mode="after")
    def _needs(self) -> WatchSpec:
        if self.action.startswith("sync") and self.target is None:
            raise ValueError(f"action {self.action} needs a `target` (where the files go in the container)")
        if self.action == "sync+exec" and self.exec is None:
            raise ValueError("action sync+exec needs `exec` (the command to run after a sync)")
        return self


class DevelopSpec(_Model):
    watch: list[WatchSpec] = []


class DeviceRequestSpec(_Model):
    """A device a service reserves (``deploy.resources.reservations.devices``, ``gpus``)."""

    capabilities: list[str] = []
    driver: str | None = None
    count: int | Literal["all"] | None = None
    device_ids: list[str] | None = None
    options: StrMap = {}

    @model_validator(mode="before")
    @classmethod
    def _count(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("count") == -1:
            return {**data, "count": "all"}  # compose-go's spelling of "all"
        return data

    @model_validator(mode="after")
    def _well_formed(self) -> DeviceRequestSpec:
        if self.count is not None and self.device_ids is not None:
            raise ValueError("`count` and `device_ids` exclude each other: give one of them")
        return self


class ReservedDeviceSpec(DeviceRequestSpec):
    @model_validator(mode="after")
    def _capabilities(self) -> ReservedDeviceSpec:
        if not self.capabilities:
            raise ValueError("a reserved device needs `capabilities` (e.g. [gpu])")
        return self


class ProviderSpec(_Model):
    type: str
    options: dict[str, Any] = {}


class ServiceModelSpec(_Model):
    endpoint_var: str | None = None
    model_var: str | None = None


class ModelSpec(_Model):
    """A top-level ``models:`` entry (an AI model a provider runs)."""

    model: str
    name: str | None = None
    context_size: int | None = Field(default=None, ge=1)
    runtime_flags: list[str] = []
