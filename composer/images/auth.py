"""Registry credentials and the distribution API's authentication handshake.

Credentials are looked up, first match wins, in composer's own file (written by
``composer login``: ``$COMPOSER_AUTH_FILE`` or ``$XDG_CONFIG_HOME/composer/auth.json``),
then ``$REGISTRY_AUTH_FILE`` (podman's variable), then Docker's
``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``).  All three use
Docker's format: ``{"auths": {"host": {"auth": base64("user:password")}}}``.
Credential helpers (``credsStore``) are not run.

The handshake (:class:`RegistryAuth`, an ``httpx.Auth``) is the one every registry
speaks: send the request anonymously or with a cached token; on ``401`` read the
``WWW-Authenticate`` challenge; for ``Basic`` resend with the credentials, for
``Bearer`` fetch a token from the realm for the challenge's scope (with Basic
credentials when we have them), cache it per (realm, service, scope) and resend.
Because it is an ``httpx.Auth`` flow, httpx drops the header by itself when a
redirect leaves the registry's origin.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from composer.errors import ImageError, RegistryError
from composer.images.reference import registry_key

_CHALLENGE_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


def composer_auth_file() -> Path:
    explicit = os.environ.get("COMPOSER_AUTH_FILE")
    if explicit:
        return Path(explicit)
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "composer" / "auth.json"


def auth_files() -> list[Path]:
    """The credential files in lookup order."""
    files = [composer_auth_file()]
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    docker_dir = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    files.append(Path(docker_dir) / "config.json")
    return files


def _read_auths(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ImageError(f"cannot read the credentials file {path}: {error}") from error
    auths = data.get("auths", {}) if isinstance(data, dict) else {}
    return auths if isinstance(auths, dict) else {}


def _decode_entry(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return Credentials(user, password)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def find_credentials(registry: str, files: list[Path] | None = None) -> Credentials | None:
    """Credentials for ``registry`` (a host, host:port, or a URL as Docker files them)."""
    wanted = registry_key(registry)
    for path in files if files is not None else auth_files():
        for key, entry in _read_auths(path).items():
            if registry_key(key) == wanted and (found := _decode_entry(entry)):
                return found
    return None


def save_credentials(registry: str, creds: Credentials, path: Path | None = None) -> Path:
    """Store credentials in composer's file (mode 0600, atomic replace)."""
    target = path or composer_auth_file()
    auths = _read_auths(target)
    auths[registry_key(registry)] = {
        "auth": base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    }
    _write_private_json(target, {"auths": auths})
    return target


def remove_credentials(registry: str, path: Path | None = None) -> bool:
    """Forget ``registry`` in composer's file; False when it was not there."""
    target = path or composer_auth_file()
    auths = _read_auths(target)
    wanted = registry_key(registry)
    kept = {key: value for key, value in auths.items() if registry_key(key) != wanted}
    if len(kept) == len(auths):
        return False
    _write_private_json(target, {"auths": kept})
    return True


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".auth-")
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp creates the file with mode 0600
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _CHALLENGE_PARAM_RE.finditer(rest)
    }
    return scheme.lower(), params


class TokenCache:
    """Bearer tokens per (realm, service, scope), shared by every request of a client."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def put(self, key: tuple[str, str, str], token: str, expires_in: float) -> None:
        # Expire a little early so a token never dies in the middle of a request.
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires_in - 10.0, 1.0))


class RegistryAuth(httpx.Auth):
    """The challenge/response flow for one repository of one registry."""

    requires_response_body = True

    def __init__(self, repository: str, credentials: Credentials | None, cache: TokenCache) -> None:
        self.repository = repository
        self.credentials = credentials
        self.cache = cache
        self._last_key: tuple[str, str, str] | None = None
        self._basic = False

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._authorize_from_cache(request)
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if self.credentials is None:
                return  # the caller turns the 401 into a clear "login needed" error
            self._basic = True
            request.headers["Authorization"] = self.credentials.basic_header()
            yield request
            return
        if scheme != "bearer" or "realm" not in params:
            return
        key = (params["realm"], params.get("service", ""), params.get("scope") or self._default_scope())
        token_response = yield self._token_request(key)
        token, expires_in = _read_token(token_response)
        self.cache.put(key, token, expires_in)
        self._last_key = key
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _authorize_from_cache(self, request: httpx.Request) -> None:
        if self._basic and self.credentials is not None:
            request.headers["Authorization"] = self.credentials.basic_header()
        elif self._last_key is not None and (token := self.cache.get(self._last_key)):
            request.headers["Authorization"] = f"Bearer {token}"

    def _default_scope(self) -> str:
        return f"repository:{self.repository}:pull" if self.repository else ""

    def _token_request(self, key: tuple[str, str, str]) -> httpx.Request:
        realm, service, scope = key
        params = {k: v for k, v in (("service", service), ("scope", scope)) if v}
        headers = {"Authorization": self.credentials.basic_header()} if self.credentials else {}
        return httpx.Request("GET", realm, params=params, headers=headers)


def _read_token(response: httpx.Response) -> tuple[str, float]:
    if response.status_code in (401, 403):
        raise RegistryError(
            f"the token server {response.request.url.host} refused the credentials",
            status=response.status_code,
            code="UNAUTHORIZED",
        )
    if response.status_code != 200:
        raise RegistryError(
            f"the token server {response.request.url.host} answered {response.status_code}",
            status=response.status_code,
        )
    try:
        body = response.json()
        token = body.get("token") or body.get("access_token")
    except ValueError as error:
        raise RegistryError("the token server sent a body that is not JSON") from error
    if not isinstance(token, str) or not token:
        raise RegistryError("the token server's answer has no token")
    return token, float(body.get("expires_in") or 60)
