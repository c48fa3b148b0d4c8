"""A small client for the distribution (OCI registry) API, on httpx.

Why not a generic artifact client: an image pull needs a platform choice from an
index, digest and size checks on every byte, whiteout-aware unpacking and a shared
store; generic clients (oras-py and the like) do none of it.  What is left is a few
HTTP calls, so we make them ourselves:

* ``GET /v2/<name>/manifests/<tag|digest>`` with every manifest type in ``Accept``;
  an index (OCI index or Docker manifest list) is resolved to the host's platform
  (``linux`` + this architecture + variant) and fetched again by digest.  Manifests
  are verified against the digest asked for, when one was.
* ``GET /v2/<name>/blobs/<digest>`` streamed into a partial file while hashing it;
  the partial file is kept on a network failure and resumed with a ``Range``
  request, and renamed to its final place only when its size and digest match.
* Redirects (registries send blob reads to object storage) are followed by hand:
  a redirect to another origin is fetched without the ``Authorization`` header.
* Plain HTTP is used only for loopback registries and registries marked insecure
  (``COMPOSER_INSECURE_REGISTRIES=host[:port],...`` or the ``insecure`` argument);
  everything else is HTTPS with certificate checks.

The client is thread-safe: the store downloads layers in parallel through one
client (one connection pool, one token cache).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import platform as platform_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from composer.errors import ImageError, RegistryError
from composer.images.auth import Credentials, RegistryAuth, TokenCache, find_credentials
from composer.images.reference import Reference

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
MAX_MANIFEST_BYTES = 4 << 20
MAX_REDIRECTS = 5
DOWNLOAD_ATTEMPTS = 3
CHUNK = 1 << 20
ProgressFn = Callable[[int], None]

_MACHINE_TO_PLATFORM = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def host(cls) -> Platform:
        machine = platform_module.machine()
        arch, variant = _MACHINE_TO_PLATFORM.get(machine, (machine, ""))
        return cls("linux", arch, variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64/v8`` or ``linux/amd64``."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ImageError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def from_json(cls, data: Any, what: str) -> Descriptor:
        if not isinstance(data, dict):
            raise ImageError(f"malformed {what} descriptor")
        digest, size = data.get("digest"), data.get("size")
        if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
            raise ImageError(f"{what} descriptor has an unsupported digest {digest!r}")
        if not isinstance(size, int) or size < 0:
            raise ImageError(f"{what} descriptor has a bad size {size!r}")
        return cls(str(data.get("mediaType", "")), digest, size)


@dataclass(frozen=True)
class ImageManifest:
    """An image manifest resolved for one platform."""

    digest: str  # of the platform's manifest (what `image@digest` pins)
    media_type: str
    raw: bytes
    config: Descriptor
    layers: tuple[Descriptor, ...]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def insecure_from_env() -> frozenset[str]:
    raw = os.environ.get("COMPOSER_INSECURE_REGISTRIES", "")
    return frozenset(item.strip() for item in raw.split(",") if item.strip())


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RegistryClient:
    """Talks to registries for one pull (or many); use it as a context manager."""

    def __init__(
        self,
        *,
        insecure: Iterable[str] = (),
        credentials: Callable[[str], Credentials | None] = find_credentials,
        timeout: float = 60.0,
        max_connections: int = 8,
    ) -> None:
        self._insecure = insecure_from_env() | frozenset(insecure)
        self._credentials = credentials
        self._tokens = TokenCache()
        self._auths: dict[tuple[str, str], RegistryAuth] = {}
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.Client(timeout=timeout, limits=limits, follow_redirects=False)

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- URLs and auth ---------------------------------------------------------------------

    def base_url(self, ref: Reference) -> str:
        host = ref.api_host
        plain = is_loopback(host) or host in self._insecure or ref.registry in self._insecure
        return f"{'http' if plain else 'https'}://{host}/v2/{ref.repository}"

    def _auth(self, ref: Reference) -> RegistryAuth:
        key = (ref.api_host, ref.repository)
        if key not in self._auths:
            self._auths[key] = RegistryAuth(ref.repository, self._credentials(ref.registry), self._tokens)
        return self._auths[key]

    def _get(self, ref: Reference, url: str, headers: dict[str, str], stream: bool = False) -> httpx.Response:
        """GET with auth, following redirects by hand (the header never leaves the origin)."""
        request = self._http.build_request("GET", url, headers=headers)
        try:
            response = self._http.send(request, auth=self._auth(ref), stream=stream)
            origin = request.url.copy_with(path="/", query=None)
            for _ in range(MAX_REDIRECTS):
                if not response.is_redirect:
                    return response
                response.close()
                target = httpx.URL(urljoin(str(response.request.url), response.headers["Location"]))
                same_origin = target.copy_with(path="/", query=None) == origin
                follow = self._http.build_request("GET", target, headers=headers)
                auth = self._auth(ref) if same_origin else None
                response = self._http.send(follow, auth=auth, stream=stream)
        except httpx.TransportError as error:
            raise RegistryError(f"cannot reach the registry {ref.api_host}: {error}") from error
        response.close()
        raise RegistryError(f"too many redirects fetching {url}")

    def check_login(self, registry: str, credentials: Credentials) -> None:
        """Raise RegistryError unless ``credentials`` are accepted by ``registry`` (``GET /v2/``)."""
        probe = Reference(registry=registry, repository="")
        auth = RegistryAuth("", credentials, self._tokens)
        url = self.base_url(probe).removesuffix("/")
        try:
            response = self._http.get(url + "/", auth=auth)
        except httpx.TransportError as error:
            raise RegistryError(f"cannot reach the registry {probe.api_host}: {error}") from error
        if response.status_code in (401, 403):
            raise RegistryError(
                f"{registry} refused the credentials of {credentials.username}",
                status=response.status_code,
                code="UNAUTHORIZED",
            )
        if response.status_code >= 300:
            raise RegistryError(
                f"{registry} answered {response.status_code} to the login check", status=response.status_code
            )

    # -- manifests -------------------------------------------------------------------------

    def fetch_manifest(self, ref: Reference, *, platform: Platform | None = None) -> ImageManifest:
        """The image manifest ``ref`` names, resolved through an index for ``platform``."""
        raw, media_type, digest = self._fetch_manifest_bytes(ref, ref.manifest_ref)
        doc = _parse_json(raw, f"manifest of {ref}")
        media_type = media_type or str(doc.get("mediaType", ""))
        if media_type in INDEX_TYPES or (not media_type and "manifests" in doc):
            chosen = choose_platform(doc, platform or Platform.host(), str(ref))
            raw, media_type, digest = self._fetch_manifest_bytes(ref, chosen.digest)
            doc = _parse_json(raw, f"manifest of {ref}")
            media_type = media_type or str(doc.get("mediaType", ""))
        return _image_manifest(doc, raw, media_type, digest, str(ref))

    def _fetch_manifest_bytes(self, ref: Reference, which: str) -> tuple[bytes, str, str]:
        response = self._get(ref, f"{self.base_url(ref)}/manifests/{which}", {"Accept": ACCEPT})
        _raise_for_status(response, ref, f"manifest {which}")
        raw = response.content
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ImageError(f"the manifest of {ref} is larger than {MAX_MANIFEST_BYTES} bytes")
        digest = sha256_digest(raw)
        if which.startswith("sha256:") and digest != which:
            raise ImageError(f"the registry sent a manifest for {ref} whose digest is {digest}, not {which}")
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return raw, media_type if media_type in (*MANIFEST_TYPES, *INDEX_TYPES) else "", digest

    # -- blobs -----------------------------------------------------------------------------

    def fetch_bytes(self, ref: Reference, desc: Descriptor, limit: int = MAX_MANIFEST_BYTES) -> bytes:
        """A small blob (an image config) in memory, verified."""
        if desc.size > limit:
            raise ImageError(f"blob {desc.digest} of {ref} is too large ({desc.size} bytes)")
        response = self._get(ref, f"{self.base_url(ref)}/blobs/{desc.digest}", {})
        _raise_for_status(response, ref, f"blob {desc.digest}")
        data = response.content
        if len(data) != desc.size or sha256_digest(data) != desc.digest:
            raise ImageError(f"blob {desc.digest} of {ref} does not match its digest or size; refused")
        return data

    def fetch_blob(
        self, ref: Reference, desc: Descriptor, final: Path, partial: Path, progress: ProgressFn | None = None
    ) -> int:
        """Download ``desc`` to ``final`` through ``partial``; returns the bytes transferred.

        A partial file left by an interrupted run is resumed with a Range request.
        Transport errors are retried (resuming); a digest or size mismatch deletes the
        partial file and raises, so nothing unverified is ever kept.
        """
        transferred = 0
        for attempt in range(DOWNLOAD_ATTEMPTS):
            try:
                transferred += self._download_once(ref, desc, partial, progress)
                break
            except RegistryError as error:
                if attempt == DOWNLOAD_ATTEMPTS - 1 or error.status is not None:
                    raise
        _verify_file(partial, desc, ref)
        os.replace(partial, final)
        return transferred

    def _download_once(
        self, ref: Reference, desc: Descriptor, partial: Path, progress: ProgressFn | None
    ) -> int:
        hasher = hashlib.sha256()
        have = _hash_existing(partial, hasher) if partial.exists() else 0
        if have > desc.size:
            partial.unlink()
            hasher, have = hashlib.sha256(), 0
        if have == desc.size:
            return 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        response = self._get(ref, f"{self.base_url(ref)}/blobs/{desc.digest}", headers, stream=True)
        try:
            _raise_for_status(response, ref, f"blob {desc.digest}")
            if have and response.status_code != 206:  # the server ignored Range: start over
                hasher, have = hashlib.sha256(), 0
            if progress and have:
                progress(have)
            return _stream_to(response, partial, have, hasher, desc, ref, progress)
        except httpx.TransportError as error:
            raise RegistryError(f"download of {desc.digest} from {ref.api_host} failed: {error}") from error
        finally:
            response.close()

    # -- pushing ---------------------------------------------------------------------------

    def _send(self, ref: Reference, method: str, url: str, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(method, url, **kwargs)
        try:
            return self._http.send(request, auth=self._auth(ref))
        except httpx.TransportError as error:
            raise RegistryError(f"cannot reach the registry {ref.api_host}: {error}") from error

    def push_blob(self, ref: Reference, digest: str, data: bytes) -> bool:
        """Upload one blob (monolithic) unless the repository has it; True when it was sent."""
        base = self.base_url(ref)
        if self._send(ref, "HEAD", f"{base}/blobs/{digest}").status_code == 200:
            return False
        started = self._send(ref, "POST", f"{base}/blobs/uploads/")
        _raise_for_status(started, ref, "an upload")
        location = httpx.URL(urljoin(str(started.request.url), started.headers["Location"]))
        done = self._send(
            ref, "PUT", str(location.copy_merge_params({"digest": digest})),
            content=data, headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        _raise_for_status(done, ref, f"the blob {digest[:19]}")
        return True

    def push_manifest(self, ref: Reference, raw: bytes, media_type: str) -> str:
        """PUT the manifest under the reference's tag (or digest); returns its digest."""
        which = ref.digest or ref.tag or "latest"
        put = self._send(
            ref,
            "PUT",
            f"{self.base_url(ref)}/manifests/{which}",
            content=raw,
            headers={"Content-Type": media_type},
        )
        _raise_for_status(put, ref, "the manifest")
        return sha256_digest(raw)


