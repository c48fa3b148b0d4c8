"""Layers of a build: reading a stack of layer folders, and packing a folder into an OCI layer.

A layer folder is in overlayfs's own format (what an overlay's upper dir holds
and what the store unpacks pulled layers into): a 0/0 character device means
"deleted below", the ``trusted.overlay.opaque=y`` xattr on a folder means "hide
what is below".  :class:`StackView` answers questions about the merged tree of a
stack of such folders without mounting it (COPY reads sources from another
stage, and parents' metadata, this way).  :func:`pack_layer` turns one folder
into the tar the OCI spec wants (``.wh.NAME`` and ``.wh..wh..opq`` for the two
markers), sorted and with fixed owners' names so that the same tree always gives
the same digests (mtimes clamped to ``SOURCE_DATE_EPOCH`` when given), gzip'd
without a timestamp, and returns its diff_id and digest from one pass.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import stat
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

OPAQUE_XATTR = "trusted.overlay.opaque"
KEPT_XATTRS = ("user.", "security.capability")
MAX_SYMLINKS = 40


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class StackView:
    """The merged tree of layer folders, topmost first, read without mounting it."""

    def __init__(self, layers: Sequence[Path]) -> None:
        self.layers = [str(p) for p in layers]

    def lookup(self, path: str) -> str | None:
        """The host path of ``path`` (absolute, not resolved through symlinks) in the merged tree."""
        parts = [p for p in path.split("/") if p]
        for layer in self.layers:
            host = os.path.join(layer, *parts) if parts else layer
            try:
                st = os.lstat(host)
            except (FileNotFoundError, NotADirectoryError):
                if self._hidden_below(layer, parts):
                    return None
                continue
            return None if is_whiteout(st) else host
        return None

    def _hidden_below(self, layer: str, parts: list[str]) -> bool:
        """A parent of the path is deleted or opaque in ``layer``: lower layers do not show it."""
        for depth in range(1, len(parts)):
            parent = os.path.join(layer, *parts[:depth])
            try:
                st = os.lstat(parent)
            except (FileNotFoundError, NotADirectoryError):
                return False
            if is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                return True
            if is_opaque(parent):
                return True
        return False

    def resolve(self, path: str, follow_last: bool = True) -> str:
        """``path`` with every symlink resolved inside the merged root (as in a chroot)."""
        todo = [p for p in path.split("/") if p]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/" + "/".join([*done, part])
            host = self.lookup(candidate)
            if host is not None and os.path.islink(host) and (todo or follow_last):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OSError(40, "too many levels of symbolic links", candidate)
                target = os.readlink(host)
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p] + todo
                continue
            done.append(part)
        return "/" + "/".join(done)

    def listdir(self, path: str) -> list[str]:
        """The names in a folder of the merged tree, sorted."""
        parts = [p for p in path.split("/") if p]
        names: set[str] = set()
        hidden: set[str] = set()
        for layer in self.layers:
            host = os.path.join(layer, *parts) if parts else layer
            try:
                st = os.lstat(host)
            except (FileNotFoundError, NotADirectoryError):
                if self._hidden_below(layer, parts):
                    break
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            for name in os.listdir(host):
                if name in names or name in hidden:
                    continue
                if is_whiteout(os.lstat(os.path.join(host, name))):
                    hidden.add(name)
                else:
                    names.add(name)
            if is_opaque(host):
                break
        return sorted(names)

    def read_file(self, path: str) -> bytes | None:
        host = self.lookup(self.resolve(path))
        if host is None or not os.path.isfile(host):
            return None
        with open(host, "rb") as handle:
            return handle.read()


# --- packing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackedLayer:
    diff_id: str  # sha256 of the tar
    digest: str  # sha256 of the gzip'd tar (the blob)
    size: int  # bytes of the blob
    empty: bool  # the folder held nothing


class _HashingWriter:
    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.sink.write(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.sink.flush()


class _TarSink:
    """What tarfile writes to: hashed (the diff_id), then gzip'd into a hashed file (the digest)."""

    def __init__(self, out: _HashingWriter, level: int) -> None:
        self.gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0)  # type: ignore[arg-type]
        self.hasher = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.gz.write(data)
        return len(data)

    def close(self) -> None:
        self.gz.close()


def pack_layer(folder: Path, blob: Path, *, epoch: int | None = None, level: int = 6) -> PackedLayer:
    """Write the OCI layer of ``folder`` (overlay format) to ``blob`` (tar+gzip)."""
    with open(blob, "wb") as handle:
        out = _HashingWriter(handle)
        sink = _TarSink(out, level)
        count = 0
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            links: dict[tuple[int, int], str] = {}
            for rel, host in _walk_sorted(str(folder)):
                count += 1
                for info, data in _members(rel, host, links, epoch):
                    tar.addfile(info, data)
                    if data is not None:
                        data.close()
        sink.close()
    return PackedLayer(
        "sha256:" + sink.hasher.hexdigest(), "sha256:" + out.hasher.hexdigest(), out.size, count == 0
    )


def _walk_sorted(root: str) -> Iterator[tuple[str, str]]:
    """(relative path, host path) of everything under ``root``, parents first, names sorted."""
    return _walk_sorted_under(root, "")


def _walk_sorted_under(root: str, rel: str) -> Iterator[tuple[str, str]]:
    host = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(host)):
        child_rel = f"{rel}/{name}" if rel else name
        child = os.path.join(root, child_rel)
        yield child_rel, child
        if stat.S_ISDIR(os.lstat(child).st_mode):
            yield from _walk_sorted_under(root, child_rel)


def _members(
    rel: str, host: str, links: dict[tuple[int, int], str], epoch: int | None
) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    st = os.lstat(host)
    parent, _, name = rel.rpartition("/")
    prefix = f"{parent}/" if parent else ""
    mtime = int(st.st_mtime) if epoch is None else min(int(st.st_mtime), epoch)
    if is_whiteout(st):
        info = tarfile.TarInfo(f"{prefix}.wh.{name}")
        info.mtime = mtime if epoch is None else epoch
        yield info, None
        return
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid, info.mtime = st.st_uid, st.st_gid, mtime
    info.uname = info.gname = ""
    xattrs = _xattrs(host)
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
    data: IO[bytes] | None = None
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(host)
    elif stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            info.type, info.linkname = tarfile.LNKTYPE, links[key]
        else:
            links[key] = rel
            info.size = st.st_size
            data = open(host, "rb")  # noqa: SIM115 (closed by the caller once written)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return  # sockets are not part of a layer
    yield info, data
    if stat.S_ISDIR(st.st_mode) and is_opaque(host):
        marker = tarfile.TarInfo(f"{rel}/.wh..wh..opq")
        marker.mtime = mtime
        yield marker, None


def _xattrs(host: str) -> dict[str, str]:
    found: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for key in os.listxattr(host, follow_symlinks=False):
            if key.startswith(KEPT_XATTRS):
                value = os.getxattr(host, key, follow_symlinks=False)
                found[key] = value.decode("utf-8", "surrogateescape")
    return found
