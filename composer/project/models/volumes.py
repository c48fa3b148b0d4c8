"""Top-level ``volumes:``: named volumes (folders in the project's state folder).

A service's mounts (bind, volume, tmpfs) are ``services.ServiceVolumeSpec``;
this is the volume a ``type: volume`` mount names.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo, model_validator

from composer.project.models.base import StrMap, _Model, absolute_path


def external_form(data: Any, kind: str) -> Any:
    """The deprecated ``external: {name: N}`` is ``external: true, name: N``; an external one is only named.

    compose-go refuses ``driver``, ``driver_opts`` and ``labels`` on an
    external volume or network: they describe how to make it, and it is not made.
    """
    if not isinstance(data, dict):
        return data
    external = data.get("external")
    if isinstance(external, dict):
        name = external.get("name")
        if data.get("name") not in (None, name):
            raise ValueError("`external.name` and `name` differ: keep only `name`")
        data = {**data, "external": True, **({"name": name} if name is not None else {})}
    if data.get("external") is True:
        keys = ("driver", "driver_opts", "labels") + (("ipam", "internal") if kind == "network" else ())
        made = [key for key in keys if data.get(key)]
        if made:
            raise ValueError(
                f"an external {kind} cannot have {', '.join(made)}: it exists already "
                "(remove them, or external: true)"
            )
    return data


class VolumeSpec(_Model):
    driver: str = "local"
    driver_opts: StrMap = {}
    external: bool = False
    name: str | None = None
    labels: StrMap = {}

    @model_validator(mode="before")
    @classmethod
    def _external(cls, data: Any) -> Any:
        return external_form(data, "volume")

    @model_validator(mode="after")
    def _device(self, info: ValidationInfo) -> VolumeSpec:
        """A relative ``driver_opts.device`` of a local bind volume is made absolute, as compose-go does."""
        device = self.driver_opts.get("device")
        if self.driver == "local" and device and device.startswith("."):
            opts = {**self.driver_opts, "device": absolute_path(device, info)}
            object.__setattr__(self, "driver_opts", opts)
        return self
