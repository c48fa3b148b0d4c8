"""A no-op `up` from the stored desired state: used only when nothing it came from changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import composer as api
from composer.engine.fastpath import UpInputs
from composer.engine.hosts.fake import FakeHost
from composer.model.codec import desired_from_json, desired_to_json
from tests.fake.test_plans import SHOP
from tests.support.projects import load, write_project


@pytest.fixture
def setup(tmp_path: Path, busybox_rootfs: Path) -> tuple[Path, api.Roots, FakeHost, UpInputs]:
    project = write_project(tmp_path / "shop", SHOP.replace('"1d"', '"${NAP:-1d}"', 1), busybox_rootfs)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    inputs = UpInputs(files=(project,), project_name=None, project_directory=None, env_files=(), profiles=())
    return project, roots, FakeHost(), inputs


def _up(project: Path, roots: api.Roots, host: FakeHost, inputs: UpInputs) -> api.UpResult:
    return api.up(load(project), api.UpOptions(), roots=roots, host=host, inputs=inputs)


def test_the_desired_state_survives_json(setup: tuple[Path, api.Roots, FakeHost, UpInputs]) -> None:
    project, roots, host, inputs = setup
    desired = _up(project, roots, host, inputs).desired
    assert desired_from_json(json.loads(json.dumps(desired_to_json(desired)))) == desired


def test_an_unchanged_project_is_not_loaded_again(setup: tuple[Path, api.Roots, FakeHost, UpInputs]) -> None:
    project, roots, host, inputs = setup
    _up(project, roots, host, inputs)
    calls = len(host.calls)
    cached = api.up_cached(inputs, api.UpOptions(), roots=roots, host=host)
    assert cached is not None and not cached.plan
    assert len(host.calls) == calls


def test_an_edit_a_variable_or_a_dead_container_goes_the_full_way(
    setup: tuple[Path, api.Roots, FakeHost, UpInputs], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, roots, host, inputs = setup
    _up(project, roots, host, inputs)
    monkeypatch.setenv("NAP", "2d")  # named by the file: part of the fingerprint
    assert api.up_cached(inputs, api.UpOptions(), roots=roots, host=host) is None
    monkeypatch.delenv("NAP")
    monkeypatch.setenv("UNRELATED", "x")
    assert api.up_cached(inputs, api.UpOptions(), roots=roots, host=host) is not None
    host.processes.pop("shop-web-1")  # killed from outside: there is something to do
    assert api.up_cached(inputs, api.UpOptions(), roots=roots, host=host) is None
    _up(project, roots, host, inputs)
    project.write_text(project.read_text() + "\n# an edit\n")
    assert api.up_cached(inputs, api.UpOptions(), roots=roots, host=host) is None


def test_options_that_change_the_desired_state_skip_the_cache(
    setup: tuple[Path, api.Roots, FakeHost, UpInputs],
) -> None:
    project, roots, host, inputs = setup
    _up(project, roots, host, inputs)
    for options in (api.UpOptions(scale={"worker": 2}), api.UpOptions(services=("db",)),
                    api.UpOptions(force_recreate=True), api.UpOptions(dry_run=True)):  # fmt: skip
        assert api.up_cached(inputs, options, roots=roots, host=host) is None


def test_images_and_env_files_make_a_project_ineligible(tmp_path: Path, busybox_rootfs: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "app.env").write_text("A=1\n")
    text = f"name: envy\nservices:\n  a: {{rootfs: {busybox_rootfs}, command: [sleep, '1'], env_file: app.env}}\n"
    project = write_project(tmp_path / "p", text)
    roots = api.Roots(state=tmp_path / "state", images=tmp_path / "images")
    inputs = UpInputs(files=(project,), project_name=None, project_directory=None, env_files=(), profiles=())
    host = FakeHost()
    api.up(load(project), api.UpOptions(), roots=roots, host=host, inputs=inputs)
    assert api.up_cached(inputs, api.UpOptions(), roots=roots, host=host) is None


def test_down_forgets_the_stored_state(setup: tuple[Path, api.Roots, FakeHost, UpInputs]) -> None:
    project, roots, host, inputs = setup
    _up(project, roots, host, inputs)
    api.down("shop", api.DownOptions(), roots=roots, host=host)
    assert api.up_cached(inputs, api.UpOptions(), roots=roots, host=host) is None
    assert not (roots.state / "upcache").exists()
