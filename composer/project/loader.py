"""Loading a project: discovery, environment, interpolation, merge, profiles, validation.

``load_project`` follows Docker Compose's order of operations:

1. find the files (``-f``, else ``$COMPOSE_FILE``, else ``compose.yaml`` & co.
   in the working directory or a parent, plus its ``*.override.*`` file) and
   the project directory: ``discovery``, the rule ``up``'s fast path shares;
2. read the interpolation environment: ``--env-file`` files, else the
   project directory's ``.env`` (``dotenv``, also shared); the process
   environment wins over both;
3. per file: bounded YAML (``yamlsafe``), then interpolation;
4. merge the files in order (``merge``), then choose the project name
   (``-p``, ``$COMPOSE_PROJECT_NAME``, ``name:``, the folder), read each
   service's ``env_file`` into its ``environment``, drop services whose
   profiles are not enabled;
5. validate with the pydantic models, then the cross-checks of ``checks``.
   The models read neither the disk nor the environment: what they need (the
   project directory, the home directory for ``~``) is passed in a
   ``ModelContext``.

Every problem of a stage is collected before raising one SpecError; a stage
runs only when the previous one succeeded (a broken file cannot be merged).
Each issue carries the file, line and column of its path: ``locate`` maps a
dotted path to the last file that wrote it, falling back to the nearest
ancestor that exists.
"""

from __future__ import annotations

import difflib
import errno
import os
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from composer.errors import SpecError, SpecIssue
from composer.model.naming import normalize_project_name
from composer.project import discovery
from composer.project.dotenv import InterpolationFiles, interpolation_files, parse_env_file
from composer.project.interpolate import InterpolationError, Interpolator, interpolate_tree
from composer.project.merge import merge_projects
from composer.project.models import ModelContext, ProjectSpec
from composer.project.yamlsafe import YamlDocument, load_yaml

# Compose keys composer knows about but does not do; a clearer hint than "unknown key".
UNSUPPORTED = {
    "build": "composer does not build images: build it elsewhere and use `image:` (or `rootfs:`)",
    "secrets": "secrets are not supported yet: use a read-only bind mount in `volumes:`",
    "configs": "configs are not supported yet: use a read-only bind mount in `volumes:`",
    "logging": "composer keeps logs itself; logging drivers are not supported",
    "volumes_from": "volumes_from is not supported: declare the volumes on each service",
    "external_links": "external_links is not supported",
    "platform": "composer runs images for the host's platform only",
    "develop": "`develop` (watch) is not supported",
}

Locator = Callable[[str], tuple[str, int, int]]


@dataclass(frozen=True)
class LoadedProject:
    """A validated project and where it came from."""

    name: str
    spec: ProjectSpec
    files: tuple[Path, ...]
    project_directory: Path
    environment: Mapping[str, str]
    marks: Mapping[str, tuple[str, int, int]] = field(default_factory=dict, repr=False, compare=False)
    warnings: tuple[str, ...] = ()

    def locate(self, path: str) -> tuple[str, int, int]:
        """(file, line, column) of a dotted path, or of its nearest ancestor found."""
        return _locate(self.marks, self.files, path)


def _locate(
    marks: Mapping[str, tuple[str, int, int]], files: tuple[Path, ...], path: str
) -> tuple[str, int, int]:
    current = path
    while current:
        place = marks.get(current)
        if place is not None:
            return place
        current = current.rpartition(".")[0]
    return (display_path(files[0]) if files else "", 0, 0)


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


# --------------------------------------------------------------------------- discovery


def _resolve_files(files: list[Path], project_directory: Path | None) -> list[Path]:
    found = discovery.project_files(files, project_directory)
    if not found:
        names = ", ".join(discovery.DEFAULT_FILES)
        issue = SpecIssue(
            str((project_directory or Path.cwd()).absolute()),
            0,
            0,
            "",
            f"no project file found here or in a parent folder (looked for {names})",
            "pass one with -f FILE",
        )
        raise SpecError([issue])
    return found


