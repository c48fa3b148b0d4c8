"""Applying tar layers safely: image layers and ``rootfs:`` tarballs.

A layer is hostile input; Python's ``tarfile`` filters do not help (the ``data``
filter rejects the absolute symlinks every image has, the others allow escapes).
So each layer is applied by a child process (:mod:`composer.kernel.unpack_child`,
started as a fresh ``python -I`` from this module, which runs in the caller) that first
chroots into the destination: whatever names, symlinks or hardlinks the tar holds,
the kernel resolves them inside the destination.  The child also computes the
SHA-256 of the uncompressed stream, the layer's *diff_id*, which the store checks
against the image config.

Two ways to apply whiteouts:

* ``overlay=True`` (image layers, one folder per layer, later stacked by an
  overlay mount): ``.wh.NAME`` becomes a 0/0 character device ``NAME`` and
  ``.wh..wh..opq`` the ``trusted.overlay.opaque=y`` xattr on its folder, which is
  how overlayfs itself records deletions, so the mount shows the right tree.
* ``overlay=False`` (a ``rootfs:`` tarball unpacked into a plain folder): a
  whiteout deletes the named path, an opaque marker empties its folder of what
  was there before the layer.

Device nodes are skipped unless ``privileged``; ownership, modes with setuid
bits, mtimes and file capabilities are kept.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ImageError

_CHILD = Path(__file__).with_name("unpack_child.py")
_EXIT_NEEDS_ROOT = 3


@dataclass(frozen=True)
class LayerStats:
    diff_id: str  # sha256 of the uncompressed tar
    skipped: tuple[str, ...]  # members not applied, with the reason


def apply_layer(source: Path, dest: Path, *, privileged: bool = False, overlay: bool = True) -> LayerStats:
    """Apply the (gzip, zstd or plain) tar ``source`` onto the folder ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-I", str(_CHILD), str(dest.resolve())]
    if privileged:
        argv.append("--privileged")
    if not overlay:
        argv.append("--plain")
    try:
        with source.open("rb") as stdin:
            done = subprocess.run(argv, stdin=stdin, capture_output=True, check=False)
    except OSError as error:
        raise ImageError(f"cannot read the layer {source}: {error.strerror}") from error
    if done.returncode == _EXIT_NEEDS_ROOT:
        raise ImageError("unpacking image layers needs root", hint="run composer as root")
    if done.returncode != 0:
        raise ImageError(f"cannot unpack the layer {source.name}: {_child_error(done.stderr)}")
    result = json.loads(done.stdout)
    return LayerStats(diff_id=str(result["diff_id"]), skipped=tuple(result["skipped"]))


def _child_error(stderr: bytes) -> str:
    text = stderr.decode(errors="replace").strip()
    last = text.splitlines()[-1] if text else "the unpacker failed"
    try:
        return str(json.loads(last)["error"])
    except (ValueError, KeyError, TypeError):
        return last
