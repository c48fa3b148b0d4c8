"""Image references, normalised the way Docker does.

``postgres`` means ``docker.io/library/postgres:latest``; ``ghcr.io/org/app@sha256:...``
names a manifest by digest; ``localhost:5000/app:1`` is a registry with a port.
The first path component is a registry only when it looks like a host (it holds a
``.`` or a ``:``, or is ``localhost``), which is Docker's rule, so ``org/app`` is
``docker.io/org/app``.

The canonical name (:attr:`Reference.canonical`) keys the store; the API host
(:attr:`Reference.api_host`) is where requests go: Docker Hub's registry is served
by ``registry-1.docker.io``, not ``docker.io``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from composer.errors import ImageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# The grammar of distribution/reference, kept to what matters for parsing.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")
_HOST_RE = re.compile(r"^(?:[a-zA-Z0-9.-]+|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")


@dataclass(frozen=True)
class Reference:
    """A parsed image reference; ``tag`` is None only when a digest is given alone."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def canonical(self) -> str:
        """``registry/repository[:tag][@digest]``, the store's key for this reference."""
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def manifest_ref(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, None, digest)

    def __str__(self) -> str:
        return self.canonical


def is_digest(text: str) -> bool:
    return bool(_DIGEST_RE.match(text))


def parse_reference(text: str) -> Reference:
    """Parse and normalise ``text``; raises ImageError with the reason when it is malformed."""
    raw = text.strip()
    if not raw:
        raise ImageError("empty image reference")
    remainder, digest = _split_digest(raw, text)
    registry, path = _split_registry(remainder)
    path, tag = _split_tag(path, text)
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not _REPOSITORY_RE.match(path):
        raise ImageError(
            f"invalid image reference {text!r}: repository {path!r} must be lower case "
            "letters, digits and separators"
        )
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)


def _split_digest(raw: str, text: str) -> tuple[str, str | None]:
    if "@" not in raw:
        return raw, None
    remainder, digest = raw.split("@", 1)
    if not is_digest(digest):
        raise ImageError(f"invalid image reference {text!r}: bad digest {digest!r}")
    return remainder, digest


def _split_registry(remainder: str) -> tuple[str, str]:
    first, sep, rest = remainder.partition("/")
    looks_like_host = "." in first or ":" in first or first == "localhost"
    if not sep or not looks_like_host:
        return DOCKER_HUB, remainder
    if not _HOST_RE.match(first):
        raise ImageError(f"invalid image reference {remainder!r}: bad registry host {first!r}")
    return (DOCKER_HUB if first in _HUB_ALIASES else first), rest


def _split_tag(path: str, text: str) -> tuple[str, str | None]:
    # A tag is after the last ':' of the last component (a port lives in the registry part).
    slash = path.rfind("/")
    colon = path.rfind(":")
    if colon <= slash:
        return path, None
    tag = path[colon + 1 :]
    if not _TAG_RE.match(tag):
        raise ImageError(f"invalid image reference {text!r}: bad tag {tag!r}")
    return path[:colon], tag


def registry_key(registry: str) -> str:
    """The name credentials are filed under (Docker files Hub credentials under its index URL)."""
    host = registry.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return DOCKER_HUB if host in _HUB_ALIASES else host
