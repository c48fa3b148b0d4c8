"""Where a container's root filesystem comes from.

A ``rootfs:`` folder is used as it is, as the (read-only) lower layer of the
container's overlay; it is never written to.  A tarball (``.tar``, ``.tar.gz``,
``.tgz``, ``.tar.xz``, ``.tar.bz2``) is unpacked once into
``<cache_root>/rootfs/<sha256 of the file>`` and reused by every container and
every later run; the unpacking goes to a temporary sibling folder that is renamed
into place, so a crash or a concurrent unpack never leaves a half tree under the
final name.

Without root, a folder owned by ids the user's namespace does not map (a rootfs
built by root) cannot be an overlay lower layer: copying a folder up would need
its unmapped owner.  :func:`foreign_folder_copy` then makes a copy once, as if the
folder were a tarball of itself whose unmapped owners are root, in
``<cache_root>/rootfs/folder-<digest of the tree's names, modes, owners, sizes
and times>``: the same tree gives the same copy, an edited tree a new one.

Unpacking uses :func:`composer.kernel.unpack.apply_layer`, which extracts in a
process chrooted into the target folder: absolute symlinks and ``..`` in the
archive cannot reach the host, and device nodes are skipped.
"""

from __future__ import annotations

import contextlib
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
    from composer.images.builder.digests import file_sha256 as digest

    return digest(str(path)).hex()


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


OVERFLOW_ID = 65534  # what an owner the user namespace does not map looks like from inside


def is_foreign(folder: Path) -> bool:
    """Owned by an id this (rootless) user namespace does not map."""
    return folder.stat().st_uid == OVERFLOW_ID


def foreign_folder_copy(folder: Path, cache_root: Path) -> Path:
    """The folder as a layer the user namespace owns: unmapped owners become root (made once)."""
    import tarfile

    final = cache_root / "rootfs" / f"folder-{tree_digest(folder)}"
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if info.isdev():
            return None  # never made by the unpacker either
        info.uid = 0 if info.uid == OVERFLOW_ID else info.uid
        info.gid = 0 if info.gid == OVERFLOW_ID else info.gid
        info.uname = info.gname = ""
        return info

    handle, name = tempfile.mkstemp(prefix=".folder-", suffix=".tar", dir=final.parent)
    try:
        with os.fdopen(handle, "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
            tar.add(str(folder), arcname=".", filter=owned)
        unpacked = unpack_tarball(Path(name), cache_root)
        with contextlib.suppress(OSError):
            os.rename(unpacked, final)
    finally:
        os.unlink(name)
    return final if final.is_dir() else unpacked


def tree_digest(folder: Path) -> str:
    """A digest of every entry's path, type, mode, owner, size, mtime and link target."""
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for entry in [
            top,
            *(os.path.join(top, f) for f in sorted(files)),
            *(os.path.join(top, d) for d in dirs if os.path.islink(os.path.join(top, d))),
        ]:
            info = os.lstat(entry)
            link = os.readlink(entry) if os.path.islink(entry) else ""
            line = f"{os.path.relpath(entry, folder)}\0{info.st_mode}\0{info.st_uid}\0{info.st_gid}"
            digest.update(f"{line}\0{info.st_size}\0{info.st_mtime_ns}\0{link}\n".encode())
    return digest.hexdigest()[:32]
