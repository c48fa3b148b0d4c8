"""``composer up`` runs a service from a pulled image with its Entrypoint, Cmd, Env and WorkingDir.

The image is built offline from busybox, pushed to a registry on loopback, and the
project only names it: ``up`` must pull it and start it as the image config says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import Entry, Pusher, build_image, tar_entries, tar_tree
from tests.support.registry import Registry, start_registry

pytestmark = [pytest.mark.e2e, pytest.mark.kernel, pytest.mark.registry]

COMPOSER = [sys.executable, "-m", "composer.cli.main"]
CONFIG = {
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ['echo "$GREETING from $(pwd)"; exec sleep 300'],
    "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello-from-image"],
    "WorkingDir": "/srv/app",
}


def _composer(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMPOSER, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def _has_up(env: dict[str, str]) -> bool:
    commands = _composer(["--help"], env).stdout
    return any(line.split()[:1] == ["up"] for line in commands.splitlines())


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


def test_up_runs_an_image_with_its_config(registry: Registry, busybox_rootfs: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COMPOSER_IMAGE_ROOT": str(tmp_path / "images"),
        "COMPOSER_AUTH_FILE": str(tmp_path / "auth.json"),
    }
    if not _has_up(env):
        pytest.skip("`composer up` is not available in this tree yet")
    app_layer = tar_entries([Entry("srv", dir=True, mode=0o755), Entry("srv/app", dir=True, mode=0o755)])
    image = build_image([tar_tree(busybox_rootfs), app_layer], CONFIG)
    with Pusher(registry.url) as pusher:
        pusher.push_image("e2e/app", "1", image)
    project = tmp_path / "compose.yaml"
    # network_mode none: the container gets a private netns with only loopback, so this test,
    # which must reach the registry on the host's loopback, changes nothing in the host's network.
    project.write_text(f"services:\n  app:\n    image: {registry.host}/e2e/app:1\n    network_mode: none\n")
    base = ["-f", str(project), "-p", f"imgup{os.getpid()}", "--root", str(tmp_path / "state")]
    try:
        started = _composer([*base, "up", "-d"], env)
        assert started.returncode == 0, started.stderr
        logs = ""
        deadline = time.monotonic() + 20
        while "hello-from-image" not in logs and time.monotonic() < deadline:
            logs = _composer([*base, "logs"], env).stdout
            time.sleep(0.2)
        assert "hello-from-image from /srv/app" in logs
    finally:
        stopped = _composer([*base, "down"], env)
    assert stopped.returncode == 0, stopped.stderr
