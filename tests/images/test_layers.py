"""Applying layers: hostile tars stay inside the target, whiteouts become overlayfs whiteouts.

These run as root (the unpacker chroots) and mount overlayfs; each mount is
undone in the test and the conftest leak check verifies it.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from composer.errors import ImageError
from composer.kernel.unpack import apply_layer
from tests.support.images import Entry, compress, digest_of, tar_entries

pytestmark = pytest.mark.kernel


def _write_layer(path: Path, entries: list[Entry], how: str = "gzip") -> bytes:
    raw = tar_entries(entries)
    path.write_bytes(compress(raw, how))  # type: ignore[arg-type]
    return raw


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int, bytes]]:
    seen = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        for name in files:
            path = Path(folder, name)
            st = path.lstat()
            seen[str(path)] = (st.st_mode, st.st_ino, path.read_bytes() if path.is_file() else b"")
    return seen


@contextmanager
def overlay(lower_top_first: list[Path], target: Path) -> Iterator[Path]:
    target.mkdir()
    lowers = ":".join(str(p) for p in lower_top_first)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lowers}", str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_hostile_layer_cannot_touch_the_host(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    secret = host / "secret"
    secret.write_text("original\n")
    dest = tmp_path / "dest"
    before = _snapshot(tmp_path, dest)
    layer = tmp_path / "hostile.tar.gz"
    _write_layer(
        layer,
        [
            Entry("../../../escape-dotdot", b"x"),
            Entry(str(host / "escape-absolute"), b"x"),
            Entry("evil", symlink=str(host)),
            Entry("evil/escape-through-symlink", b"x"),
            Entry("to-secret", symlink=str(secret)),
            Entry("to-secret", b"replaced, not written through"),
            Entry("hard", hardlink=str(secret)),
            Entry("hard-dotdot", hardlink="../../../../" + str(secret)),
            Entry("mem", chardev=(1, 1)),
        ],
    )
    layer_snapshot = _snapshot(tmp_path, dest)
    stats = apply_layer(layer, dest)

    assert _snapshot(tmp_path, dest) == layer_snapshot  # the host side is unchanged
    assert set(before) <= set(layer_snapshot)
    assert secret.read_text() == "original\n"
    assert (dest / "escape-dotdot").read_bytes() == b"x"
    assert (dest / str(host).lstrip("/") / "escape-absolute").exists()
    assert (dest / str(host).lstrip("/") / "escape-through-symlink").exists()
    assert (dest / "to-secret").read_text() == "replaced, not written through"
    assert not (dest / "to-secret").is_symlink()
    assert not (dest / "hard").exists() and not (dest / "mem").exists()
    assert any("device node skipped" in s for s in stats.skipped)
    assert sum("hardlink" in s for s in stats.skipped) == 2


def test_ownership_setuid_links_and_devices_kept(tmp_path: Path) -> None:
    layer = tmp_path / "layer.tar"
    raw = _write_layer(
        layer,
        [
            Entry("bin", dir=True, mode=0o755),
            Entry("bin/su", b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0),
            Entry("home/app/file", b"mine", mode=0o640, uid=1000, gid=50),
            Entry("bin/su-again", hardlink="/bin/su"),
            Entry("etc/abs-link", symlink="/etc/passwd"),
            Entry("dev/null", chardev=(1, 3)),
            Entry("lib", symlink="usr/lib"),
            Entry("lib/x.so", b"so"),
        ],
        how="none",
    )
    stats = apply_layer(layer, tmp_path / "dest", privileged=True)
    dest = tmp_path / "dest"
    assert stats.diff_id == digest_of(raw)
    assert stat.S_IMODE((dest / "bin/su").stat().st_mode) == 0o4755
    st = (dest / "home/app/file").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 50, 0o640)
    assert (dest / "bin/su-again").stat().st_ino == (dest / "bin/su").stat().st_ino
    assert os.readlink(dest / "etc/abs-link") == "/etc/passwd"
    assert stat.S_ISCHR((dest / "dev/null").lstat().st_mode)
    assert os.major((dest / "dev/null").lstat().st_rdev) == 1
    assert os.readlink(dest / "lib") == "usr/lib"  # a dangling link parent is followed, not replaced
    assert (dest / "usr/lib/x.so").read_bytes() == b"so"


def test_zstd_layer(tmp_path: Path) -> None:
    layer = tmp_path / "layer.tar.zst"
    raw = _write_layer(layer, [Entry("hello", b"zstd works")], how="zstd")
    assert apply_layer(layer, tmp_path / "dest").diff_id == digest_of(raw)
    assert (tmp_path / "dest/hello").read_bytes() == b"zstd works"


def test_garbage_is_a_clear_error(tmp_path: Path) -> None:
    layer = tmp_path / "junk.tar.gz"
    layer.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    with pytest.raises(ImageError, match="cannot unpack the layer"):
        apply_layer(layer, tmp_path / "dest")


def _two_layers(tmp_path: Path) -> tuple[Path, Path]:
    bottom, top = tmp_path / "l1", tmp_path / "l2"
    (tmp_path / "b.tar.gz").write_bytes(b"")
    _write_layer(
        tmp_path / "b.tar.gz",
        [
            Entry("etc", dir=True, mode=0o755),
            Entry("etc/keep", b"kept"),
            Entry("etc/delete-me", b"gone soon"),
            Entry("opaque", dir=True, mode=0o755),
            Entry("opaque/old", b"hidden by the opaque marker"),
        ],
    )
    _write_layer(
        tmp_path / "t.tar.gz",
        [
            Entry("etc", dir=True, mode=0o755),
            Entry("etc/.wh.delete-me"),
            Entry("etc/added", b"new"),
            Entry("opaque", dir=True, mode=0o755),
            Entry("opaque/.wh..wh..opq"),
            Entry("opaque/new", b"only this"),
        ],
    )
    apply_layer(tmp_path / "b.tar.gz", bottom)
    apply_layer(tmp_path / "t.tar.gz", top)
    return bottom, top


def test_whiteouts_in_overlay_form_and_through_a_real_overlay_mount(tmp_path: Path) -> None:
    bottom, top = _two_layers(tmp_path)
    whiteout = (top / "etc/delete-me").lstat()
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == os.makedev(0, 0)
    assert os.getxattr(top / "opaque", "trusted.overlay.opaque") == b"y"
    with overlay([top, bottom], tmp_path / "merged") as merged:
        assert sorted(os.listdir(merged / "etc")) == ["added", "keep"]
        assert sorted(os.listdir(merged / "opaque")) == ["new"]


def test_plain_mode_applies_whiteouts_by_deleting(tmp_path: Path) -> None:
    _write_layer(
        tmp_path / "b.tar", [Entry("a/x", b"1"), Entry("a/y", b"2"), Entry("o/old", b"3")], how="none"
    )
    _write_layer(
        tmp_path / "t.tar", [Entry("a/.wh.x"), Entry("o/.wh..wh..opq"), Entry("o/new", b"4")], how="none"
    )
    dest = tmp_path / "rootfs"
    apply_layer(tmp_path / "b.tar", dest, overlay=False)
    apply_layer(tmp_path / "t.tar", dest, overlay=False)
    assert sorted(os.listdir(dest / "a")) == ["y"]
    assert sorted(os.listdir(dest / "o")) == ["new"]


def test_layer_metadata_xattrs_cannot_fake_overlay_markers(tmp_path: Path) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("d")
        info.type = tarfile.DIRTYPE
        info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.note": "ok"}
        tar.addfile(info)
    (tmp_path / "x.tar").write_bytes(buf.getvalue())
    apply_layer(tmp_path / "x.tar", tmp_path / "dest")
    assert "trusted.overlay.opaque" not in os.listxattr(tmp_path / "dest/d")
    assert os.getxattr(tmp_path / "dest/d", "user.note") == b"ok"
