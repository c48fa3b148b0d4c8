"""Fixtures of the build tests: a store, a context folder with busybox, a registry with busybox.

After each test the leak check asserts that the build left nothing behind: no
mount under the test's folder, no cgroup of the builder's containers, nothing
in the store's ``tmp/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from composer.images.store import ImageStore
from tests.support.images import Pusher, build_image, tar_tree
from tests.support.lab import lab
from tests.support.registry import Registry, start_registry

__all__ = ["lab"]


@pytest.fixture(autouse=True)
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "store")


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "ctx"
    folder.mkdir()
    shutil.copy2("/bin/busybox", folder / "busybox")
    return folder


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("bd-registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def busybox_ref(registry: Registry, busybox_rootfs: Path) -> str:
    """The busybox image pushed to the test registry, as a reference."""
    image = build_image([tar_tree(busybox_rootfs)], {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin:/usr/bin"]})
    with Pusher(registry.url) as pusher:
        for blob in image.blobs.values():
            pusher.push_blob("bd/busybox", blob)
        pusher.push_manifest("bd/busybox", "1", image.manifest, image.media_type)
    return f"{registry.host}/bd/busybox:1"


def _mounts_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(prefix)]


def _builder_cgroups() -> list[str]:
    found: list[str] = []
    prefix = f"build-{os.getpid()}-"
    for base in Path("/sys/fs/cgroup").iterdir():
        for parent in (base / "composer", *base.glob("*/composer")):
            try:  # other projects' cgroups come and go meanwhile
                found += [str(p) for p in parent.iterdir() if p.name.startswith(prefix)]
            except (FileNotFoundError, NotADirectoryError):
                continue
    return found


@pytest.fixture(autouse=True)
def no_leaks(tmp_path: Path) -> Iterator[None]:
    yield
    assert _mounts_under(str(tmp_path)) == []
    assert _builder_cgroups() == []
    tmp = tmp_path / "store" / "tmp"
    assert not tmp.is_dir() or sorted(os.listdir(tmp)) == []
