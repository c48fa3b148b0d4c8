"""The project as ``docker compose config`` prints it: compose's normalised form.

From the validated ``ProjectSpec``: fields left at their default are left
out, paths are absolute, short syntaxes are long ones, and compose's implied
values are written down:

* ports: ``{mode: ingress, host_ip, target, published, protocol}`` with
  ``published`` a string (it may be a range);
* volumes: ``{type, source, target, read_only}`` plus ``bind:
  {create_host_path: true}`` for a bind and ``volume: {}`` for a volume,
  as compose-go fills them in;
* ``depends_on``: ``{condition, required}`` (and ``restart`` when set);
* a service's networks map names to ``null`` when nothing is set on them
  (a service that names none is on ``default``); their order is kept,
  since it is the order of the interfaces;
* an ``environment`` entry without a value takes the interpolation
  environment's value when it has one (compose resolves it the same way);
* networks, volumes, secrets and configs get their ``name``
  (``PROJECT_KEY`` unless external or named);
* durations are Go's (``1m30s``), ``extra_hosts`` are ``HOST=ADDRESS``.

Keys are sorted (``name`` first, then the top-level sections in compose's
order), so the output is stable from run to run.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from composer.project.models import ProjectSpec, ServiceSpec

_DURATIONS = ("interval", "timeout", "start_period", "start_interval")
_SECTIONS = ("services", "networks", "volumes", "secrets", "configs", "models", "links")
_KEEP_ORDER = ("networks",)  # a service's networks: the order of its interfaces
_STRUCT_ORDER = ("ports", "volumes")  # items printed in compose-go's field order, as compose does


def go_duration(seconds: float) -> str:
    """``90.0`` -> ``1m30s``, ``0.5`` -> ``500ms``, as Go's time.Duration prints."""
    if seconds == 0:
        return "0s"
    nanoseconds = round(seconds * 1e9)
    sign, nanoseconds = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if nanoseconds < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanoseconds >= size:
                return f"{sign}{_trim(nanoseconds / size)}{unit}"
    hours, rest = divmod(nanoseconds, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = f"{_trim(rest / 1e9)}s"
    if hours:
        text = f"{hours}h{minutes}m{text}"
    elif minutes:
        text = f"{minutes}m{text}"
    return sign + text


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def _port(port: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"mode": port.mode}
    if port.host_ip:
        data["host_ip"] = port.host_ip
    data["target"] = port.target
    if port.published:
        data["published"] = port.published
    data["protocol"] = port.protocol
    for key in ("name", "app_protocol"):
        if getattr(port, key):
            data[key] = getattr(port, key)
    return data


def _volume(volume: Any) -> dict[str, Any]:
    data: dict[str, Any] = volume.model_dump(mode="json", exclude_defaults=True)
    data["type"] = volume.type
    if volume.type == "bind":  # compose writes it down, true for the short syntax
        create = volume.bind.create_host_path if volume.bind is not None else True
        data["bind"] = {"create_host_path": create, **data.get("bind", {})}
    if volume.type == "volume" and volume.volume is None:
        data["volume"] = {}
    return data


def _healthcheck(service: ServiceSpec) -> dict[str, Any] | None:
    check = service.healthcheck
    if check is None:
        return None
    if check.disabled:
        return {"disable": True}
    data: dict[str, Any] = check.model_dump(mode="json", exclude_defaults=True)
    for key in _DURATIONS:
        if key in data:
            data[key] = go_duration(data[key])
    return data


def _build(build: str | dict[str, Any], directory: PurePath | None) -> dict[str, Any]:
    """``build: .`` -> ``{context: /abs, dockerfile: Dockerfile}`` (compose's defaults)."""
    data = {"context": build} if isinstance(build, str) else dict(build)
    context = str(data.get("context", "."))
    if directory is not None and "://" not in context and not context.startswith(("/", "~")):
        data["context"] = posixpath.normpath(posixpath.join(str(directory), context))
    if "dockerfile_inline" not in data:
        data.setdefault("dockerfile", "Dockerfile")
    return data


def _service(
    service: ServiceSpec, environment: Mapping[str, str], directory: PurePath | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = service.model_dump(mode="json", exclude_defaults=True)
    if service.build is not None:
        data["build"] = _build(service.build, directory)
    if service.environment:
        data["environment"] = {
            key: environment.get(key) if value is None else value
            for key, value in service.environment.items()
        }
    data["networks"] = {
        name: (attachment.model_dump(mode="json", exclude_defaults=True) or None)
        for name, attachment in service.networks.items()
    }
    if not data["networks"]:
        del data["networks"]
    if service.depends_on:
        data["depends_on"] = {
            name: {
                "condition": dep.condition,
                "required": dep.required,
                **({"restart": True} if dep.restart else {}),
            }
            for name, dep in service.depends_on.items()
        }
    if service.ports:
        data["ports"] = [_port(port) for port in service.ports]
    if service.volumes:
        data["volumes"] = [_volume(volume) for volume in service.volumes]
    if service.extra_hosts:
        data["extra_hosts"] = [f"{host}={address}" for host, address in service.extra_hosts]
    if "stop_grace_period" in data:
        data["stop_grace_period"] = go_duration(service.stop_grace_period)
    health = _healthcheck(service)
    if health is not None:
        data["healthcheck"] = health
    for kind in ("secrets", "configs"):
        if kind in data:
            data[kind] = [use.model_dump(mode="json", exclude_none=True) for use in getattr(service, kind)]
    return data


def _named(items: Mapping[str, Any], project: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in items.items():
        dumped: dict[str, Any] = item.model_dump(mode="json", exclude_defaults=True)
        dumped.setdefault("name", key if dumped.get("external") else f"{project}_{key}")
        result[key] = dumped
    return result


def _sorted(value: Any, parent: str = "", in_list: bool = False) -> Any:
    if isinstance(value, dict):
        keep = parent in _KEEP_ORDER or (in_list and parent in _STRUCT_ORDER)
        keys = list(value) if keep else sorted(value)
        return {key: _sorted(value[key], key) for key in keys}
    if isinstance(value, list):
        return [_sorted(item, parent, in_list=True) for item in value]
    return value


def normal_form(
    spec: ProjectSpec, environment: Mapping[str, str], project_directory: PurePath | None = None
) -> dict[str, Any]:
    """The project as compose's ``config`` prints it (a JSON-ready dict).

    ``project_directory`` makes ``build`` contexts absolute (the one relative path the models keep).
    """
    sections: dict[str, Any] = {
        "services": {
            name: _sorted(_service(svc, environment, project_directory))
            for name, svc in spec.services.items()
        },
        "networks": _sorted(_named(spec.networks, spec.name)),
        "volumes": _sorted(_named(spec.volumes, spec.name)),
        "secrets": _sorted(_named(spec.secrets, spec.name)),
        "configs": _sorted(_named(spec.configs, spec.name)),
        "models": _sorted(
            {k: m.model_dump(mode="json", exclude_defaults=True) for k, m in spec.models.items()}
        ),
        "links": [link.model_dump(mode="json", exclude_defaults=True) for link in spec.links],
    }
    sections["services"] = dict(sorted(sections["services"].items()))
    return {"name": spec.name, **{key: sections[key] for key in _SECTIONS if sections[key]}}


def raw_form(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A merged but not normalised tree (``--no-normalize``, ``--no-interpolate``), keys sorted."""
    rest = {key: value for key, value in data.items() if key != "name"}
    ordered = [key for key in _SECTIONS if key in rest] + sorted(key for key in rest if key not in _SECTIONS)
    return {"name": name, **{key: _sorted(rest[key], "") for key in ordered}}
