"""Redirects and the Basic/Bearer handshakes, against a front server before the real registry.

Blob redirects to another origin never carry the registry's Authorization header;
Bearer tokens are fetched once per scope from the challenge's realm.

The real registry's filesystem storage does not redirect, so a small front server
(a real HTTP server on loopback) stands before it: it demands Basic auth, relays
manifests from the registry, and answers blob reads with a 307 to a "storage"
server on another port, which records the headers it receives.  In Bearer mode it
is also the token server (``/token``), as a registry's auth service would be.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from composer.images.auth import Credentials, save_credentials
from composer.images.store import ImageStore
from tests.support.images import Entry, Pusher, build_image, tar_entries
from tests.support.registry import Registry

pytestmark = [pytest.mark.kernel, pytest.mark.registry]


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer
    upstream = ""
    storage = ""
    seen: list[tuple[str, str | None]]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Front(_Handler):
    """Basic auth (``mode = "basic"``) or Bearer tokens from its own ``/token`` endpoint."""

    mode = "basic"
    token_requests: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        if self.path.startswith("/token"):
            self.token_requests.append((self.path, self.headers.get("Authorization")))
            self._send(200, json.dumps({"token": "tok-123", "expires_in": 300}).encode())
            return
        self.seen.append((self.path, self.headers.get("Authorization")))
        if not self._authorized():
            self._send(401, headers={"WWW-Authenticate": self._challenge()})
        elif "/blobs/" in self.path:
            self._send(307, headers={"Location": f"{self.storage}{self.path}"})
        else:
            got = httpx.get(self.upstream + self.path, headers={"Accept": self.headers.get("Accept", "")})
            self._send(got.status_code, got.content, {"Content-Type": got.headers.get("Content-Type", "")})

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        return header == "Bearer tok-123" if self.mode == "bearer" else header.startswith("Basic ")

    def _challenge(self) -> str:
        if self.mode == "basic":
            return 'Basic realm="front"'
        realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        return f'Bearer realm="{realm}",service="front",scope="repository:t/redirect:pull"'


class Storage(_Handler):
    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        got = httpx.get(self.upstream + self.path, follow_redirects=True)
        self._send(got.status_code, got.content)


def _serve(handler: type[_Handler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


Seen = list[tuple[str, str | None]]


@pytest.fixture(params=["basic", "bearer"])
def front(registry: Registry, request: pytest.FixtureRequest) -> Iterator[tuple[str, Seen, Seen, Seen]]:
    front_seen: Seen = []
    token_requests: Seen = []
    storage_seen: Seen = []
    storage_cls = type("S", (Storage,), {"upstream": registry.url, "seen": storage_seen})
    storage = _serve(storage_cls)
    storage_url = f"http://localhost:{storage.server_address[1]}"
    attrs = {
        "upstream": registry.url,
        "storage": storage_url,
        "seen": front_seen,
        "mode": request.param,
        "token_requests": token_requests,
    }
    front_cls = type("F", (Front,), attrs)
    server = _serve(front_cls)
    try:
        yield f"127.0.0.1:{server.server_address[1]}", front_seen, storage_seen, token_requests
    finally:
        server.shutdown()
        storage.shutdown()
        server.server_close()
        storage.server_close()


def test_redirected_blobs_get_no_authorization(
    registry: Registry,
    front: tuple[str, Seen, Seen, Seen],
    tmp_path: Any,
) -> None:
    host, front_seen, storage_seen, token_requests = front
    image = build_image([tar_entries([Entry("via-redirect", b"r")])])
    with Pusher(registry.url) as pusher:
        pusher.push_image("t/redirect", "1", image)
    save_credentials(host, Credentials("user", "secret"))
    resolved = ImageStore(tmp_path / "store").ensure(f"{host}/t/redirect:1")
    assert (resolved.layer_dirs[0] / "via-redirect").read_bytes() == b"r"
    fetched = {path.rsplit("/", 1)[1] for path, _ in storage_seen}
    assert fetched == {image.config_digest, *image.layer_digests()}
    assert all(auth is None for _, auth in storage_seen)
    blob_auth = {auth for path, auth in front_seen if "/blobs/" in path and auth}
    if token_requests:  # bearer: one token for the scope, asked with the Basic credentials
        assert len(token_requests) == 1
        path, auth = token_requests[0]
        assert "scope=repository%3At%2Fredirect%3Apull" in path and "service=front" in path
        assert auth == Credentials("user", "secret").basic_header()
        assert blob_auth == {"Bearer tok-123"}
    else:
        assert blob_auth == {Credentials("user", "secret").basic_header()}
