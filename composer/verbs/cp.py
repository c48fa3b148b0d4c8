"""``composer cp``: which side is the container's, and which container (``SERVICE:PATH``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from composer.engine.hosts.base import CopyRequest, Host
from composer.errors import ComposerError
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout
from composer.verbs.targets import find_container


@dataclass(frozen=True)
class CopySpec:
    service: str
    container_path: str
    host_path: str
    to_container: bool


def parse_copy(source: str, destination: str) -> CopySpec:
    """``SERVICE:SRC DEST`` or ``SRC SERVICE:DEST``; exactly one side names a service.  Pure."""
    src_service, src_path = _split(source)
    dst_service, dst_path = _split(destination)
    if (src_service is None) == (dst_service is None):
        raise ComposerError(
            "cp: one of the two paths must be SERVICE:PATH, and only one",
            hint="composer cp web:/etc/hosts ./hosts  or  composer cp ./app.conf web:/etc/app.conf",
        )
    if src_service is not None:
        return CopySpec(src_service, src_path, destination, to_container=False)
    assert dst_service is not None
    return CopySpec(dst_service, dst_path, source, to_container=True)


def _split(arg: str) -> tuple[str | None, str]:
    if arg == "-" or arg.startswith(("/", ".", "~")) or ":" not in arg:
        return None, arg
    service, _, path = arg.partition(":")
    if not path:
        raise ComposerError(f"cp {arg}: no path after the service", hint=f"{service}:/some/path")
    if not path.startswith("/"):
        path = "/" + path  # relative to the container's root (its working folder is not known here)
    return service, path


def copy(
    layout: ProjectLayout,
    host: Host,
    spec: CopySpec,
    *,
    index: int = 1,
    archive: bool = False,
    follow_link: bool = False,
    stream: IO[bytes] | None = None,
) -> None:
    target = find_container(read_store(layout), spec.service, index)
    request = CopyRequest(spec.container_path, spec.host_path, archive, follow_link, stream)
    if spec.to_container:
        host.copy_to_container(layout, target.name, request)
    else:
        host.copy_from_container(layout, target.name, request)
