"""Top-level ``volumes:``: named volumes (folders in the project's state folder).

A service's mounts (bind, volume, tmpfs) are ``services.ServiceVolumeSpec``;
this is the volume a ``type: volume`` mount names.
"""

from __future__ import annotations

from composer.project.models.base import StrMap, _Model


class VolumeSpec(_Model):
    driver: str = "local"
    driver_opts: StrMap = {}
    external: bool = False
    name: str | None = None
    labels: StrMap = {}
