"""Where a container's root filesystem comes from.

A ``rootfs:`` folder is used as it is, as the (read-only) lower layer of the
container's overlay; it is never written to.  A tarball (``.tar``, ``.tar.gz``,
``.tgz``, ``.tar.xz``, ``.tar.bz2``) is unpacked once into
``<cache_root>/rootfs/<sha256 of the file>`` and reused by every container and
every later run; the unpacking goes to a temporary sibling folder that is renamed
into place, so a crash or a concurrent unpack never leaves a half tree under the
final name.

Unpacking uses :func:`composer.images.layers.apply_layer` (which resolves every
path inside the target).  When that module is not available, a local fallback
extracts in a child process that has chrooted into the target folder, so that
absolute symlinks and ``..`` in the archive cannot reach the host; device nodes
are skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
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
    final = cache_root / "rootfs" / file_sha256(tarball)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=final.parent))
    try:
        os.chmod(scratch, 0o755)
        _apply_layer(tarball, scratch)
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


def _apply_layer(source: Path, dest: Path) -> None:
    try:
        from composer.images.layers import apply_layer
    except ImportError:
        _extract_chrooted(source, dest)
        return
    apply_layer(source, dest)


def _extract_chrooted(source: Path, dest: Path) -> None:
    """Fallback unpacker: extract inside a child chrooted into ``dest``."""
    archive = tarfile.open(source)  # noqa: SIM115 - opened before the chroot: the file is outside it
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chroot(dest)
            os.chdir("/")
            members = [m for m in archive.getmembers() if not (m.ischr() or m.isblk())]
            archive.extractall("/", members=members, filter="fully_trusted")
            code = 0
        finally:
            os._exit(code)
    archive.close()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise ContainerError(f"cannot unpack rootfs {source}: the archive is damaged or unreadable")
