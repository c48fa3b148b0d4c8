"""Pulling from a real registry on loopback into a real store.

Images are built offline from busybox (deterministic) and pushed with the
distribution API; every test uses its own repository name.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from composer.errors import ImageError, RegistryError
from composer.images.auth import Credentials, save_credentials
from composer.images.config import ResolvedImage
from composer.images.progress import CollectingProgress
from composer.images.store import ImageStore
from tests.images.conftest import PASSWORD, USER
from tests.images.test_layers import overlay
from tests.support.images import BuiltImage, Entry, Pusher, build_image, tar_entries
from tests.support.registry import Registry

pytestmark = [pytest.mark.kernel, pytest.mark.registry]

CONFIG = {
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ["echo $GREETING from $(pwd)"],
    "Env": ["PATH=/bin:/usr/bin", "GREETING=hello"],
    "WorkingDir": "/srv",
    "User": "1000:1000",
    "ExposedPorts": {"80/tcp": {}},
    "Volumes": {"/data": {}},
    "StopSignal": "SIGQUIT",
    "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000, "Retries": 3},
}


def _push(registry: Registry, repo: str, image: BuiltImage, tag: str = "1") -> str:
    with Pusher(registry.url, auth=registry.auth()) as pusher:
        return pusher.push_image(repo, tag, image)


def _pull(
    store: ImageStore, ref: str, policy: str = "missing", platform: str | None = None
) -> tuple[ResolvedImage, CollectingProgress]:
    progress = CollectingProgress()
    image = store.ensure(ref, progress=progress, policy=policy, platform=platform)
    return image, progress


def _whiteout_image(busybox_layer: bytes) -> BuiltImage:
    top = tar_entries(
        [
            Entry("etc", dir=True, mode=0o755),
            Entry("etc/.wh.group"),
            Entry("etc/added", b"added\n"),
            Entry("var/www", dir=True, mode=0o755),
            Entry("var/www/.wh..wh..opq"),
            Entry("var/www/new.html", b"new\n"),
            Entry("srv", dir=True, mode=0o755),
        ]
    )
    return build_image([busybox_layer, top], CONFIG)


def test_two_layers_with_whiteout_and_opaque_dir(
    registry: Registry, store: ImageStore, busybox_layer: bytes, tmp_path: Path
) -> None:
    image = _whiteout_image(busybox_layer)
    _push(registry, "t/whiteout", image)
    resolved, progress = _pull(store, f"{registry.host}/t/whiteout:1")
    assert resolved.image_id == image.config_digest
    assert resolved.manifest_digest == image.digest
    config = resolved.config
    assert (config.entrypoint, config.cmd, config.working_dir, config.user) == (
        ["/bin/sh", "-c"],
        ["echo $GREETING from $(pwd)"],
        "/srv",
        "1000:1000",
    )
    assert config.env == ["PATH=/bin:/usr/bin", "GREETING=hello"]
    assert (config.exposed_ports, config.volumes, config.stop_signal) == (["80/tcp"], ["/data"], "SIGQUIT")
    assert config.healthcheck is not None
    assert config.healthcheck["Interval"] == 1_000_000_000
    layers = list(reversed(resolved.layer_dirs))
    with overlay(layers, tmp_path / "merged") as merged:
        assert not (merged / "etc/group").exists()
        assert (merged / "etc/passwd").exists()
        assert (merged / "etc/added").read_text() == "added\n"
        assert os.listdir(merged / "var/www") == ["new.html"]
        out = subprocess.run(
            ["chroot", str(merged), "/bin/sh", "-c", "echo ok"], capture_output=True, text=True
        )
        assert out.stdout == "ok\n"
    done = progress.done()[0]
    assert (done.layers_unpacked, done.downloaded_bytes) == (2, resolved.size)


def test_index_picks_the_host_platform(registry: Registry, store: ImageStore) -> None:
    images = {
        plat: build_image([tar_entries([Entry("arch", plat.encode())])], {"Cmd": [plat]}, architecture=arch)
        for plat, arch in (("linux/amd64", "amd64"), ("linux/arm64/v8", "arm64"))
    }
    with Pusher(registry.url) as pusher:
        pusher.push_index("t/multi", "1", images)
    from composer.images.registry import Platform

    host = str(Platform.host())
    resolved, _ = _pull(store, f"{registry.host}/t/multi:1")
    assert resolved.config.cmd == [host if host in images else "linux/amd64"]
    arm, _ = _pull(store, f"{registry.host}/t/multi:1", policy="always", platform="linux/arm64")
    assert arm.config.cmd == ["linux/arm64/v8"]
    assert (arm.layer_dirs[0] / "arch").read_bytes() == b"linux/arm64/v8"
    with pytest.raises(
        ImageError, match=r"no image for linux/s390x \(available: linux/amd64, linux/arm64/v8\)"
    ):
        store.ensure(f"{registry.host}/t/multi:1", policy="always", platform="linux/s390x")


def test_docker_media_types(registry: Registry, store: ImageStore, busybox_layer: bytes) -> None:
    arch = __import__("composer.images.registry", fromlist=["Platform"]).Platform.host()
    plat = str(arch)
    image = build_image([busybox_layer], {"Cmd": ["sh"]}, media="docker")
    with Pusher(registry.url) as pusher:
        pusher.push_index("t/docker", "1", {plat: image}, media="docker")
    resolved, _ = _pull(store, f"{registry.host}/t/docker:1")
    assert resolved.manifest_digest == image.digest
    assert (resolved.layer_dirs[0] / "bin/busybox").is_file()


def test_pull_by_digest(registry: Registry, store: ImageStore, busybox_layer: bytes) -> None:
    image = build_image([busybox_layer], {"Cmd": ["by-digest"]})
    digest = _push(registry, "t/digest", image, tag="unused")
    resolved, _ = _pull(store, f"{registry.host}/t/digest@{digest}")
    assert resolved.manifest_digest == digest
    assert store.lookup(f"{registry.host}/t/digest@{digest}") is not None
    missing = "sha256:" + "0" * 64
    with pytest.raises(RegistryError, match="not found") as caught:
        store.ensure(f"{registry.host}/t/digest@{missing}")
    assert caught.value.status == 404


def test_basic_auth(auth_registry: Registry, store: ImageStore) -> None:
    image = build_image([tar_entries([Entry("secret-layer", b"s")])])
    _push(auth_registry, "t/private", image)
    ref = f"{auth_registry.host}/t/private:1"
    with pytest.raises(RegistryError, match="needs authentication") as caught:
        store.ensure(ref)
    assert caught.value.status == 401
    save_credentials(auth_registry.host, Credentials(USER, "wrong"))
    with pytest.raises(RegistryError, match="needs authentication"):
        store.ensure(ref)
    save_credentials(auth_registry.host, Credentials(USER, PASSWORD))
    resolved, _ = _pull(store, ref)
    assert resolved.image_id == image.config_digest


def test_corrupted_blob_is_refused_and_nothing_kept(registry: Registry, store: ImageStore) -> None:
    image = build_image([tar_entries([Entry("payload", b"A" * 4096)])])
    _push(registry, "t/corrupt", image)
    blob = registry.blob_file(image.layer_digests()[0])
    data = bytearray(blob.read_bytes())
    data[-20] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="does not match its digest"):
        store.ensure(f"{registry.host}/t/corrupt:1")
    assert list((store.root / "layers/sha256").iterdir()) == []
    assert list((store.root / "images").iterdir()) == []
    assert not (store.root / "blobs/sha256" / image.layer_digests()[0].removeprefix("sha256:")).exists()
    assert [p for p in (store.root / "tmp").iterdir()] == []
    assert store.lookup(f"{registry.host}/t/corrupt:1") is None


def test_shared_layer_stored_once_and_second_pull_is_free(
    registry: Registry, store: ImageStore, busybox_layer: bytes
) -> None:
    base = build_image([busybox_layer], {"Cmd": ["a"]})
    extra = tar_entries([Entry("app/run", b"#!/bin/sh\necho app\n", mode=0o755)])
    app = build_image([busybox_layer, extra], {"Cmd": ["b"]})
    _push(registry, "t/base", base)
    _push(registry, "t/app", app)
    first, _ = _pull(store, f"{registry.host}/t/base:1")
    second, progress = _pull(store, f"{registry.host}/t/app:1")
    assert second.layer_dirs[0] == first.layer_dirs[0]
    done = progress.done()[0]
    assert done.layers_unpacked == 1
    assert done.downloaded_bytes == len(app.blobs[app.layer_digests()[1]])
    assert len(list((store.root / "layers/sha256").iterdir())) == 2
    again, progress = _pull(store, f"{registry.host}/t/app:1", policy="always")
    assert (progress.done()[0].downloaded_bytes, progress.done()[0].layers_unpacked) == (0, 0)
    assert again == second


def test_policy_never_and_missing(registry: Registry, store: ImageStore) -> None:
    image = build_image([tar_entries([Entry("x", b"x")])])
    _push(registry, "t/policy", image)
    ref = f"{registry.host}/t/policy:1"
    with pytest.raises(ImageError, match="pull_policy is never"):
        store.ensure(ref, policy="never")
    pulled, _ = _pull(store, ref)
    local, progress = _pull(store, ref, policy="never")
    assert local == pulled and progress.events == []
    _, progress = _pull(store, ref, policy="missing")
    assert progress.events == []


def test_rmi_and_prune_honour_pins(registry: Registry, store: ImageStore, busybox_layer: bytes) -> None:
    keep = build_image([busybox_layer], {"Cmd": ["keep"]})
    drop = build_image([busybox_layer, tar_entries([Entry("only-in-drop", b"d")])], {"Cmd": ["drop"]})
    _push(registry, "t/keep", keep)
    _push(registry, "t/drop", drop)
    kept, _ = _pull(store, f"{registry.host}/t/keep:1")
    dropped, _ = _pull(store, f"{registry.host}/t/drop:1")
    store.pin("proj", kept.image_id)
    with pytest.raises(ImageError, match="used by project proj"):
        store.remove(f"{registry.host}/t/keep:1")
    freed = store.prune(all_unused=True)
    assert freed > 0
    assert [s.references[0] for s in store.list_images()] == [f"{registry.host}/t/keep:1"]
    assert store.lookup(f"{registry.host}/t/keep:1") == kept
    assert not dropped.layer_dirs[1].exists()
    assert kept.layer_dirs[0].exists()
    store.unpin_project("proj")
    done = store.remove(kept.image_id[:19])  # an id prefix: "sha256:" and 12 hex digits
    assert done[-1] == f"deleted: {kept.image_id}"
    assert list((store.root / "layers/sha256").iterdir()) == []
    assert list((store.root / "blobs/sha256").iterdir()) == []


def test_resume_of_a_partial_download(registry: Registry, store: ImageStore) -> None:
    payload = os.urandom(300_000)
    image = build_image([tar_entries([Entry("big", payload)])])
    _push(registry, "t/resume", image)
    layer_digest = image.layer_digests()[0]
    layer_blob = image.blobs[layer_digest]
    half = len(layer_blob) // 2
    (store.root / "tmp" / f"{layer_digest.removeprefix('sha256:')}.partial").write_bytes(layer_blob[:half])
    resolved, progress = _pull(store, f"{registry.host}/t/resume:1")
    assert progress.done()[0].downloaded_bytes == len(layer_blob) - half
    assert (resolved.layer_dirs[0] / "big").read_bytes() == payload
