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

import contextlib
import difflib
import errno
import functools
import os
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from composer.errors import SpecError, SpecIssue
from composer.model.naming import normalize_project_name
from composer.project import clab, discovery
from composer.project.dotenv import (
    InterpolationFiles,
    interpolation_files,
    parse_env_file,
    parse_raw_env_file,
)
from composer.project.extends import apply_extends
from composer.project.include import apply_include
from composer.project.interpolate import InterpolationError, Interpolator, interpolate_tree
from composer.project.merge import enforce_unicity, merge_projects
from composer.project.models import ModelContext, ProjectSpec
from composer.project.rebase import rebase_project
from composer.project.yamlsafe import YamlDocument, load_yaml_documents

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
    all_profiles: tuple[str, ...] = ()  # every profile a service of the files names, enabled or not

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
    parts = path.split(".")
    if parts[0] == "links" and len(parts) > 1:  # a containerlab file: its links, in the same order
        place = marks.get(f"topology.links.{parts[1]}")
        if place is not None:
            return place
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


def _resolve_files(
    files: list[Path], project_directory: Path | None, environment: Mapping[str, str]
) -> list[Path]:
    found = discovery.project_files(files, project_directory, environment)
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


def _read_env_files(
    choice: InterpolationFiles, process: Mapping[str, str]
) -> tuple[dict[str, str], list[SpecIssue]]:
    """The ``.env`` values (later files win), each file read with the values before it known."""
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
            values.update(parse_env_file(text or "", {**values, **process}))
        except InterpolationError as error:
            issues.append(SpecIssue(display_path(path), 0, 0, "", str(error)))
    return values, issues


def _interpolation_environment(
    env_files: list[Path], directory: Path, process: Mapping[str, str]
) -> tuple[dict[str, str], list[SpecIssue]]:
    """The process environment over the ``.env`` files compose would read for ``directory``."""
    choice = interpolation_files(env_files, directory, process.get("COMPOSE_ENV_FILES"))
    values, issues = _read_env_files(choice, process)
    return {**values, **process}, issues


# --------------------------------------------------------------------------- reading files


@dataclass
class _Loaded:
    path: Path
    document: YamlDocument
    data: dict[str, Any]


def _parse_file(path: Path) -> tuple[list[YamlDocument], list[SpecIssue]]:
    where = display_path(path)
    text, issue = _read_text(path, where)
    if issue is not None:
        return [], [issue]
    try:
        return load_yaml_documents(text or "", where), []
    except SpecError as error:  # keep reading the other files: every problem at once
        return [], list(error.issues)


def _interpolate(
    document: YamlDocument, where: str, interpolator: Interpolator | None
) -> tuple[dict[str, Any], list[SpecIssue]]:
    if not isinstance(document.data, dict):
        issue = SpecIssue(where, 1, 1, "", "the file must be a mapping (services:, networks:, ...)")
        return {}, [issue]
    if interpolator is None:
        return document.data, []
    data, errors = interpolate_tree(document.data, interpolator)
    issues = []
    for error_path, message in errors:
        line, column = document.marks.get(error_path, (0, 0))
        issues.append(
            SpecIssue(where, line, column, dotted(error_path), message, "set the variable or give a default")
        )
    return data, issues


VERSION_WARNING = "{file}: `version` is obsolete and ignored: remove it to avoid confusion"


