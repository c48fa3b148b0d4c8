"""Top-level ``networks:``: Linux bridges, with their address pools.

Rules kept here: only the ``bridge`` driver is made (``external: true``
networks are used as they are, whatever their driver); the MTU is read from
``driver_opts`` (``mtu``, or Docker's ``com.docker.network.driver.mtu``) and
checked to be 68-65535.  Address planning itself (pools, gateways, static
addresses) is ``composer.model.ipam``'s.  How a service joins a network is
``services.ServiceNetworkSpec``.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from composer.project.models.base import StrMap, _Model
from composer.project.models.volumes import external_form


class IpamPoolSpec(_Model):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: dict[str, str] = {}


class IpamSpec(_Model):
    driver: str | None = None
    config: list[IpamPoolSpec] = []
    options: StrMap = {}


_MTU_OPTIONS = ("mtu", "com.docker.network.driver.mtu")


class NetworkSpec(_Model):
    """A bridge network; ``mtu`` is read from ``driver_opts`` (``mtu`` or Docker's long option)."""

    driver: str = "bridge"
    internal: bool = False
    enable_ipv6: bool | None = None
    enable_ipv4: bool | None = None
    attachable: bool | None = None
    ipam: IpamSpec = IpamSpec()
    driver_opts: StrMap = {}
    external: bool = False
    name: str | None = None
    labels: StrMap = {}

    @model_validator(mode="before")
    @classmethod
    def _external(cls, data: Any) -> Any:
        return external_form(data, "network")

    @model_validator(mode="after")
    def _bridge_only(self) -> NetworkSpec:
        if self.driver != "bridge" and not self.external:
            raise ValueError(
                f"network driver {self.driver!r} is not supported: composer makes Linux bridges "
                "(use driver: bridge, or links: for point-to-point wires)"
            )
        for option in _MTU_OPTIONS:
            value = self.driver_opts.get(option)
            if value is not None and not (value.isdigit() and 68 <= int(value) <= 65535):
                raise ValueError(f"driver_opts {option} must be an MTU between 68 and 65535, got {value!r}")
        return self

    @property
    def mtu(self) -> int | None:
        for option in _MTU_OPTIONS:
            if option in self.driver_opts:
                return int(self.driver_opts[option])
        return None
