"""Merging several project files (``-f a.yaml -f b.yaml``) with compose's rules.

Mappings merge key by key, the later file winning on scalars.  Lists follow
the field: some are replaced (``command``, ``entrypoint``, ``healthcheck.test``),
some appended without duplicates (``ports``, ``dns``, ``cap_add``, ...), some
merged by a key (``volumes`` by target).  Fields with a list *or* map form
(``environment``, ``labels``, ``depends_on``, service ``networks`` ...) are
turned into maps first, so that ``[A=1]`` in one file and ``{A: 2}`` in the
next merge as compose does.
"""

from __future__ import annotations

from typing import Any

_APPEND = frozenset(
    {
        "ports",
        "expose",
        "dns",
        "dns_search",
        "cap_add",
        "cap_drop",
        "security_opt",
        "tmpfs",
        "env_file",
        "profiles",
    }
)
_AS_MAP_WITH_VALUES = frozenset({"environment", "labels", "sysctls", "annotations"})
_AS_MAP_OF_NAMES = frozenset({"depends_on", "networks"})
_REPLACE = frozenset({"command", "entrypoint", "routes"})


def _list_to_map(value: Any, with_values: bool) -> Any:
    if not isinstance(value, list):
        return value
    if with_values:
        result: dict[str, Any] = {}
        for item in value:
            name, sep, text = str(item).partition("=")
            result[name] = text if sep else None
        return result
    return {str(item): None for item in value}


def _append_unique(base: list[Any], extra: list[Any]) -> list[Any]:
    result = list(base)
    for item in extra:
        if item not in result:
            result.append(item)
    return result


def _volume_target(entry: Any) -> Any:
    if isinstance(entry, dict):
        return entry.get("target")
    parts = str(entry).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _merge_volumes(base: list[Any], extra: list[Any]) -> list[Any]:
    by_target = {_volume_target(entry): entry for entry in base}
    for entry in extra:
        by_target[_volume_target(entry)] = entry
    return list(by_target.values())


def merge_service(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        old = result.get(key)
        if key not in result or old is None or value is None or key in _REPLACE:
            result[key] = value
        elif key in _AS_MAP_WITH_VALUES | _AS_MAP_OF_NAMES:
            with_values = key in _AS_MAP_WITH_VALUES
            result[key] = merge_mappings(_list_to_map(old, with_values), _list_to_map(value, with_values))
        elif key in _APPEND and isinstance(old, list) and isinstance(value, list):
            result[key] = _append_unique(old, value)
        elif key == "volumes" and isinstance(old, list) and isinstance(value, list):
            result[key] = _merge_volumes(old, value)
        elif key == "healthcheck" and isinstance(old, dict) and isinstance(value, dict):
            result[key] = {**old, **value}  # test is replaced whole, the rest key by key
        else:
            result[key] = merge_mappings(old, value)
    return result


def merge_mappings(base: Any, extra: Any) -> Any:
    """Deep merge of two YAML values: maps key by key, anything else replaced by ``extra``."""
    if not (isinstance(base, dict) and isinstance(extra, dict)):
        return extra
    result = dict(base)
    for key, value in extra.items():
        result[key] = merge_mappings(result[key], value) if key in result else value
    return result


def merge_projects(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge two whole files: services with the service rules, links appended, the rest deep-merged."""
    result = dict(base)
    for key, value in extra.items():
        old = result.get(key)
        if key == "services" and isinstance(old, dict) and isinstance(value, dict):
            services = dict(old)
            for name, service in value.items():
                current = services.get(name)
                both = isinstance(current, dict) and isinstance(service, dict)
                services[name] = merge_service(current, service) if both else service  # type: ignore[arg-type]
            result[key] = services
        elif key == "links" and isinstance(old, list) and isinstance(value, list):
            result[key] = [*old, *value]
        else:
            result[key] = merge_mappings(old, value) if key in result else value
    return result