@dataclass
class _Reader:
    """Reads, interpolates and merges project files with one environment (a project or an included one)."""

    interpolator: Interpolator | None
    process: Mapping[str, str]
    interpolate: bool
    warnings: list[str] = field(default_factory=list)
    loaded: list[_Loaded] = field(default_factory=list)

    def files(
        self, paths: list[Path], chain: tuple[Path, ...] = ()
    ) -> tuple[dict[str, Any] | None, list[SpecIssue]]:
        data: dict[str, Any] = {}
        issues: list[SpecIssue] = []
        read_any = False
        for path in paths:
            documents, found = _parse_file(path)
            issues.extend(found)
            for document in documents:
                if document.data is None and not document.resets:
                    continue
                item, found = self._document(path, document, chain)
                issues.extend(found)
                data = merge_projects(data, item, document.resets, document.overrides)
                read_any = True
        if issues:
            return None, issues
        if not read_any:
            where = display_path(paths[0]) if paths else ""
            return None, [
                SpecIssue(where, 1, 1, "", "the file is empty", "a project needs at least `services:`")
            ]
        return enforce_unicity(data), []

    def _document(
        self, path: Path, document: YamlDocument, chain: tuple[Path, ...]
    ) -> tuple[dict[str, Any], list[SpecIssue]]:
        where = display_path(path)
        data, issues = _interpolate(document, where, self.interpolator)
        if issues or not data:
            return data, issues
        self.loaded.append(_Loaded(path, document, data))
        if "version" in data:
            data = {k: v for k, v in data.items() if k != "version"}
            self.warnings.append(VERSION_WARNING.format(file=where))
        locate = _document_locator(document, where)
        data, issues = apply_include(data, path, self._included, locate, chain)
        if issues:
            return data, issues
        return apply_extends(data, path, self._extended, locate)

    def _extended(self, path: Path) -> tuple[dict[str, Any] | None, list[SpecIssue]]:
        documents, issues = _parse_file(path)
        data: dict[str, Any] = {}
        for document in documents:
            item, found = _interpolate(document, display_path(path), self.interpolator)
            issues.extend(found)
            data = merge_projects(data, item, document.resets, document.overrides)
        return (None, issues) if issues else (data, [])

    def _included(
        self, paths: list[Path], directory: Path, env_files: list[Path], chain: tuple[Path, ...]
    ) -> tuple[dict[str, Any] | None, list[SpecIssue]]:
        environment, issues = _interpolation_environment(env_files, directory, self.process)
        if issues:
            return None, issues
        reader = _Reader(
            Interpolator(environment) if self.interpolate else None, self.process, self.interpolate
        )
        data, issues = reader.files(paths, chain)
        self.warnings.extend(reader.warnings)
        if data is None:
            return None, issues
        return rebase_project(data, directory), []


def _document_locator(document: YamlDocument, where: str) -> Locator:
    marks = {dotted(key): (where, line, column) for key, (line, column) in document.marks.items()}
    return lambda path: _locate(marks, (), path) if _locate(marks, (), path)[0] else (where, 0, 0)


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

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_NAME_HINT = "use lower-case letters, digits, - and _, starting with a letter or a digit"


def _declared_name(
    paths: list[Path], environment: Mapping[str, str]
) -> tuple[str | None, tuple[str, int, int]]:
    """The last ``name:`` of the files (interpolated), and where it is written.

    Raises SpecError for a ``name`` that is not text (compose-go refuses ``name: 42``).
    """
    found: tuple[str | None, tuple[str, int, int]] = (None, ("", 0, 0))
    for path in paths:
        documents, _ = _parse_file(path)
        for document in documents:
            raw = document.data.get("name") if isinstance(document.data, dict) else None
            if raw is not None and not isinstance(raw, str):
                line, column = document.marks.get(("name",), (0, 0))
                message = f"the project name must be a string, got {raw!r}"
                raise SpecError([SpecIssue(display_path(path), line, column, "name", message, "quote it")])
            if isinstance(raw, str):
                with contextlib.suppress(InterpolationError):
                    line, column = document.marks.get(("name",), (0, 0))
                    found = (Interpolator(environment).expand(raw), (display_path(path), line, column))
    return found


def _project_name(
    explicit: str | None, environment: Mapping[str, str], paths: list[Path], directory: Path
) -> tuple[str, SpecIssue | None]:
    """``-p``, ``$COMPOSE_PROJECT_NAME``, ``name:``, else the folder's name (compose's order).

    A name set imperatively (``-p``, the variable) must already be valid:
    compose refuses it rather than rewrite it.  ``name:`` and the folder's
    name are normalised (lower case, only ``[a-z0-9_-]``).
    """
    for raw, source in ((explicit, "-p"), (environment.get("COMPOSE_PROJECT_NAME"), "COMPOSE_PROJECT_NAME")):
        if not raw:
            continue
        if not PROJECT_NAME.match(raw):
            return raw, SpecIssue(source, 0, 0, "", f"invalid project name {raw!r}", _NAME_HINT)
        return raw, None
    declared, place = _declared_name(paths, environment)
    name = normalize_project_name(declared or directory.name)
    if not name:
        where = place if declared else (str(directory), 0, 0)
        message = "the project name is empty after normalisation"
        return name, SpecIssue.at(where, "name", message, "use letters, digits, - and _ (or pass -p NAME)")
    return name, None


