"""Merging project files (``-f a.yaml -f b.yaml``, documents, ``extends``) with compose-go's rules.

Two passes, as compose-go's ``override`` package does:

1. ``merge_yaml``: mappings merge key by key; a later scalar wins; a later
   null keeps the earlier value; lists are appended.  Some fields have their
   own rule (``_SPECIALS``): ``command``, ``entrypoint``, ``healthcheck.test``
   (and composer's ``routes``) are replaced; ``environment``, ``labels``,
   ``sysctls``, ``annotations``, ``deploy.labels``, ``dns*``, ``tmpfs``,
   ``env_file``, ``label_file`` become lists and are appended (a map becomes
   sorted ``KEY=value`` items); ``extra_hosts`` are appended without repeats,
   in their order; ``depends_on`` and service ``networks`` become maps and
   merge by name; ``logging`` merges only when the driver is the same;
   ``ulimits.NAME`` and ``ipam.config`` (by subnet) are replaced per entry.
2. ``enforce_unicity`` (once, on the merged tree): in the lists that
   identify their items by a key (``_UNIQUE``: environment and labels by
   name, volumes by target, ports by their whole text or mapping, secrets
   and configs by target ...), a later item replaces the earlier one in its
   place.

``!reset`` and ``!override`` (``yamlsafe`` records their paths) apply before
the merge of the file that carries them: the earlier value is removed, so a
reset node is gone and an override node is taken as written.

Values here are plain YAML trees; nothing is validated (the models do that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Path_ = tuple[str | int, ...]
Merger = Callable[[Any, Any, Path_], Any]


# --------------------------------------------------------------------------- conversions


def _text(value: Any) -> str:
    """A scalar as Go's %v prints it into ``KEY=value`` (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_sequence(value: Any) -> list[Any]:
    """``{A: 1, B: null}`` -> ``["A=1", "B"]`` (sorted); a list as is; a string is a list of one."""
    if isinstance(value, dict):
        items: list[str] = []
        for key, item in value.items():
            if item is None:
                items.append(str(key))
            elif isinstance(item, list):
                items.extend(f"{key}={_text(entry)}" for entry in item)
            else:
                items.append(f"{key}={_text(item)}")
        return sorted(items)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [value]
    return []


