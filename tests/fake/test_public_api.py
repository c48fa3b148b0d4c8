"""The library use that ``composer/__init__.py`` documents works as written (on the fake host)."""

from __future__ import annotations

from pathlib import Path

import composer
from composer.engine.hosts.fake import FakeHost
from tests.fake.test_plans import SHOP
from tests.support.projects import write_project


def test_the_documented_library_calls(tmp_path: Path, busybox_rootfs: Path) -> None:
    compose_file = write_project(tmp_path / "shop", SHOP, busybox_rootfs)
    roots = composer.Roots(state=tmp_path / "state", images=tmp_path / "images")
    host = FakeHost()

    project = composer.load_project(files=[compose_file])  # nothing else is required
    assert project.name == "shop"
    result = composer.up(project, composer.UpOptions(), roots=roots, host=host)
    assert "shop-web-1" in result.plan.render()
    assert set(host.processes) >= {"shop-db-1", "shop-web-1"}

    down = composer.down(project.name, composer.DownOptions(), roots=roots, host=host)
    assert down.leftovers == [] and host.leftovers() == []


def test_the_public_names_are_all_importable() -> None:
    for name in composer.__all__:
        assert getattr(composer, name) is not None
