"""The project file as validated, normalised, frozen pydantic models, one module per area.

A compose file allows several spellings for one thing (``environment`` as a
map or a list, ``ports`` as ``"8080:80"`` or a mapping, ``depends_on`` as a
list or a map, sizes as ``512m`` ...).  Every field accepts all of them on input
and exposes ONE form afterwards, so that the rest of composer never repeats a
compose rule.

* ``base``      ``_Model`` (frozen, closed, ``x-*`` ignored), ``ModelContext``
                (the project and home directories relative paths need) and the
                converters the areas share (sizes, durations, maps, paths)
* ``services``  ``ServiceSpec`` and its parts: ports, mounts, healthcheck,
                deploy, depends_on, ulimits, routes, env_file ...
* ``networks``  top-level ``networks:`` (bridges, IPAM pools, MTU)
* ``volumes``   top-level ``volumes:`` (named volumes)
* ``links``     ``links:``, point-to-point wires with netem settings
* ``project``   ``ProjectSpec``, the whole file, and the implicit ``default`` network

Nothing here reads the disk or the environment: validate with
``ProjectSpec.model_validate(data, context=ModelContext(project_directory, home_directory))``.
The generated JSON Schema (``schemas/compose.schema.json``) comes from these
models (``python -m composer.project.schema``).  Import the names from here;
the modules are the layout, not the interface.
"""

from __future__ import annotations

from composer.project.models.base import MissingContextError, ModelContext
from composer.project.models.links import LinkEndpoint, LinkSpec
from composer.project.models.networks import IpamPoolSpec, IpamSpec, NetworkSpec
from composer.project.models.project import HostSpec, ProjectSpec
from composer.project.models.services import (
    BindOptions,
    DependsOnSpec,
    DeploySpec,
    DeviceSpec,
    EnvFileSpec,
    HealthcheckSpec,
    PortSpec,
    ResourceLimitsSpec,
    ResourceReservationsSpec,
    ResourcesSpec,
    RestartPolicySpec,
    RouteSpec,
    ServiceNetworkSpec,
    ServiceSpec,
    ServiceVolumeSpec,
    TmpfsOptions,
    UlimitSpec,
    VolumeOptions,
)
from composer.project.models.volumes import VolumeSpec

__all__ = [
    "BindOptions",
    "DependsOnSpec",
    "DeploySpec",
    "DeviceSpec",
    "EnvFileSpec",
    "HealthcheckSpec",
    "HostSpec",
    "IpamPoolSpec",
    "IpamSpec",
    "LinkEndpoint",
    "LinkSpec",
    "MissingContextError",
    "ModelContext",
    "NetworkSpec",
    "PortSpec",
    "ProjectSpec",
    "ResourceLimitsSpec",
    "ResourceReservationsSpec",
    "ResourcesSpec",
    "RestartPolicySpec",
    "RouteSpec",
    "ServiceNetworkSpec",
    "ServiceSpec",
    "ServiceVolumeSpec",
    "TmpfsOptions",
    "UlimitSpec",
    "VolumeOptions",
    "VolumeSpec",
]
