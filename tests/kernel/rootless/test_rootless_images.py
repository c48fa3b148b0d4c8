"""Images without root: layers unpacked with their owners shifted into the user's subordinate ids.

A busybox image with a file of user 1000 is pushed to Debian's docker-registry
on loopback; the test user pulls it (``composer pull`` reaches loopback from the
host's network; ``up`` would reach other registries through pasta) and runs it.
Inside, the file is 1000's; on the host it is the subordinate id base+999; after
``down`` the user removes the whole image store with ``composer unshare``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import Entry, Pusher, build_image, tar_entries, tar_tree
from tests.support.registry import Registry, start_registry
from tests.support.rootless import RootlessUser

pytestmark = [pytest.mark.kernel, pytest.mark.registry]


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    registry = start_registry(tmp_path_factory.mktemp("rl-registry"))
    yield registry
    registry.stop()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout


def subordinate_base(user: RootlessUser) -> int:
    for line in Path("/etc/subuid").read_text().splitlines():
        name, start, _ = line.split(":")
        if name in (user.name, str(user.uid)):
            return int(start)
    pytest.skip(f"{user.name} has no line in /etc/subuid")


def test_pulled_layers_keep_their_owners_inside_and_go_with_unshare(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path, loopback_registry: Registry
) -> None:
    owned = [Entry("home/app", dir=True, mode=0o755, uid=1000, gid=1000),
             Entry("home/app/owned", b"app's file\n", mode=0o640, uid=1000, gid=1000)]  # fmt: skip
    image = build_image([tar_tree(busybox_rootfs), tar_entries(owned)], {"Cmd": ["sleep", "1000"]})
    with Pusher(loopback_registry.url) as pusher:
        pusher.push_image("rl/owned", "1", image)
    home = rl_dir / "user"
    home.mkdir()
    (home / "compose.yaml").write_text(
        f"name: rl-images\nservices:\n  a:\n    image: {loopback_registry.host}/rl/owned:1\n"
        "    init: true\n    network_mode: none\n"
    )
    subprocess.run(["chown", "-R", f"{rl.uid}:{rl.gid}", str(home)], check=True)
    images = home / "images"
    env = {"COMPOSER_IMAGE_ROOT": str(images)}
    try:
        ok(rl.composer(home, "pull", "-q", **env))
        ok(rl.composer(home, "up", "-d", **env))
        inside = ok(rl.composer(home, "exec", "-T", "a", "stat", "-c", "%u:%g %a", "/home/app/owned", **env))
        assert inside.strip() == "1000:1000 640"
        assert (
            ok(rl.composer(home, "exec", "-T", "-u", "1000", "a", "cat", "/home/app/owned", **env))
            == "app's file\n"
        )
        on_host = [p for p in images.rglob("owned") if p.is_file()]
        assert on_host and all(p.stat().st_uid == subordinate_base(rl) + 999 for p in on_host)
        ok(rl.composer(home, "down", "-t", "1", **env))
        assert (
            rl.run(["rm", "-rf", str(images)], home).returncode != 0
        )  # from outside: not the user's to remove
        ok(rl.composer(home, "unshare", "rm", "-rf", str(images), **env))
        assert not images.exists()
    finally:
        rl.composer(home, "down", "-t", "1", **env)