def _merge_env_files(
    data: dict[str, Any], project_directory: Path, interpolator: Interpolator, locate: Locator
) -> list[SpecIssue]:
    """Read each service's ``env_file`` into its ``environment`` and ``label_file`` into its ``labels``.

    File values come first; what ``environment``/``labels`` write wins (compose's precedence).
    """
    issues: list[SpecIssue] = []
    services = data.get("services")
    if not isinstance(services, dict):
        return issues
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        for source, target in (("env_file", "environment"), ("label_file", "labels")):
            if source in service:
                issues += _merge_files(service, name, source, target, project_directory, interpolator, locate)
    return issues


def _merge_files(
    service: dict[str, Any],
    name: str,
    source: str,
    target: str,
    project_directory: Path,
    interpolator: Interpolator,
    locate: Locator,
) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    raw = service.pop(source)
    entries = raw if isinstance(raw, list) else [raw]
    merged: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        spec = entry if isinstance(entry, dict) else {"path": entry}
        file_path = project_directory / str(spec.get("path", ""))
        issue_path = f"services.{name}.{source}" + (f".{index}" if isinstance(raw, list) else "")
        if not file_path.is_file() and spec.get("required", True) is False:
            continue
        where, line, column = locate(issue_path)
        text, issue = _read_text(file_path, where, issue_path)
        if issue is not None:
            hint = "fix the path or set required: false" if source == "env_file" else "fix the path"
            issues.append(SpecIssue(where, line, column, issue_path, issue.message, hint))
            continue
        parse = parse_raw_env_file if spec.get("format") == "raw" else parse_env_file
        try:
            merged.update(parse(text or "", interpolator.environment))
        except InterpolationError as error:
            issues.append(SpecIssue(where, line, column, issue_path, f"{file_path}: {error}"))
    written = service.get(target) or {}
    if isinstance(written, list):
        written = {k: (v if s else None) for k, s, v in (str(e).partition("=") for e in written)}
    service[target] = {**merged, **written} if isinstance(written, dict) else written
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


@functools.cache
def _key_homes() -> dict[str, list[str]]:
    """Every key the models know -> the places it is valid (``services.NAME``, ``the top level``, ...)."""
    homes: dict[str, list[str]] = {}
    seen: set[tuple[type, str]] = set()
    pending: list[tuple[Any, str]] = [(ProjectSpec, "")]
    while pending:
        annotation, place = pending.pop(0)
        for candidate in _unwrap(annotation):
            origin = typing.get_origin(candidate)
            if origin is dict:
                pending.append((typing.get_args(candidate)[1], f"{place}.NAME" if place else "NAME"))
            elif origin in (list, tuple):
                pending.extend(
                    (arg, f"{place}[]") for arg in typing.get_args(candidate) if arg is not Ellipsis
                )
            elif isinstance(candidate, type) and issubclass(candidate, BaseModel):
                if (candidate, place) in seen or place.count(".") > 5:
                    continue
                seen.add((candidate, place))
                for key, info in candidate.model_fields.items():
                    homes.setdefault(key, []).append(place or "the top level")
                    pending.append((info.annotation, f"{place}.{key}" if place else key))
    return homes