def _read_text(path: Path, where: str, issue_path: str = "") -> tuple[str | None, SpecIssue | None]:
    try:
        return path.read_text(encoding="utf-8"), None
    except OSError as error:
        reason = {
            errno.ENOENT: "does not exist",
            errno.EACCES: "cannot be read (permission denied)",
            errno.EISDIR: "is a folder, not a file",
        }.get(error.errno or 0, f"cannot be read ({os.strerror(error.errno or 0)})")
        return None, SpecIssue(where, 0, 0, issue_path, f"{path} {reason}")
    except UnicodeDecodeError as error:
        return None, SpecIssue(where, 0, 0, issue_path, f"{path} is not UTF-8 text ({error.reason})")


# --------------------------------------------------------------------------- environment


def _interpolation_environment(choice: InterpolationFiles) -> tuple[dict[str, str], list[SpecIssue]]:
    issues: list[SpecIssue] = []
    values: dict[str, str] = {}
    for path in choice.paths:
        if not choice.explicit and not discovery.is_file(path):
            continue
        text, issue = _read_text(path, display_path(path))
        if issue is not None:
            issues.append(issue)
            continue
        try:
            values.update(parse_env_file(text or "", {**values, **os.environ}))
        except InterpolationError as error:
            issues.append(SpecIssue(display_path(path), 0, 0, "", str(error)))
    return {**values, **os.environ}, issues


# --------------------------------------------------------------------------- reading files


@dataclass
class _Loaded:
    path: Path
    document: YamlDocument
    data: dict[str, Any]


def _read_project_file(path: Path, interpolator: Interpolator) -> tuple[_Loaded | None, list[SpecIssue]]:
    where = display_path(path)
    text, issue = _read_text(path, where)
    if issue is not None:
        return None, [issue]
    try:
        document = load_yaml(text or "", where)
    except SpecError as error:  # keep reading the other files: every problem at once
        return None, list(error.issues)
    if document.data is None:
        return None, [SpecIssue(where, 1, 1, "", "the file is empty", "a project needs at least `services:`")]
    if not isinstance(document.data, dict):
        return None, [SpecIssue(where, 1, 1, "", "the file must be a mapping (services:, networks:, ...)")]
    data, errors = interpolate_tree(document.data, interpolator)
    issues = []
    for error_path, message in errors:
        line, column = document.marks.get(error_path, (0, 0))
        issues.append(
            SpecIssue(where, line, column, dotted(error_path), message, "set the variable or give a default")
        )
    return _Loaded(path, document, data), issues


def _all_marks(loaded: list[_Loaded]) -> dict[str, tuple[str, int, int]]:
    marks: dict[str, tuple[str, int, int]] = {}
    for item in loaded:  # later files win: they wrote the value that stays
        where = display_path(item.path)
        for key, (line, column) in item.document.marks.items():
            marks[dotted(key)] = (where, line, column)
            # A name in a list (depends_on: [db]) is also known as a key once normalised (depends_on.db).
            if key and isinstance(key[-1], int):
                value = _value_at(item.document.data, key)
                if isinstance(value, str):
                    marks.setdefault(f"{dotted(key[:-1])}.{value}", (where, line, column))
    return marks


def _value_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


# --------------------------------------------------------------------------- project-level steps


def _project_name(explicit: str | None, data: dict[str, Any], project_directory: Path) -> str:
    for raw in (explicit, os.environ.get("COMPOSE_PROJECT_NAME"), data.get("name")):
        if raw:
            return normalize_project_name(str(raw))
    return normalize_project_name(project_directory.name)


def _merge_env_files(
    data: dict[str, Any], project_directory: Path, interpolator: Interpolator, locate: Locator
) -> list[SpecIssue]:
    """Read each service's env_file into its environment (file values first, ``environment`` wins)."""
    issues: list[SpecIssue] = []
    services = data.get("services")
    if not isinstance(services, dict):
        return issues
    for name, service in services.items():
        if not isinstance(service, dict) or "env_file" not in service:
            continue
        raw = service.pop("env_file")
        entries = raw if isinstance(raw, list) else [raw]
        merged: dict[str, Any] = {}
        for index, entry in enumerate(entries):
            spec = entry if isinstance(entry, dict) else {"path": entry}
            file_path = project_directory / str(spec.get("path", ""))
            issue_path = f"services.{name}.env_file" + (f".{index}" if isinstance(raw, list) else "")
            if not file_path.is_file() and spec.get("required", True) is False:
                continue
            where, line, column = locate(issue_path)
            text, issue = _read_text(file_path, where, issue_path)
            if issue is not None:
                issues.append(
                    SpecIssue(
                        where, line, column, issue_path, issue.message, "fix the path or set required: false"
                    )
                )
                continue
            try:
                merged.update(parse_env_file(text or "", interpolator.environment))
            except InterpolationError as error:
                issues.append(SpecIssue(where, line, column, issue_path, f"{file_path}: {error}"))
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = {k: (v if s else None) for k, s, v in (str(e).partition("=") for e in environment)}
        service["environment"] = {**merged, **environment} if isinstance(environment, dict) else environment
    return issues