def _hash_existing(path: Path, hasher: Any) -> int:
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return size


def _stream_to(
    response: httpx.Response,
    partial: Path,
    have: int,
    hasher: Any,
    desc: Descriptor,
    ref: Reference,
    progress: ProgressFn | None,
) -> int:
    written = 0
    with partial.open("r+b" if have else "wb") as out:
        out.seek(have)
        out.truncate()
        for chunk in response.iter_bytes(CHUNK):
            if have + written + len(chunk) > desc.size:
                out.close()
                partial.unlink(missing_ok=True)
                raise ImageError(f"blob {desc.digest} of {ref} is larger than its {desc.size} bytes; refused")
            out.write(chunk)
            written += len(chunk)
            if progress:
                progress(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    return written


def _verify_file(partial: Path, desc: Descriptor, ref: Reference) -> None:
    hasher = hashlib.sha256()
    size = _hash_existing(partial, hasher)
    if size != desc.size or "sha256:" + hasher.hexdigest() != desc.digest:
        partial.unlink(missing_ok=True)
        raise ImageError(
            f"blob {desc.digest} of {ref} does not match its digest or size "
            f"(got {size} bytes, sha256:{hasher.hexdigest()[:12]}...); refused"
        )


def _parse_json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as error:
        raise ImageError(f"the {what} is not valid JSON: {error}") from error
    if not isinstance(doc, dict):
        raise ImageError(f"the {what} is not a JSON object")
    return doc


def _image_manifest(
    doc: dict[str, Any], raw: bytes, media_type: str, digest: str, name: str
) -> ImageManifest:
    if doc.get("schemaVersion") == 1 or media_type.endswith("manifest.v1+prettyjws"):
        raise ImageError(f"{name} uses the Docker schema 1 manifest, which is not supported")
    if media_type and media_type not in MANIFEST_TYPES:
        raise ImageError(f"{name} has an unsupported manifest type {media_type!r}")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ImageError(f"the manifest of {name} has no layer list")
    return ImageManifest(
        digest=digest,
        media_type=media_type or OCI_MANIFEST,
        raw=raw,
        config=Descriptor.from_json(doc.get("config"), "config"),
        layers=tuple(Descriptor.from_json(layer, "layer") for layer in layers),
    )


def choose_platform(index: dict[str, Any], wanted: Platform, name: str) -> Descriptor:
    """The index entry for ``wanted``: exact variant first, then an entry without variant."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ImageError(f"the index of {name} has no manifest list")
    ranked: list[tuple[int, Descriptor]] = []
    seen: list[str] = []
    for entry in entries:
        plat = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(plat, dict):
            continue
        seen.append(
            str(
                Platform(
                    str(plat.get("os", "")), str(plat.get("architecture", "")), str(plat.get("variant", ""))
                )
            )
        )
        if plat.get("os") != wanted.os or plat.get("architecture") != wanted.architecture:
            continue
        variant = str(plat.get("variant", ""))
        rank = 0 if variant == wanted.variant else 1 if not variant or not wanted.variant else 9
        if rank < 9:
            ranked.append((rank, Descriptor.from_json(entry, "platform manifest")))
    if not ranked:
        available = ", ".join(sorted(set(seen))) or "none"
        raise ImageError(
            f"{name} has no image for {wanted} (available: {available})",
            hint="pass a platform the image provides",
        )
    ranked.sort(key=lambda item: item[0])
    return ranked[0][1]


def _raise_for_status(response: httpx.Response, ref: Reference, what: str) -> None:
    if response.status_code < 300:
        return
    if response.is_stream_consumed is False:
        response.read()
    code, message = _error_body(response)
    status = response.status_code
    if status == 401:
        error = RegistryError(
            f"{ref.registry} needs authentication for {ref.repository}",
            status=status,
            code=code or "UNAUTHORIZED",
        )
        error.hint = f"log in first: composer login {ref.registry} -u USER"
        raise error
    if status == 404:
        raise RegistryError(f"{what} of {ref} not found on {ref.registry}", status=status, code=code)
    if status == 403:
        raise RegistryError(f"{ref.registry} denied access to {ref.repository}", status=status, code=code)
    detail = f": {message}" if message else ""
    raise RegistryError(f"{ref.registry} answered {status} for {what}{detail}", status=status, code=code)


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return str(first.get("code")), str(first.get("message", ""))
    except (ValueError, AttributeError, IndexError, TypeError):
        return None, ""
