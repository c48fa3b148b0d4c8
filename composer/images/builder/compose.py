"""The compose ``build:`` section -> build requests, and which services a verb builds.

Read as compose-go reads it: the short form (``build: ./dir``, the context) and
the long form with ``context``, ``dockerfile``, ``dockerfile_inline``, ``args``
(map, or list of ``K=V``; a key without a value takes the project
environment's), ``target``, ``labels`` (map or list), ``tags``, ``network``
(``default``, ``host``, ``none``), ``extra_hosts``, ``shm_size``, ``pull``,
``no_cache``, ``platforms`` (this host's platform only), ``secrets`` and ``ssh``
(``default`` for $SSH_AUTH_SOCK, or ``ID=SOCKET``: an agent's socket, bound for
``RUN --mount=type=ssh``).  ``cache_from``/``cache_to``, ``additional_contexts``,
``privileged``, ``entitlements``, ``ulimits`` and ``isolation`` are refused with
their place in the file.  A git URL as context is refused: this host has no
internet, and composer does not clone.

The built image is named by ``image:`` when the service has one, else
``<project>-<service>`` as compose names it; ``tags`` add more names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.errors import SpecError, SpecIssue
from composer.images.builder.builder import BuildRequest, host_platform_name
from composer.model.units import parse_bytes

if TYPE_CHECKING:
    from composer.images.builder.builder import BuildResult, Progress
    from composer.images.store import ImageStore
    from composer.project.loader import LoadedProject

SUPPORTED = frozenset(
    {
        "context", "dockerfile", "dockerfile_inline", "args", "target", "labels", "tags", "network",
        "extra_hosts", "shm_size", "pull", "no_cache", "platforms", "secrets", "ssh",
    }
)  # fmt: skip
REFUSED = {
    "cache_from": "external build caches are not read: composer's own cache is used",
    "cache_to": "external build caches are not written: composer's own cache is used",
    "additional_contexts": "additional build contexts are not supported yet",
    "privileged": "privileged builds are not supported",
    "entitlements": "build entitlements are not supported",
    "ulimits": "build ulimits are not applied yet",
    "isolation": "isolation is a Windows setting",
}
_REMOTE_PREFIXES = ("http://", "https://", "git://", "git@", "ssh://", "github.com/")


@dataclass(frozen=True)
class ServiceBuild:
    service: str
    image: str  # the name the result is stored under
    request: BuildRequest


def image_name(project: str, service: str, spec: Any) -> str:
    """The name of a service's built image: its ``image:``, else ``<project>-<service>``."""
    return str(spec.image) if getattr(spec, "image", None) else f"{project}-{service}".lower()


def is_buildable(spec: Any) -> bool:
    return getattr(spec, "build", None) is not None and getattr(spec, "rootfs", None) is None


def known_services(loaded: LoadedProject, wanted: Sequence[str]) -> list[str]:
    """The services named (all when none is), each checked to exist; ``build`` builds no dependency."""
    names = sorted(loaded.spec.services)
    unknown = [name for name in wanted if name not in loaded.spec.services]
    if unknown:
        where = loaded.locate("services")
        raise SpecError(
            [
                SpecIssue.at(where, "services", f"no service named {n!r}", f"known: {', '.join(names)}")
                for n in unknown
            ]
        )
    return list(wanted) or names


def service_builds(
    loaded: LoadedProject,
    services: Sequence[str],
    *,
    no_cache: bool = False,
    pull: bool = False,
    build_args: Mapping[str, str] | None = None,
) -> list[ServiceBuild]:
    """The build of each buildable service named; every mistake in their ``build:`` at once."""
    issues: list[SpecIssue] = []
    out: list[ServiceBuild] = []
    for name in services:
        spec = loaded.spec.services[name]
        if not is_buildable(spec):
            continue
        try:
            request = _request(loaded, name, spec, issues)
        except _Bad:
            continue
        if request is None:
            continue
        request = replace(
            request,
            no_cache=request.no_cache or no_cache,
            pull=request.pull or pull,
            args={**request.args, **(build_args or {})},
        )
        out.append(ServiceBuild(name, image_name(loaded.name, name, spec), request))
    if issues:
        raise SpecError(issues)
    return out


class _Bad(Exception):
    pass


