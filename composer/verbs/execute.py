"""``composer exec``: run a command in a running container of a service."""

from __future__ import annotations

from composer.engine.hosts.base import ExecRequest, Host
from composer.errors import ContainerError
from composer.store.journal import read_store
from composer.store.layout import ProjectLayout
from composer.verbs.targets import find_container


def exec_in(layout: ProjectLayout, host: Host, service: str, request: ExecRequest, *, index: int = 1) -> int:
    """The command's exit status."""
    target = find_container(read_store(layout), service, index)
    if host.container_status(layout, target.name).state != "running":
        raise ContainerError(f"container {target.name} is not running", hint=f"composer start {service}")
    return host.exec_in_container(layout, target.name, request)
