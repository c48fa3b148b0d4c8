"""Layer folders: the merged view of a stack (no mount), and deterministic packing."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

from composer.images.builder.layers import StackView, pack_layer


def make_stack(tmp_path: Path) -> tuple[Path, Path]:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "usr" / "bin").mkdir(parents=True)
    (lower / "usr" / "bin" / "tool").write_text("v1")
    os.symlink("usr/bin", lower / "bin")
    (lower / "etc").mkdir()
    (lower / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (upper / "usr" / "bin").mkdir(parents=True)
    (upper / "usr" / "bin" / "tool").write_text("v2")
    (upper / "usr" / "bin" / "new").write_text("n")
    return lower, upper


def test_stack_view_reads_the_topmost_layer_through_symlinks(tmp_path: Path) -> None:
    lower, upper = make_stack(tmp_path)
    view = StackView([upper, lower])
    assert view.resolve("/bin/tool") == "/usr/bin/tool"
    assert view.read_file("/bin/tool") == b"v2"
    assert view.listdir("/usr/bin") == ["new", "tool"]
    assert view.read_file("/etc/passwd") is not None
    assert view.lookup("/nope") is None
    os.symlink("/../../../etc", upper / "escape")
    assert view.resolve("/escape/passwd") == "/etc/passwd"  # clamped at the root, as in a chroot


def test_packing_is_deterministic_and_digests_are_right(tmp_path: Path) -> None:
    _, upper = make_stack(tmp_path)
    first = pack_layer(upper, tmp_path / "one.tar.gz", epoch=0)
    os.utime(upper / "usr" / "bin" / "new", (12345, 12345))
    second = pack_layer(upper, tmp_path / "two.tar.gz", epoch=0)  # mtimes clamped to the epoch
    assert first == second and not first.empty
    blob = (tmp_path / "one.tar.gz").read_bytes()
    assert first.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    raw = gzip.decompress(blob)
    assert first.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = tar.getnames()
    assert names == ["usr", "usr/bin", "usr/bin/new", "usr/bin/tool"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert pack_layer(empty, tmp_path / "e.tar.gz").empty
