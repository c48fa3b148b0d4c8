"""Where a container's root filesystem comes from.

A ``rootfs:`` folder is used as it is, as the (read-only) lower layer of the
container's overlay; it is never written to.  A tarball (``.tar``, ``.tar.gz``,
``.tgz``, ``.tar.xz``, ``.tar.bz2``) is unpacked once into
``<cache_root>/rootfs/<sha256 of the file>`` and reused by every container and
every later run; the unpacking goes to a temporary sibling folder that is renamed
into place, so a crash or a concurrent unpack never leaves a half tree under the
final name.

Unpacking uses :func:`composer.kernel.unpack.apply_layer`, which extracts in a
process chrooted into the target folder: absolute symlinks and ``..`` in the
archive cannot reach the host, and device nodes are skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from composer.errors import ContainerError

TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar.zst")


def is_tarball(path: Path) -> bool:
    return path.is_file() and path.name.endswith(TARBALL_SUFFIXES)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_rootfs(source: str | Path, cache_root: str | Path) -> tuple[str, ...]:
    """The overlay lower layers (topmost first) for a ``rootfs:`` folder or tarball."""
    path = Path(source).resolve()
    if path.is_dir():
        return (str(path),)
    if is_tarball(path):
        return (str(unpack_tarball(path, Path(cache_root))),)
    raise ContainerError(
        f"rootfs {source} is neither a folder nor a tarball",
        hint=f"give a folder or a file ending in one of {', '.join(TARBALL_SUFFIXES)}",
    )


def unpack_tarball(tarball: Path, cache_root: Path) -> Path:
    """Unpack ``tarball`` once into the cache and return the folder."""
    from composer.kernel.unpack import apply_layer  # here: resolving a folder rootfs needs no unpacker

    final = cache_root / "rootfs" / file_sha256(tarball)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=final.parent))
    try:
        os.chmod(scratch, 0o755)
        apply_layer(tarball, scratch)
        os.rename(scratch, final)
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if final.is_dir():
            return final  # another process won the race; its tree is identical
        raise ContainerError(f"cannot unpack rootfs {tarball}: {exc.strerror}") from exc
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return final
