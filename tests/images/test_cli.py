"""The image verbs through the installed ``composer`` command, against a loopback registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.images.conftest import PASSWORD, USER
from tests.support.images import Entry, Pusher, build_image, tar_entries
from tests.support.registry import Registry

pytestmark = [pytest.mark.kernel, pytest.mark.registry, pytest.mark.e2e]

COMPOSER = [sys.executable, "-m", "composer.cli.main"]


def _run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMPOSER, *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COMPOSER_IMAGE_ROOT": str(tmp_path / "store"),
        "COMPOSER_AUTH_FILE": str(tmp_path / "auth.json"),
    }


def test_pull_images_rmi_prune(registry: Registry, tmp_path: Path, env: dict[str, str]) -> None:
    image = build_image([tar_entries([Entry("hello", b"cli")])], {"Cmd": ["cat", "/hello"]})
    with Pusher(registry.url) as pusher:
        pusher.push_image("t/cli", "1", image)
    (tmp_path / "rootfs").mkdir()
    project = tmp_path / "compose.yaml"
    project.write_text(
        "services:\n"
        f"  web:\n    image: {registry.host}/t/cli:1\n"
        f"  again:\n    image: {registry.host}/t/cli:1\n"
        "  local:\n    rootfs: ./rootfs\n"
    )
    pulled = _run(["-f", str(project), "pull", "--progress", "plain"], env)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stderr.count("pulling (1 layers)") == 1  # one image for two services, none for rootfs
    listed = json.loads(_run(["images", "--format", "json"], env).stdout)
    assert [s["image_id"] for s in listed] == [image.config_digest]
    table = _run(["images"], env).stdout
    assert f"{registry.host}/t/cli" in table and image.config_digest[7:19] in table
    again = _run(["-f", str(project), "pull", "--policy", "missing", "-q"], env)
    assert again.returncode == 0 and again.stderr == ""
    removed = _run(["rmi", f"{registry.host}/t/cli:1"], env)
    assert removed.returncode == 0, removed.stderr
    assert f"deleted: {image.config_digest}" in removed.stdout
    assert json.loads(_run(["image", "ls", "--format", "json"], env).stdout) == []
    assert "reclaimed" in _run(["image", "prune", "-a"], env).stdout


def test_rmi_unknown_is_a_clear_error(env: dict[str, str]) -> None:
    done = _run(["rmi", "nothing-here:1"], env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: no image nothing-here:1 in the store")


def test_login_checks_credentials(auth_registry: Registry, tmp_path: Path, env: dict[str, str]) -> None:
    bad = _run(["login", auth_registry.host, "-u", USER, "--password-stdin"], env, stdin="nope\n")
    assert bad.returncode == 1 and "refused the credentials" in bad.stderr
    assert not (tmp_path / "auth.json").exists()
    good = _run(["login", auth_registry.host, "-u", USER, "--password-stdin"], env, stdin=PASSWORD + "\n")
    assert good.returncode == 0, good.stderr
    assert auth_registry.host in json.loads((tmp_path / "auth.json").read_text())["auths"]
    assert "Removed" in _run(["logout", auth_registry.host], env).stdout
    assert "Not logged in" in _run(["logout", auth_registry.host], env).stdout