def _misplaced_hint(key: str, parent: tuple[str | int, ...]) -> str | None:
    """Where a key valid elsewhere belongs; never a look-alike key (``secrets`` is not ``services``)."""
    places = _key_homes().get(key)
    if not places:
        return None
    here = dotted(parent) or "the top level"
    shown = ", ".join(f"`{place}`" if place != "the top level" else place for place in places[:3])
    more = f" (and {len(places) - 3} more)" if len(places) > 3 else ""
    where = here if here == "the top level" else f"`{here}`"
    return f"`{key}` is not a key of {where}: it belongs in {shown}{more}"


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
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
              "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}  # fmt: skip
    if kind in bounds:
        key, words = bounds[kind]
        return f"must be {words} {error.get('ctx', {}).get(key)}{shown}"
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
        misplaced = _misplaced_hint(key, parent)
        close = difflib.get_close_matches(key, _allowed_keys(parent), n=1)
        hint = misplaced or (
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


@dataclass
class RawProject:
    """The merged project data before validation, and what it came from."""

    name: str
    data: dict[str, Any]
    files: list[Path]
    project_directory: Path
    environment: dict[str, str]
    marks: dict[str, tuple[str, int, int]]
    warnings: list[str]
    interpolator: Interpolator
    profiles: list[str]  # enabled
    all_profiles: list[str]  # every profile a service names


def load_raw_project(
    files: Sequence[Path] = (),
    project_directory: Path | None = None,
    env_files: Sequence[Path] = (),
    project_name: str | None = None,
    profiles: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    interpolate: bool = True,
) -> RawProject:
    """Find, read, interpolate and merge the files, with ``include`` and ``extends``; not validated.

    ``environ`` is the process environment (``os.environ`` when None).
    """
    process = dict(os.environ if environ is None else environ)
    start = discovery.absolute(project_directory or (files[0].parent if files else Path.cwd()))
    environment, issues = _interpolation_environment(list(env_files), start, process)
    paths = _resolve_files(list(files), project_directory, environment)
    directory = discovery.project_directory(project_directory, paths)
    if directory != start:  # found in a parent folder: compose reads the .env beside the file
        environment, issues = _interpolation_environment(list(env_files), directory, process)
    if issues:
        raise SpecError(issues)
    name, issue = _project_name(project_name, environment, paths, directory)
    if issue is not None:
        raise SpecError([issue])
    environment = {**environment, "COMPOSE_PROJECT_NAME": name}
    interpolator = Interpolator(environment)
    reader = _Reader(interpolator if interpolate else None, process, interpolate)
    data, issues = reader.files(paths)
    if data is None:
        raise SpecError(issues)
    marks = _all_marks(reader.loaded)
    if clab.is_topology(data):  # a containerlab topology, read unchanged
        data = clab.to_compose(data, lambda path: _locate(marks, tuple(paths), path))
    data["name"] = name
    enabled = list(profiles) or _split_profiles(environment.get("COMPOSE_PROFILES", ""))
    return RawProject(
        name, data, paths, directory, environment, marks, reader.warnings, interpolator, enabled,
        _all_profiles(data),
    )  # fmt: skip


def _split_profiles(raw: str) -> list[str]:
    return [p.strip() for p in raw.split(",") if p.strip()]


def _all_profiles(data: dict[str, Any]) -> list[str]:
    services = data.get("services")
    found: set[str] = set()
    for service in services.values() if isinstance(services, dict) else []:
        wanted = service.get("profiles") if isinstance(service, dict) else None
        found.update(str(p) for p in wanted or [] if isinstance(wanted, list))
    return sorted(found)


def load_project(
    files: Sequence[Path] = (),
    project_directory: Path | None = None,
    env_files: Sequence[Path] = (),
    project_name: str | None = None,
    profiles: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> LoadedProject:
    """Load, merge, interpolate and validate a project; raise SpecError with every problem.

    Only ``files`` is needed; the rest default as the CLI's do without flags (the
    project directory is the first file's folder, ``.env`` there, no profile).
    """
    raw = load_raw_project(files, project_directory, env_files, project_name, profiles, environ=environ)
    locate: Locator = lambda path: _locate(raw.marks, tuple(raw.files), path)  # noqa: E731
    data = raw.data
    issues = _merge_env_files(data, raw.project_directory, raw.interpolator, locate)
    issues += _apply_profiles(data, raw.profiles, locate)
    if issues:
        raise SpecError(issues)
    return _validate(raw, locate)


def _validate(raw: RawProject, locate: Locator) -> LoadedProject:
    from composer.project.checks import check

    try:
        spec = ProjectSpec.model_validate(raw.data, context=_model_context(raw.project_directory))
    except ValidationError as error:
        raise SpecError(validation_issues(error, raw.data, locate)) from None
    issues = check(spec, locate)
    if issues:
        raise SpecError(issues)
    warnings = (
        tuple(raw.warnings)
        + tuple(
            f"the {name} variable is not set: defaulting to a blank string"
            for name in sorted(raw.interpolator.missing)
        )
        + _logging_warnings(spec)
    )
    return LoadedProject(
        spec.name, spec, tuple(raw.files), raw.project_directory, raw.environment, raw.marks, warnings,
        tuple(raw.all_profiles),
    )  # fmt: skip


def _logging_warnings(spec: ProjectSpec) -> tuple[str, ...]:
    """One warning per logging driver composer does not have, naming the services that ask for it."""
    from composer.project.models.runtime import HONOURED_DRIVERS

    wanted: dict[str, list[str]] = {}
    for name, service in spec.services.items():
        driver = service.logging.driver if service.logging else None
        if driver and driver not in HONOURED_DRIVERS:
            wanted.setdefault(driver, []).append(name)
    return tuple(
        f"logging driver `{driver}` (services {', '.join(names)}) is not available: "
        "composer keeps their output in its own rotated log (composer logs)"
        for driver, names in sorted(wanted.items())
    )


def _model_context(directory: Path) -> ModelContext:
    home = os.path.expanduser("~")  # $HOME, else the password database; "~" when neither knows
    return ModelContext(directory, Path(home) if home != "~" else None)
