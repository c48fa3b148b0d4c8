"""``extends``: a service built on another one, of the same file or of another file.

compose-go's rules, kept here:

* ``extends: web`` or ``extends: {service: web}`` takes ``web`` of the same
  file; ``extends: {file: base.yaml, service: web}`` takes it from another
  file, named relative to the file that says ``extends``;
* the base is resolved first (it may extend too), then the service is merged
  over it with the rules of several ``-f`` files (``merge.merge_service``);
* a base from another file has its relative paths made absolute against
  that file's folder (``rebase``), so ``./data`` means what it meant there;
* a cycle is an error naming the chain (``a -> b -> a``).

Reading another file is the caller's: ``read`` returns that file's project
data (interpolated, documents merged), or the issues of reading it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from composer.errors import SpecIssue
from composer.project.merge import merge_service
from composer.project.rebase import rebase_service

Reader = Callable[[Path], tuple[dict[str, Any] | None, list[SpecIssue]]]
Locator = Callable[[str], tuple[str, int, int]]
_Key = tuple[str, str]  # (file, service)


class _Failure(Exception):
    def __init__(self, issue: SpecIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class _Resolver:
    def __init__(self, file: Path, data: dict[str, Any], read: Reader, locate: Locator) -> None:
        self.read, self.locate, self.main = read, locate, str(file)
        self.files: dict[str, dict[str, Any]] = {str(file): data}
        self.done: dict[_Key, dict[str, Any]] = {}

    def _services(self, file: str, origin: str) -> dict[str, Any]:
        if file not in self.files:
            data, issues = self.read(Path(file))
            if data is None:
                raise _Failure(issues[0] if issues else self._issue(origin, f"cannot read {file}"))
            self.files[file] = data
        services = self.files[file].get("services")
        return services if isinstance(services, dict) else {}

    def _issue(self, path: str, message: str, hint: str = "") -> SpecIssue:
        return SpecIssue.at(self.locate(path), path, message, hint)

    def resolve(self, file: str, name: str, chain: tuple[_Key, ...]) -> dict[str, Any]:
        key = (file, name)
        if key in self.done:
            return self.done[key]
        origin = f"services.{chain[0][1] if chain else name}.extends"
        services = self._services(file, origin)
        if key in chain:
            names = " -> ".join(_label(k, self.main) for k in (*chain[chain.index(key) :], key))
            raise _Failure(self._issue(origin, f"extends makes a cycle: {names}", "break the cycle"))
        if name not in services:
            where = "" if file == self.main else f" in {file}"
            raise _Failure(self._issue(origin, f"extends names an unknown service `{name}`{where}"))
        service = services[name]
        if not isinstance(service, dict) or "extends" not in service:
            return service if isinstance(service, dict) else {}
        target_file, target = self._target(file, service["extends"], origin)
        base = self.resolve(target_file, target, (*chain, key))
        if target_file != file:
            base = rebase_service(base, Path(target_file).parent)
        own = {k: v for k, v in service.items() if k != "extends"}
        merged = merge_service(dict(base), own, name)
        self.done[key] = merged
        return merged

    def _target(self, file: str, extends: Any, origin: str) -> tuple[str, str]:
        if isinstance(extends, str):
            return file, extends
        if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
            raise _Failure(
                self._issue(origin, "extends takes a service name or {service:, file:}", "name the service")
            )
        other = extends.get("file")
        if other is None:
            return file, extends["service"]
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(file), str(other)))
        return joined, extends["service"]


def _label(key: _Key, main: str) -> str:
    return key[1] if key[0] == main else f"{key[1]} ({key[0]})"


def apply_extends(
    data: dict[str, Any], file: Path, read: Reader, locate: Locator
) -> tuple[dict[str, Any], list[SpecIssue]]:
    """``data`` with every ``extends`` resolved, and the problems found (one per service)."""
    services = data.get("services")
    if not isinstance(services, dict) or not any(
        isinstance(s, dict) and "extends" in s for s in services.values()
    ):
        return data, []
    resolver = _Resolver(file, data, read, locate)
    resolved: dict[str, Any] = {}
    issues: list[SpecIssue] = []
    for name, service in services.items():
        try:
            resolved[name] = resolver.resolve(str(file), name, ())
        except _Failure as failure:
            issues.append(failure.issue)
            resolved[name] = service
    return {**data, "services": resolved}, issues
