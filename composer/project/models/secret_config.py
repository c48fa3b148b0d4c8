"""Top-level ``secrets:`` and ``configs:``, and how a service mounts them.

A secret or config comes from exactly one source: ``file`` (a path, made
absolute against the project directory), ``environment`` (the name of a
variable of the interpolation environment) or, for configs, ``content``
(inline text).  ``external`` ones live in a swarm's store, which a single
host has not: they are refused with that reason.

A service names them in the short form (``- db_password``) or the long one
(``source``, ``target``, ``uid``, ``gid``, ``mode``); the short form is the
long one with the defaults, and a secret's default target is
``/run/secrets/NAME`` (a config's is ``/NAME``).
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from composer.project.models.base import AbsPath, OptFileMode, StrMap, _Model


def _refuse_external(data: Any, kind: str) -> Any:
    if isinstance(data, dict) and data.get("external") not in (None, False):
        raise ValueError(
            f"external {kind} live in a swarm's store, which composer (a single host) does not have: "
            "use `file:`, `environment:`" + (" or `content:`" if kind == "configs" else "")
        )
    return data


class _SourcedSpec(_Model):
    name: str | None = None
    file: AbsPath | None = None
    environment: str | None = None
    external: bool = False
    labels: StrMap = {}
    driver: str | None = None
    driver_opts: StrMap = {}
    template_driver: str | None = None

    def _one_source(self, sources: dict[str, object]) -> None:
        given = [key for key, value in sources.items() if value is not None]
        if len(given) != 1:
            names = ", ".join(f"`{key}`" for key in sources)
            found = ", ".join(f"`{key}`" for key in given) or "none"
            raise ValueError(f"give exactly one of {names} (found {found})")


class SecretSpec(_SourcedSpec):
    """One top-level secret."""

    @model_validator(mode="before")
    @classmethod
    def _not_external(cls, data: Any) -> Any:
        return _refuse_external(data, "secrets")

    @model_validator(mode="after")
    def _source(self) -> SecretSpec:
        self._one_source({"file": self.file, "environment": self.environment})
        return self


class ConfigSpec(_SourcedSpec):
    """One top-level config."""

    content: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_external(cls, data: Any) -> Any:
        return _refuse_external(data, "configs")

    @model_validator(mode="after")
    def _source(self) -> ConfigSpec:
        self._one_source({"file": self.file, "environment": self.environment, "content": self.content})
        return self


class ServiceSecretSpec(_Model):
    """A secret or config a service mounts; ``target`` None means the default place."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: OptFileMode = None

    @model_validator(mode="before")
    @classmethod
    def _short_syntax(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"source": data}
        if isinstance(data, dict):
            data = {
                **data,
                **{key: str(data[key]) for key in ("uid", "gid") if isinstance(data.get(key), int)},
            }
        return data

    @model_validator(mode="after")
    def _checked(self) -> ServiceSecretSpec:
        for key in ("uid", "gid"):
            value = getattr(self, key)
            if value is not None and not value.isdigit():
                raise ValueError(f"{key} {value!r} must be a number (composer does not look names up)")
        return self

    def path(self, default_folder: str) -> str:
        """Where it appears in the container: ``target`` (relative to ``default_folder``) or its name."""
        target = self.target or self.source
        return target if target.startswith("/") else f"{default_folder}/{target}"
