"""Relative paths of a raw service or project made absolute against another folder.

A service taken from another file (``extends: {file: ...}``) or a project
included from another folder (``include:``) means its relative paths from
that file's folder, not from the main project directory the models resolve
against.  These functions rewrite them on the raw YAML tree, purely (string
joins and ``normpath``, no disk): bind sources (short and long syntax),
``env_file``, ``label_file``, ``rootfs``, ``build`` contexts,
``develop.watch`` paths, and the ``file`` of top-level secrets and configs.
``~`` paths and absolute ones are left alone.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePath
from typing import Any


def _relative(text: Any) -> bool:
    return isinstance(text, str) and bool(text) and not text.startswith(("/", "~"))


def _join(folder: PurePath, text: str) -> str:
    return posixpath.normpath(posixpath.join(str(folder), text))


def _volume(entry: Any, folder: PurePath) -> Any:
    if isinstance(entry, str):
        source, sep, rest = entry.partition(":")
        if sep and source.startswith("."):
            return f"{_join(folder, source)}:{rest}"
        return entry
    if isinstance(entry, dict) and entry.get("type") == "bind" and _relative(entry.get("source")):
        return {**entry, "source": _join(folder, entry["source"])}
    return entry


def _file_entry(entry: Any, folder: PurePath) -> Any:
    if _relative(entry):
        return _join(folder, entry)
    if isinstance(entry, dict) and _relative(entry.get("path")):
        return {**entry, "path": _join(folder, entry["path"])}
    return entry


def _file_list(value: Any, folder: PurePath) -> Any:
    if isinstance(value, list):
        return [_file_entry(entry, folder) for entry in value]
    return _file_entry(value, folder)


def _build(value: Any, folder: PurePath) -> Any:
    if _relative(value) and "://" not in value:
        return _join(folder, value)
    if isinstance(value, dict) and _relative(value.get("context")) and "://" not in value["context"]:
        return {**value, "context": _join(folder, value["context"])}
    return value


def _develop(value: Any, folder: PurePath) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("watch"), list):
        return value
    watch = [
        {**rule, "path": _join(folder, rule["path"])}
        if isinstance(rule, dict) and _relative(rule.get("path"))
        else rule
        for rule in value["watch"]
    ]
    return {**value, "watch": watch}


def rebase_service(service: Any, folder: PurePath) -> Any:
    """``service`` with its relative paths made absolute below ``folder``."""
    if not isinstance(service, dict):
        return service
    result = dict(service)
    if isinstance(result.get("volumes"), list):
        result["volumes"] = [_volume(entry, folder) for entry in result["volumes"]]
    for key in ("env_file", "label_file"):
        if key in result:
            result[key] = _file_list(result[key], folder)
    if _relative(result.get("rootfs")):
        result["rootfs"] = _join(folder, result["rootfs"])
    if "build" in result:
        result["build"] = _build(result["build"], folder)
    if "develop" in result:
        result["develop"] = _develop(result["develop"], folder)
    extends = result.get("extends")
    if isinstance(extends, dict) and _relative(extends.get("file")):
        result["extends"] = {**extends, "file": _join(folder, extends["file"])}
    return result


def rebase_project(data: dict[str, Any], folder: PurePath) -> dict[str, Any]:
    """A whole project's relative paths made absolute below ``folder`` (an included project)."""
    result = dict(data)
    services = result.get("services")
    if isinstance(services, dict):
        result["services"] = {name: rebase_service(s, folder) for name, s in services.items()}
    for kind in ("secrets", "configs"):
        entries = result.get(kind)
        if isinstance(entries, dict):
            result[kind] = {
                name: {**entry, "file": _join(folder, entry["file"])}
                if isinstance(entry, dict) and _relative(entry.get("file"))
                else entry
                for name, entry in entries.items()
            }
    volumes = result.get("volumes")
    if isinstance(volumes, dict):
        result["volumes"] = {name: _volume_device(v, folder) for name, v in volumes.items()}
    return result


def _volume_device(volume: Any, folder: PurePath) -> Any:
    opts = volume.get("driver_opts") if isinstance(volume, dict) else None
    if isinstance(opts, dict) and isinstance(opts.get("device"), str) and opts["device"].startswith("."):
        return {**volume, "driver_opts": {**opts, "device": _join(folder, opts["device"])}}
    return volume
