"""Shared fixtures: a busybox rootfs built once per session, and the root check for kernel tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rootfs import make_busybox_rootfs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: creates namespaces, cgroups, mounts and interfaces")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A read-only-by-convention busybox rootfs shared by the session's tests."""
    root = make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")
    yield root