def to_mapping(value: Any, default: dict[str, Any] | None = None) -> dict[str, Any]:
    """``[a, b]`` -> ``{a: default, b: default}``; a mapping as is."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return {str(item): (dict(default) if default is not None else None) for item in value}
    return {}


# --------------------------------------------------------------------------- the special rules


def _override(_base: Any, extra: Any, _path: Path_) -> Any:
    return extra


def _to_sequence(base: Any, extra: Any, _path: Path_) -> Any:
    return [*to_sequence(base), *to_sequence(extra)]


def _extra_hosts(base: Any, extra: Any, _path: Path_) -> Any:
    first = to_sequence(base)
    return [*first, *(item for item in to_sequence(extra) if item not in first)]


def _depends_on(base: Any, extra: Any, path: Path_) -> Any:
    default = {"condition": "service_started", "required": True}
    return _merge_mappings(to_mapping(base, default), to_mapping(extra, default), path)


def _by_name(base: Any, extra: Any, path: Path_) -> Any:
    return _merge_mappings(to_mapping(base), to_mapping(extra), path)


def _logging(base: Any, extra: Any, path: Path_) -> Any:
    if not (isinstance(base, dict) and isinstance(extra, dict)):
        return extra if extra is not None else base
    if "driver" in base and "driver" in extra and base["driver"] != extra["driver"]:
        return extra  # another driver: its options mean something else
    return _merge_mappings(base, extra, path)


def _replace_mapping(base: Any, extra: Any, _path: Path_) -> Any:
    return extra if extra is not None else base


def _ipam_config(base: Any, extra: Any, path: Path_) -> Any:
    """Pools merge by subnet; new subnets are added after the others."""
    if not (isinstance(base, list) and isinstance(extra, list)):
        return extra if extra is not None else base
    merged = [dict(pool) if isinstance(pool, dict) else pool for pool in base]
    for pool in extra:
        subnet = pool.get("subnet") if isinstance(pool, dict) else None
        same = next(
            (i for i, old in enumerate(merged) if isinstance(old, dict) and old.get("subnet") == subnet),
            None,
        )
        if same is None or not isinstance(pool, dict):
            merged.append(pool)
        else:
            merged[same] = _merge_mappings(merged[same], pool, path)
    return merged


_SPECIALS: dict[Path_, Merger] = {
    ("networks", "*", "ipam", "config"): _ipam_config,
    ("networks", "*", "labels"): _to_sequence,
    ("volumes", "*", "labels"): _to_sequence,
    ("services", "*", "annotations"): _to_sequence,
    ("services", "*", "command"): _override,
    ("services", "*", "entrypoint"): _override,
    ("services", "*", "healthcheck", "test"): _override,
    ("services", "*", "routes"): _override,  # composer's own: a route table is one value
    ("services", "*", "depends_on"): _depends_on,
    ("services", "*", "deploy", "labels"): _to_sequence,
    ("services", "*", "dns"): _to_sequence,
    ("services", "*", "dns_opt"): _to_sequence,
    ("services", "*", "dns_search"): _to_sequence,
    ("services", "*", "env_file"): _to_sequence,
    ("services", "*", "label_file"): _to_sequence,
    ("services", "*", "environment"): _to_sequence,
    ("services", "*", "extra_hosts"): _extra_hosts,
    ("services", "*", "labels"): _to_sequence,
    ("services", "*", "volumes", "*", "volume", "labels"): _to_sequence,
    ("services", "*", "logging"): _logging,
    ("services", "*", "models"): _by_name,
    ("services", "*", "networks"): _by_name,
    ("services", "*", "sysctls"): _to_sequence,
    ("services", "*", "tmpfs"): _to_sequence,
    ("services", "*", "ulimits", "*"): _replace_mapping,
}


def _matches(path: Path_, pattern: Path_) -> bool:
    return len(path) == len(pattern) and all(
        p == "*" or p == part for part, p in zip(path, pattern, strict=True)
    )


def _special(path: Path_, table: Iterable[Path_]) -> Path_ | None:
    return next((pattern for pattern in table if _matches(path, pattern)), None)


# --------------------------------------------------------------------------- the merge


def _merge_mappings(base: dict[str, Any], extra: dict[str, Any], path: Path_) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        result[key] = merge_yaml(result[key], value, (*path, key)) if key in result else value
    return result


def merge_yaml(base: Any, extra: Any, path: Path_ = ()) -> Any:
    """``extra`` merged over ``base`` at ``path`` (compose-go's ``mergeYaml``)."""
    pattern = _special(path, _SPECIALS)
    if pattern is not None:
        return _SPECIALS[pattern](base, extra, path)
    if extra is None:
        return base
    if isinstance(base, dict) and isinstance(extra, dict):
        return _merge_mappings(base, extra, path)
    if isinstance(base, list) and isinstance(extra, list):
        return [*base, *extra]
    return extra


def remove_path(data: Any, path: Path_) -> Any:
    """A copy of ``data`` without the node at ``path`` (what ``!reset``/``!override`` do to the base)."""
    if not path:
        return {}
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and head in data:
        copy = dict(data)
        if rest:
            copy[head] = remove_path(copy[head], rest)
        else:
            del copy[head]
        return copy
    if isinstance(data, list) and isinstance(head, int) and 0 <= head < len(data):
        copy_list = list(data)
        if rest:
            copy_list[head] = remove_path(copy_list[head], rest)
        else:
            del copy_list[head]
        return copy_list
    return data


def merge_projects(
    base: dict[str, Any],
    extra: dict[str, Any],
    resets: Iterable[Path_] = (),
    overrides: Iterable[Path_] = (),
) -> dict[str, Any]:
    """Merge one more file (or document) over ``base``, its tagged paths first cleared in ``base``."""
    for path in sorted({*resets, *overrides}, key=lambda p: [str(part) for part in p], reverse=True):
        base = remove_path(base, path)
    merged = merge_yaml(base, extra)
    return merged if isinstance(merged, dict) else {}


def merge_service(base: dict[str, Any], extra: dict[str, Any], name: str = "*") -> dict[str, Any]:
    """One service over another with the same rules (``extends``)."""
    merged = merge_yaml(base, extra, ("services", name))
    return merged if isinstance(merged, dict) else {}


# --------------------------------------------------------------------------- unicity


def _key_value(item: Any) -> str | None:
    return item.partition("=")[0] if isinstance(item, str) else None


def _whole(item: Any) -> str | None:
    return str(item) if isinstance(item, str | int) and not isinstance(item, bool) else None


def _volume_target(item: Any) -> str | None:
    if isinstance(item, dict):
        target = item.get("target")
        return target if isinstance(target, str) else None
    if isinstance(item, str):
        parts = item.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return None


def _device_target(item: Any) -> str | None:
    if isinstance(item, dict):
        target = item.get("target") or item.get("source")
        return target if isinstance(target, str) else None
    if isinstance(item, str):
        parts = item.split(":")
        return parts[1] if len(parts) > 1 and parts[1].startswith("/") else parts[0]
    return None


def _port(item: Any) -> str | None:
    if isinstance(item, dict):
        return (
            f"{item.get('host_ip', '0.0.0.0')}:{item.get('published')}:{item.get('target')}"
            f"/{item.get('protocol', 'tcp')}"
        )
    return _whole(item)


def _env_file(item: Any) -> str | None:
    if isinstance(item, dict):
        path = item.get("path")
        return path if isinstance(path, str) else None
    return _whole(item)


def _mount(default_folder: str) -> Callable[[Any], str | None]:
    def key(item: Any) -> str | None:
        if isinstance(item, str):
            return f"{default_folder}/{item}"
        if isinstance(item, dict):
            target = item.get("target")
            return str(target) if target is not None else f"{default_folder}/{item.get('source')}"
        return None

    return key


_UNIQUE: dict[Path_, Callable[[Any], str | None]] = {
    ("networks", "*", "labels"): _key_value,
    ("networks", "*", "ipam", "options"): _key_value,
    ("volumes", "*", "labels"): _key_value,
    ("services", "*", "annotations"): _key_value,
    ("services", "*", "cap_add"): _key_value,
    ("services", "*", "cap_drop"): _key_value,
    ("services", "*", "configs"): _mount(""),
    ("services", "*", "deploy", "labels"): _key_value,
    ("services", "*", "devices"): _device_target,
    ("services", "*", "dns"): _key_value,
    ("services", "*", "dns_opt"): _key_value,
    ("services", "*", "dns_search"): _key_value,
    ("services", "*", "environment"): _key_value,
    ("services", "*", "env_file"): _env_file,
    ("services", "*", "label_file"): _env_file,
    ("services", "*", "expose"): _whole,
    ("services", "*", "labels"): _key_value,
    ("services", "*", "links"): _key_value,
    ("services", "*", "networks", "*", "aliases"): _key_value,
    ("services", "*", "ports"): _port,
    ("services", "*", "profiles"): _key_value,
    ("services", "*", "secrets"): _mount("/run/secrets"),
    ("services", "*", "sysctls"): _key_value,
    ("services", "*", "tmpfs"): _key_value,
    ("services", "*", "volumes"): _volume_target,
}


def _unique_items(items: list[Any], key_of: Callable[[Any], str | None]) -> list[Any]:
    result: list[Any] = []
    where: dict[str, int] = {}
    for item in items:
        key = key_of(item)
        if key is not None and key in where:
            result[where[key]] = item  # the later definition, in the earlier one's place
            continue
        if key is not None:
            where[key] = len(result)
        result.append(item)
    return result


def enforce_unicity(data: Any, path: Path_ = ()) -> Any:
    """A copy of ``data`` where the keyed lists hold each key once (compose-go's ``EnforceUnicity``)."""
    if isinstance(data, dict):
        return {key: enforce_unicity(value, (*path, key)) for key, value in data.items()}
    if isinstance(data, list):
        pattern = _special(path, _UNIQUE)
        items = [enforce_unicity(item, (*path, index)) for index, item in enumerate(data)]
        return _unique_items(items, _UNIQUE[pattern]) if pattern is not None else items
    return data
