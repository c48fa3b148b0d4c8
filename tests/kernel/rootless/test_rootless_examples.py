"""The examples, as a normal user types them: the same files, the same verbs, no root.

Each example folder is copied next to a busybox rootfs owned by the user (as
``examples/rootfs/build.sh`` run by that user lays it out) and brought up under
an ``rl-`` project name.  The CI stack's published port is moved off 18080 so
that a root run of the same example at the same time cannot collide with it.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.lab import ps_rows
from tests.support.rootless import RootlessUser, tun_usable

pytestmark = [pytest.mark.kernel, pytest.mark.e2e]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def user_example(rl: RootlessUser, base: Path, name: str, rootfs: Path, *, root_rootfs: bool = False) -> Path:
    """The example, owned by the user; its rootfs too unless ``root_rootfs`` (as install.sh builds it)."""
    target = base / "examples"
    shutil.copytree(EXAMPLES / name, target / name)
    subprocess.run(["chown", "-R", f"{rl.uid}:{rl.gid}", str(target)], check=True)
    shutil.copytree(rootfs, target / "rootfs" / "busybox", symlinks=True)
    if not root_rootfs:
        subprocess.run(["chown", "-R", f"{rl.uid}:{rl.gid}", str(target / "rootfs")], check=True)
    return target / name


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout


def running(rl: RootlessUser, folder: Path, project: str) -> list[dict[str, str]]:
    rows = ps_rows(ok(rl.composer(folder, "-p", project, "ps", "--format", "json")))
    return [row for row in rows if row["State"] == "running"]


def test_ci_stack_healthy_and_serving_on_loopback(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    if not tun_usable(rl):
        pytest.skip("pasta needs /dev/net/tun readable and writable by the user (Debian's default 0666)")
    folder = user_example(rl, rl_dir, "ci-stack", busybox_rootfs)
    compose = folder / "compose.yaml"
    compose.write_text(compose.read_text().replace("127.0.0.1:18080:8080", "127.0.0.1:18580:8080"))
    try:
        up = rl.composer(folder, "-p", "rl-ci-stack", "up", "-d", "--wait", "--wait-timeout", "60")
        assert up.returncode == 0, up.stderr
        assert "cannot be applied" in up.stderr  # its memory/pids/cpus limits, said once
        with urllib.request.urlopen("http://127.0.0.1:18580/", timeout=5) as answer:
            assert answer.read() == b"hello from composer\n"
        assert {row["Service"] for row in running(rl, folder, "rl-ci-stack")} == {"db", "web"}
        ok(rl.composer(folder, "-p", "rl-ci-stack", "down", "-t", "2"))
    finally:
        rl.composer(folder, "-p", "rl-ci-stack", "down", "-t", "1")


def test_three_routers_route_end_to_end(rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path) -> None:
    folder = user_example(rl, rl_dir, "three-routers", busybox_rootfs)
    try:
        ok(rl.composer(folder, "-p", "rl-three-routers", "up", "-d"))
        ping = ["exec", "-T", "r1", "ping", "-c", "1", "-W", "2", "10.0.23.2"]
        assert "1 packets received" in ok(rl.composer(folder, "-p", "rl-three-routers", *ping))
        ok(rl.composer(folder, "-p", "rl-three-routers", "down", "-t", "1"))
    finally:
        rl.composer(folder, "-p", "rl-three-routers", "down", "-t", "1")


def test_ring_of_twenty_routes_around(rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path) -> None:
    folder = user_example(rl, rl_dir, "ring20", busybox_rootfs)
    try:
        ok(rl.composer(folder, "-p", "rl-ring20", "up", "-d"))
        ping = ["exec", "-T", "r01", "ping", "-c", "1", "-W", "3", "10.0.10.2"]
        assert "1 packets received" in ok(rl.composer(folder, "-p", "rl-ring20", *ping))
        assert len(running(rl, folder, "rl-ring20")) == 20
        ok(rl.composer(folder, "-p", "rl-ring20", "down", "-t", "1"))
    finally:
        rl.composer(folder, "-p", "rl-ring20", "down", "-t", "1")


def test_a_rootfs_built_by_root_is_copied_once_with_root_as_owner(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    folder = user_example(rl, rl_dir, "three-routers", busybox_rootfs, root_rootfs=True)
    images = folder.parent / "images"  # the user's: a copy of the root-owned folder lands here
    try:
        ok(rl.composer(folder, "-p", "rl-root-rootfs", "up", "-d", COMPOSER_IMAGE_ROOT=str(images)))
        owner = ok(
            rl.composer(
                folder, "-p", "rl-root-rootfs", "exec", "-T", "r1", "stat", "-c", "%u", "/bin/busybox"
            )
        )
        assert owner.strip() == "0"
        copies = list((images / "rootfs").glob("folder-*"))
        assert len(copies) == 1 and copies[0].stat().st_uid == rl.uid  # the user's root, i.e. the user
        ok(rl.composer(folder, "-p", "rl-root-rootfs", "down", "-t", "1"))
        ok(rl.composer(folder, "unshare", "rm", "-rf", str(images)))
        assert not images.exists()
    finally:
        rl.composer(folder, "-p", "rl-root-rootfs", "down", "-t", "1")
