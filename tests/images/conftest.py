"""Fixtures for the image tests: registries on loopback, images built from busybox, a fresh store.

Two registries run for the whole session (one anonymous, one behind htpasswd Basic
auth), each stopped by its PID at the end.  Credentials files are redirected into
the test's temporary folder so the user's own ``~/.docker/config.json`` is never
read or written.  After each test the leak check asserts that no mount and no
layer unpacker process of ours is left under the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from composer.images.store import ImageStore
from tests.support.images import tar_tree
from tests.support.registry import Registry, start_registry

USER, PASSWORD = "alice", "wonderland"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("auth-registry"), username=USER, password=PASSWORD)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def busybox_layer(busybox_rootfs: Path) -> bytes:
    """The busybox rootfs as one uncompressed, deterministic tar layer."""
    return tar_tree(busybox_rootfs)


@pytest.fixture(autouse=True)
def private_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    auth = tmp_path / "auth.json"
    monkeypatch.setenv("COMPOSER_AUTH_FILE", str(auth))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("COMPOSER_INSECURE_REGISTRIES", raising=False)
    return auth


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "store")


def _our_mounts(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(prefix)]


def _unpackers_under(prefix: str) -> list[int]:
    """PIDs of layer unpackers working on a folder under ``prefix`` (found by their argv)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"kernel/unpack_child.py") for arg in argv) and any(
            arg.startswith(prefix.encode()) for arg in argv
        ):
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_leaks(tmp_path: Path) -> Iterator[None]:
    """No mount and no unpacker process of the test may outlive it."""
    yield
    assert _our_mounts(str(tmp_path)) == []
    assert _unpackers_under(str(tmp_path)) == []
