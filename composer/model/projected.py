"""Secrets and configs of one container: which files composer writes, and where they are bound.

compose mounts a secret at ``/run/secrets/NAME`` (or its ``target``, relative
targets below ``/run/secrets``) and a config at ``/NAME`` (or its
``target``).  A single host has no swarm store, so composer writes each one
as a file in the container's own folder (``ContainerFiles.projected``) with
the owner and mode the service asks for (compose's defaults: root, 0444) and
binds it read-only: a ``file`` source is copied when the container is made
(the container never sees the host file, nor changes to it), an
``environment`` source takes the variable's value from the interpolation
environment, a ``content`` source is the text itself.

Pure: the copy of a ``file`` source is the host layer's; here it is a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from composer.model.container import ContainerFiles, MountConfig, ProjectedFile

KINDS = (("secrets", "/run/secrets"), ("configs", ""))


class ProjectedError(ValueError):
    def __init__(self, path: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.path, self.message, self.hint = path, message, hint


def _number(text: str | None, path: str) -> int:
    if text is None or text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ProjectedError(
            path, f"{text!r} is not a number", "give a numeric uid/gid (names are not looked up)"
        ) from None
    if value < 0:
        raise ProjectedError(path, f"{value} is negative", "give a uid/gid of 0 or more")
    return value


def _content(definition: Any, environment: Mapping[str, str], path: str) -> tuple[str, str | None]:
    """(host source file, text) of a top-level definition; exactly one is set."""
    if definition.file is not None:
        return str(definition.file), None
    if definition.environment is not None:
        value = environment.get(definition.environment)
        if value is None:
            raise ProjectedError(
                path,
                f"the variable {definition.environment} is not set",
                f"export {definition.environment}, or set it in .env",
            )
        return "", value
    return "", getattr(definition, "content", None) or ""


def projected_files(
    spec: Any,
    service: str,
    svc: Any,
    files: ContainerFiles,
    environment: Mapping[str, str],
    uid_shift: int = 0,
) -> tuple[list[ProjectedFile], list[MountConfig]]:
    """The files to write and their read-only binds, for ``svc``'s secrets and configs."""
    projected: list[ProjectedFile] = []
    mounts: list[MountConfig] = []
    for kind, folder in KINDS:
        defined = getattr(spec, kind)
        for index, use in enumerate(getattr(svc, kind)):
            path = f"services.{service}.{kind}.{index}"
            definition = defined.get(use.source)
            if definition is None:  # checks reports it; kept here so build_desired stands alone
                raise ProjectedError(
                    path, f"unknown {kind[:-1]} `{use.source}`", f"declare it under top-level {kind}:"
                )
            source, content = _content(definition, environment, f"{kind}.{use.source}")
            host_path = files.projected(kind, use.source if use.target is None else f"{use.source}-{index}")
            target = use.path(folder)
            projected.append(
                ProjectedFile(
                    path=str(host_path),
                    target=target,
                    source=source,
                    content=content,
                    uid=_number(use.uid, f"{path}.uid") + uid_shift,
                    gid=_number(use.gid, f"{path}.gid") + uid_shift,
                    mode=use.mode if use.mode is not None else 0o444,
                )
            )
            mounts.append(MountConfig("bind", target, str(host_path), read_only=True, create_host_path=False))
    return projected, mounts
