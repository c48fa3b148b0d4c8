"""The parts of an OCI/Docker image config that decide how a container runs.

Read from the config blob's ``config`` object (``Entrypoint``, ``Cmd``, ``Env``,
``WorkingDir``, ``User``, ``ExposedPorts``, ``Volumes``, ``StopSignal``,
``Healthcheck``).  Missing or null fields become empty values, as Docker treats them.
The healthcheck is kept in Docker's form (``Test``, and ``Interval``, ``Timeout``,
``StartPeriod``, ``StartInterval`` in nanoseconds, ``Retries``) for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.errors import ImageError


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=list)  # "K=V"
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)  # "80/tcp"
    volumes: list[str] = field(default_factory=list)
    stop_signal: str | None = None
    healthcheck: dict[str, Any] | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_blob(cls, blob: dict[str, Any]) -> ImageConfig:
        raw = blob.get("config") or {}
        if not isinstance(raw, dict):
            raise ImageError("the image config's `config` field is not an object")
        return cls(
            entrypoint=_str_list_or_none(raw.get("Entrypoint")),
            cmd=_str_list_or_none(raw.get("Cmd")),
            env=_str_list_or_none(raw.get("Env")) or [],
            working_dir=str(raw.get("WorkingDir") or ""),
            user=str(raw.get("User") or ""),
            exposed_ports=sorted((raw.get("ExposedPorts") or {}).keys()),
            volumes=sorted((raw.get("Volumes") or {}).keys()),
            stop_signal=str(raw["StopSignal"]) if raw.get("StopSignal") else None,
            healthcheck=dict(raw["Healthcheck"]) if isinstance(raw.get("Healthcheck"), dict) else None,
            labels={str(k): str(v) for k, v in (raw.get("Labels") or {}).items()},
        )


def _str_list_or_none(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # some old images store a shell string
        return [value]
    if not isinstance(value, list):
        raise ImageError(f"expected a list of strings in the image config, got {value!r}")
    return [str(item) for item in value]


@dataclass(frozen=True)
class ResolvedImage:
    """An image present in the store, ready to run."""

    reference: str  # canonical reference it was asked for
    image_id: str  # config digest
    manifest_digest: str
    layer_dirs: tuple[Path, ...]  # bottom to top
    config: ImageConfig
    size: int  # bytes of its layers as downloaded (compressed)