def _apply_profiles(data: dict[str, Any], profiles: list[str], locate: Locator) -> list[SpecIssue]:
    """Drop services whose profiles are not enabled, and links that touch them (compose's rule)."""
    services = data.get("services")
    if not isinstance(services, dict):
        return []
    enabled = set(profiles)
    dropped: dict[str, list[str]] = {}
    for name, service in list(services.items()):
        wanted = service.get("profiles") if isinstance(service, dict) else None
        if (
            isinstance(wanted, list)
            and wanted
            and "*" not in enabled
            and not enabled.intersection(map(str, wanted))
        ):
            dropped[name] = [str(p) for p in wanted]
            del services[name]
    if not dropped:
        return []
    issues = []
    for name, service in services.items():
        depends = service.get("depends_on") if isinstance(service, dict) else None
        for dependency in list(depends or []):
            if dependency not in dropped:
                continue
            options = depends.get(dependency) if isinstance(depends, dict) else None
            if isinstance(options, dict) and options.get("required") is False:
                del depends[dependency]  # type: ignore[union-attr]
                continue
            issue_path = f"services.{name}.depends_on.{dependency}"
            where, line, column = locate(issue_path)
            profile = dropped[dependency][0]
            issues.append(
                SpecIssue(
                    where,
                    line,
                    column,
                    issue_path,
                    f"`{name}` depends on `{dependency}`, whose profiles are not enabled",
                    f"enable it with --profile {profile}, or set required: false",
                )
            )
    links = data.get("links")
    if isinstance(links, list):
        data["links"] = [link for link in links if not _link_touches(link, dropped)]
    return issues


def _link_touches(link: Any, services: Mapping[str, Any]) -> bool:
    ends = (
        link.split("--")
        if isinstance(link, str)
        else (link.get("endpoints") if isinstance(link, dict) else None)
    )
    for end in ends or []:
        service = end.get("service") if isinstance(end, dict) else str(end).strip().partition(":")[0]
        if service in services:
            return True
    return False


