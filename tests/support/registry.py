"""A real distribution registry (Debian's ``docker-registry``) on 127.0.0.1, for tests and benchmarks.

Each instance gets a free port, its own config and storage folder, optionally an
htpasswd file for Basic auth (bcrypt hashes, the only kind the registry accepts,
made with the C library's ``crypt``), and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REGISTRY_BIN = Path("/usr/bin/docker-registry")

CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: composer-tests
{auth}"""

AUTH = """\
auth:
  htpasswd:
    realm: composer-test
    path: {htpasswd}
"""


def bcrypt_hash(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # the registry only accepts bcrypt; glibc's libxcrypt makes it

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT"
    storage: Path
    process: subprocess.Popen[bytes]
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username and self.password else None

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob on disk (to corrupt it in tests)."""
        hexa = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexa[:2] / hexa / "data"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_registry(workdir: Path, *, username: str | None = None, password: str | None = None) -> Registry:
    if not REGISTRY_BIN.exists():
        raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    auth = ""
    if username and password:
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(f"{username}:{bcrypt_hash(password)}\n")
        auth = AUTH.format(htpasswd=htpasswd)
    port = free_port()
    config = workdir / "config.yml"
    config.write_text(CONFIG.format(storage=storage, port=port, auth=auth))
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen([str(REGISTRY_BIN), "serve", str(config)], stdout=log, stderr=log)
    log.close()
    registry = Registry(f"127.0.0.1:{port}", storage, process, username, password)
    try:
        _wait_ready(registry)
    except BaseException:
        registry.stop()
        raise
    return registry


def _wait_ready(registry: Registry, deadline_s: float = 15.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if registry.process.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {registry.process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{registry.url}/v2/", timeout=1).status_code in (200, 401):
                return
        time.sleep(0.05)
    raise RuntimeError("docker-registry did not start in time")


@contextlib.contextmanager
def running_registry(
    workdir: Path, *, username: str | None = None, password: str | None = None
) -> Iterator[Registry]:
    registry = start_registry(workdir, username=username, password=password)
    try:
        yield registry
    finally:
        registry.stop()