def _request(loaded: LoadedProject, name: str, spec: Any, issues: list[SpecIssue]) -> BuildRequest | None:
    base = f"services.{name}.build"
    raw = spec.build
    section: dict[str, Any] = {"context": raw} if isinstance(raw, str) else dict(raw)
    before = len(issues)

    def bad(field: str, message: str, hint: str = "") -> None:
        path = f"{base}.{field}" if field else base
        issues.append(SpecIssue.at(loaded.locate(path), path, message, hint))

    for key in sorted(section):
        if key in REFUSED:
            bad(key, f"`build.{key}` cannot be honoured: {REFUSED[key]}", f"remove `{key}:`")
        elif key not in SUPPORTED and not key.startswith("x-"):
            bad(key, f"unknown build key {key!r}", f"known keys: {', '.join(sorted(SUPPORTED))}")
    context_text = str(section.get("context") or ".")
    if context_text.startswith(_REMOTE_PREFIXES) or context_text.endswith(".git"):
        remote = f"the build context {context_text} is a remote repository"
        bad("context", f"{remote}: composer builds from local folders only", "clone it and give the folder")
        raise _Bad
    context = Path(context_text)
    if not context.is_absolute():
        context = loaded.project_directory / context
    if not context.is_dir():
        bad(
            "context",
            f"the build context {context} is not a folder",
            "give the folder holding the Dockerfile",
        )
    platforms = [str(p) for p in section.get("platforms") or []]
    host = host_platform_name()
    for item in platforms:
        if item.split("/")[:2] != host.split("/"):
            bad("platforms", f"platform {item} cannot be built: composer builds for this host ({host}) only",
                f"remove it or use {host}")  # fmt: skip
    network = str(section.get("network") or "default")
    if network not in ("default", "host", "none"):
        bad("network", f"build network {network!r} is not supported", "use default, host or none")
    shm = section.get("shm_size")
    try:
        shm_size = parse_bytes(shm) if shm is not None else None
    except ValueError as error:
        bad("shm_size", str(error))
        shm_size = None
    if len(issues) > before:
        return None
    files, values = _secrets(loaded, section.get("secrets") or [], bad)
    agents = _ssh_agents(section.get("ssh"), loaded, bad)
    if len(issues) > before:
        return None
    dockerfile = section.get("dockerfile")
    return BuildRequest(
        context=context,
        dockerfile=Path(str(dockerfile)) if dockerfile else None,
        dockerfile_inline=section.get("dockerfile_inline"),
        tags=(image_name(loaded.name, name, spec), *[str(t) for t in section.get("tags") or []]),
        args=_args(section.get("args"), loaded.environment),
        target=section.get("target"),
        labels=_labels(section.get("labels")),
        network=network,
        extra_hosts=tuple(_hosts(section.get("extra_hosts"))),
        shm_size=shm_size,
        no_cache=bool(section.get("no_cache", False)),
        pull=bool(section.get("pull", False)),
        source_date_epoch=_epoch(loaded.environment),
        secret_files=files,
        secret_values=values,
        ssh_agents=agents,
    )


def _secrets(
    loaded: LoadedProject, entries: list[Any], bad: Callable[[str, str, str], None]
) -> tuple[dict[str, Path], dict[str, str]]:
    """build.secrets -> the id each has in the Dockerfile and its file (or value from the environment)."""
    files: dict[str, Path] = {}
    values: dict[str, str] = {}
    for entry in entries:
        source = str(entry if isinstance(entry, str) else entry.get("source", ""))
        ident = source if isinstance(entry, str) else str(entry.get("target") or source)
        secret = loaded.spec.secrets.get(source)
        if secret is None:
            bad(
                "secrets",
                f"build secret {source!r} is not declared under the top-level `secrets:`",
                "declare it",
            )
            continue
        if secret.file is not None:
            files[ident] = Path(secret.file)
        elif secret.environment is not None:
            value = loaded.environment.get(secret.environment, os.environ.get(secret.environment))
            if value is None:
                bad("secrets", f"build secret {source!r}: ${secret.environment} is not set", "set it")
                continue
            values[ident] = value
    return files, values


def _ssh_agents(raw: Any, loaded: LoadedProject, bad: Callable[[str, str, str], None]) -> dict[str, Path]:
    """build.ssh: ``default`` ($SSH_AUTH_SOCK) or ``ID=PATH`` of an agent's socket, per id.

    BuildKit also takes key files and runs an agent of its own for them; composer forwards an agent
    that runs already, so a key is refused with the command that loads it into one.
    """
    entries = [f"{k}={v}" if v else str(k) for k, v in raw.items()] if isinstance(raw, Mapping) else raw
    agents: dict[str, Path] = {}
    for entry in entries or []:
        ident, eq, value = str(entry).partition("=")
        if not eq:
            value = loaded.environment.get("SSH_AUTH_SOCK", os.environ.get("SSH_AUTH_SOCK", ""))
            if not value:
                bad(
                    "ssh",
                    f"build ssh {ident!r}: $SSH_AUTH_SOCK is not set",
                    "start an agent (eval $(ssh-agent))",
                )
                continue
        path = Path(os.path.expanduser(value))
        if not path.is_absolute():
            path = loaded.project_directory / path
        if not path.is_socket():
            hint = f"load the key into an agent (ssh-add {path}) and give its socket, $SSH_AUTH_SOCK"
            bad("ssh", f"build ssh {ident!r}: {path} is not an agent's socket", hint)
            continue
        agents[ident] = path
    return agents


def _args(raw: Any, environment: Mapping[str, str]) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    items: list[tuple[str, str | None]] = []
    if isinstance(raw, Mapping):
        items = [(str(k), None if v is None else str(v)) for k, v in raw.items()]
    else:
        for entry in raw or []:
            key, eq, value = str(entry).partition("=")
            items.append((key, value if eq else None))
    for name, given in items:
        pairs[name] = given if given is not None else environment.get(name)
    return pairs


def _labels(raw: Any) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    out = {}
    for entry in raw or []:
        key, _, value = str(entry).partition("=")
        out[key] = value
    return out


def _hosts(raw: Any) -> list[tuple[str, str]]:
    if isinstance(raw, Mapping):
        return [(str(k), str(v)) for k, v in raw.items()]
    out = []
    for entry in raw or []:
        text = str(entry)
        sep = "=" if "=" in text else ":"
        host, _, address = text.partition(sep)
        out.append((host, address.strip("[]")))
    return out


def _epoch(environment: Mapping[str, str]) -> int | None:
    value = environment.get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
    return int(value) if value and value.isdigit() else None


def run_builds(
    builds: Sequence[ServiceBuild],
    store: ImageStore,
    progress_for: Callable[[ServiceBuild], Progress],
) -> dict[str, BuildResult]:
    """Build each service's image once (services sharing a request share its result)."""
    from composer.images.builder.builder import Builder

    done: dict[str, BuildResult] = {}
    by_request: dict[str, BuildResult] = {}
    for build in builds:
        key = repr(build.request)
        result = by_request.get(key)
        if result is None:
            result = Builder(store, build.request, progress_for(build)).build()
            by_request[key] = result
        done[build.service] = result
    return done