# --------------------------------------------------------------------------- validation errors


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Annotated/Optional/Union."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _step(candidates: list[Any], part: str | int) -> tuple[list[Any], bool]:
    """Follow one loc element through the candidate types; returns (next types, consumed)."""
    result: list[Any] = []
    consumed = False
    for candidate in candidates:
        origin = typing.get_origin(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(part, str):
            info = candidate.model_fields.get(part)
            if info is not None:
                result.extend(_unwrap(info.annotation))
                consumed = True
        elif origin is dict:
            result.extend(_unwrap(typing.get_args(candidate)[1]))
            consumed = True
        elif origin in (list, tuple) and isinstance(part, int):
            args = typing.get_args(candidate)
            result.extend(_unwrap(args[min(part, len(args) - 1)] if origin is tuple else args[0]))
            consumed = True
    return result, consumed


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    candidates: list[Any] = [ProjectSpec]
    for part in parent:
        following, consumed = _step(candidates, part)
        if consumed:
            candidates = following
    keys: list[str] = []
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            keys.extend(candidate.model_fields)
    return keys


def _clean_loc(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """Keep the loc elements that are real keys/indexes of the input (drop pydantic's union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            path.append(part)
    return tuple(path)


_EXPECTED = {
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def _message(error: Any) -> str:
    """pydantic's message in the words of a project file (no Python class names)."""
    kind = error["type"]
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) else f", got {given!r}"
    if kind in _EXPECTED:
        return _EXPECTED[kind] + shown
    if kind == "literal_error":
        return f"expected {error.get('ctx', {}).get('expected', 'one of the allowed values')}{shown}"
    return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _issue_for(error: Any, data: Any, locate: Locator) -> SpecIssue:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _clean_loc(loc[:-1], data)
        key = str(loc[-1])
        path = dotted((*parent, key))
        where, line, column = locate(path)
        if key in UNSUPPORTED and parent[:1] == ("services",):
            return SpecIssue(where, line, column, path, f"`{key}` is not supported", UNSUPPORTED[key])
        close = difflib.get_close_matches(key, _allowed_keys(parent), n=1)
        hint = (
            f"did you mean `{close[0]}`?"
            if close
            else "remove it, or prefix it with x- to keep it as an extension"
        )
        return SpecIssue(where, line, column, path, f"unknown key `{key}`", hint)
    path = dotted(_clean_loc(loc, data))
    where, line, column = locate(path)
    message = _message(error)
    if kind == "missing":
        message = f"`{loc[-1]}` is required"
        path = dotted((*_clean_loc(loc[:-1], data), str(loc[-1])))
    return SpecIssue(where, line, column, path, message)


def validation_issues(error: ValidationError, data: Any, locate: Locator) -> list[SpecIssue]:
    """One SpecIssue per pydantic error, deduplicated (unions report once per member)."""
    seen: dict[str, SpecIssue] = {}
    for item in error.errors():
        issue = _issue_for(item, data, locate)
        seen.setdefault(
            issue.path + "\0" + (issue.message if item["type"] == "extra_forbidden" else ""), issue
        )
    return list(seen.values())


# --------------------------------------------------------------------------- entry point


def load_project(
    files: Sequence[Path],
    project_directory: Path | None = None,
    env_files: Sequence[Path] = (),
    project_name: str | None = None,
    profiles: Sequence[str] = (),
) -> LoadedProject:
    """Load, merge, interpolate and validate a project; raise SpecError with every problem.

    Only ``files`` is needed; the rest default as the CLI's do without flags (the
    project directory is the first file's folder, ``.env`` there, no profile).
    """
    files, env_files, profiles = list(files), list(env_files), list(profiles)
    paths = _resolve_files(files, project_directory)
    directory = discovery.project_directory(project_directory, paths)
    environment, issues = _interpolation_environment(interpolation_files(env_files, directory))
    interpolator = Interpolator(environment)
    loaded: list[_Loaded] = []
    for path in paths:
        item, file_issues = _read_project_file(path, interpolator)
        issues.extend(file_issues)
        if item is not None:
            loaded.append(item)
    if issues:
        raise SpecError(issues)

    marks = _all_marks(loaded)
    locate: Locator = lambda path: _locate(marks, tuple(paths), path)  # noqa: E731
    data: dict[str, Any] = {}
    for item in loaded:
        data = merge_projects(data, item.data)
    name = _project_name(project_name, data, directory)
    if not name:
        raise SpecError(
            [
                SpecIssue(
                    *locate("name"),
                    "name",
                    "the project name is empty after normalisation",
                    "use letters, digits, - and _ (or pass -p NAME)",
                )
            ]
        )
    data["name"] = name
    issues = _merge_env_files(data, directory, interpolator, locate) + _apply_profiles(data, profiles, locate)
    if issues:
        raise SpecError(issues)
    return _validate(data, paths, directory, environment, marks, interpolator, locate)


def _validate(
    data: dict[str, Any],
    paths: list[Path],
    directory: Path,
    environment: dict[str, str],
    marks: dict[str, tuple[str, int, int]],
    interpolator: Interpolator,
    locate: Locator,
) -> LoadedProject:
    from composer.project.checks import check

    try:
        spec = ProjectSpec.model_validate(data, context=_model_context(directory))
    except ValidationError as error:
        raise SpecError(validation_issues(error, data, locate)) from None
    issues = check(spec, locate)
    if issues:
        raise SpecError(issues)
    warnings = tuple(
        f"the {name} variable is not set: defaulting to a blank string"
        for name in sorted(interpolator.missing)
    )
    return LoadedProject(spec.name, spec, tuple(paths), directory, environment, marks, warnings)


def _model_context(directory: Path) -> ModelContext:
    home = os.path.expanduser("~")  # $HOME, else the password database; "~" when neither knows
    return ModelContext(directory, Path(home) if home != "~" else None)
