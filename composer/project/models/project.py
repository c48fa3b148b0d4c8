"""``ProjectSpec``: the whole project file, with compose's implicit ``default`` network.

Compose's rule, kept here: a service with neither ``networks`` nor
``network_mode`` joins ``default``, and the ``default`` network exists when a
service joins it (implicitly or by name).  A project of services that all
have ``network_mode`` (a lab wired with ``links:`` only) has no network.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, IPvAnyAddress, model_validator

from composer.project.models.base import _Model, to_name_map
from composer.project.models.links import LinkSpec
from composer.project.models.networks import NetworkSpec
from composer.project.models.runtime import ModelSpec
from composer.project.models.secret_config import ConfigSpec, SecretSpec
from composer.project.models.services import ServiceSpec
from composer.project.models.volumes import VolumeSpec


def _add_default_network(data: Any) -> Any:
    """Compose's rule: services with neither ``networks`` nor ``network_mode`` join ``default``."""
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return data
    services = dict(data["services"])
    needs_default = False
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        if "networks" not in service and "network_mode" not in service:
            services[name] = {**service, "networks": {"default": {}}}
            needs_default = True
        elif isinstance(service.get("networks"), list | dict) and "default" in service["networks"]:
            needs_default = True  # an explicit reference to the implicit network
    networks = data.get("networks") or {}
    if needs_default and isinstance(networks, dict) and "default" not in networks:
        networks = {**networks, "default": {}}
    return {**data, "services": services, "networks": networks}


class HostSpec(_Model):
    """A machine a split lab runs on: ``address`` is its underlay address, where VXLAN tunnels end."""

    address: IPvAnyAddress


def _name_is_text(raw: object) -> object:
    if raw is not None and not isinstance(raw, str):
        raise ValueError(f"the project name must be a string, got {raw!r}")
    return raw


class ProjectSpec(_Model):
    """The whole project: what the user wrote, normalised."""

    name: Annotated[str, BeforeValidator(_name_is_text)] = ""
    services: dict[str, ServiceSpec] = {}
    networks: Annotated[
        dict[str, NetworkSpec],
        BeforeValidator(to_name_map, json_schema_input_type=dict[str, NetworkSpec | None]),
    ] = {}
    volumes: Annotated[
        dict[str, VolumeSpec],
        BeforeValidator(to_name_map, json_schema_input_type=dict[str, VolumeSpec | None]),
    ] = {}
    links: list[LinkSpec] = []
    secrets: dict[str, SecretSpec] = {}
    configs: dict[str, ConfigSpec] = {}
    models: dict[str, ModelSpec] = {}
    hosts: dict[str, HostSpec] = {}  # composer's own: the machines a lab is split across (``host:``)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _add_default_network(data)
