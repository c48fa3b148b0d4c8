"""The layer unpacker: runs in its own process (a fresh interpreter) chrooted into the target folder.

Run as ``python -I unpack_child.py DEST [--privileged] [--plain]`` with the layer
(gzip, zstd or plain tar) on standard input; prints a JSON summary (``diff_id``, the
SHA-256 of the uncompressed tar, and the members skipped) on standard output.

Why a chrooted child: a layer is hostile input.  Names may be absolute or hold
``..``, a symlink in the layer may point anywhere and a later member may write
through it, a hardlink may name a host file.  After ``chroot(DEST)`` every path the
kernel resolves, through any symlink, stays inside DEST, so none of these can reach
the host whatever the tar says; the code below only has to get the layer's meaning
right (replace what a member replaces, never write through an existing symlink,
keep ownership and setuid bits, translate whiteouts).

This file imports the standard library only (and ``zstandard`` for zstd layers),
and imports everything it needs *before* the chroot, when the modules can still be
found.
"""

from __future__ import annotations

import encodings.latin_1
import encodings.utf_8  # noqa: F401
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
# Extended attributes a layer may carry; trusted.overlay.* would let a layer fake whiteouts.
ALLOWED_XATTR_PREFIXES = ("user.", "security.capability")
CHUNK = 1 << 20
EXIT_NEEDS_ROOT = 3


class HashingReader(io.RawIOBase):
    """Hashes what tarfile reads, so the uncompressed digest (the diff_id) comes for free."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.hasher = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.hasher.update(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(raw: Any) -> Any:
    """A readable stream of the uncompressed tar, by the magic bytes of ``raw``."""
    head = raw.peek(4)[:4]
    if head.startswith(GZIP_MAGIC):
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(ZSTD_MAGIC):
        try:
            import zstandard
        except ImportError:
            sys.stderr.write("this layer is zstd-compressed and the zstandard package is not installed\n")
            sys.exit(2)
        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK)
    return raw


def normalise(name: str) -> str:
    """The member's path inside the root, with ``..`` clamped at the root, always absolute."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class Applier:
    def __init__(self, privileged: bool, overlay: bool) -> None:
        self.privileged = privileged
        self.overlay = overlay
        self.is_root = os.geteuid() == 0
        self.skipped: list[str] = []
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []
        self.created: set[str] = set()

    # -- dispatch --------------------------------------------------------------------------

    def apply(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        path = normalise(member.name)
        base = os.path.basename(path)
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(path, base)
            return
        if path == "/":
            if member.isdir():
                self.dirs.append((path, member))
            return
        self.ensure_parent(path)
        if member.isdir():
            self.make_dir(path, member)
        elif member.isreg():
            self.make_file(path, member, tar)
        elif member.issym():
            self.replace(path)
            os.symlink(member.linkname, path)
            self.finish_member(path, member)
        elif member.islnk():
            self.make_link(path, member)
        elif member.isfifo():
            self.replace(path)
            os.mkfifo(path, 0o600)
            self.finish_member(path, member)
        elif member.ischr() or member.isblk():
            self.make_device(path, member)
        else:
            self.skipped.append(f"{member.name}: unsupported member type")

    # -- members ---------------------------------------------------------------------------

    def make_dir(self, path: str, member: tarfile.TarInfo) -> None:
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode):
                self.replace(path)
                os.mkdir(path, 0o700)
        except FileNotFoundError:
            os.mkdir(path, 0o700)
        self.created.add(path)
        self.dirs.append((path, member))  # metadata last, once the children are in

    def make_file(self, path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        self.replace(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            source = tar.extractfile(member)
            if source is not None:
                shutil.copyfileobj(source, out, CHUNK)
            if self.is_root:
                _own(out.fileno(), member.uid, member.gid)
            os.fchmod(out.fileno(), member.mode & 0o7777)  # after chown, which clears setuid
        self.set_xattrs(path, member)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        self.created.add(path)

    def make_link(self, path: str, member: tarfile.TarInfo) -> None:
        target = normalise(member.linkname)
        if not os.path.lexists(target) or (os.path.isdir(target) and not os.path.islink(target)):
            self.skipped.append(f"{member.name}: hardlink to {member.linkname!r}, not in this layer")
            return
        self.replace(path)
        os.link(target, path, follow_symlinks=False)
        self.created.add(path)

    def make_device(self, path: str, member: tarfile.TarInfo) -> None:
        if not self.privileged:
            self.skipped.append(f"{member.name}: device node skipped")
            return
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        self.replace(path)
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        self.finish_member(path, member)

    def finish_member(self, path: str, member: tarfile.TarInfo) -> None:
        is_link = member.issym()
        if self.is_root:
            _own(path, member.uid, member.gid, follow_symlinks=False)
        if not is_link:
            os.chmod(path, member.mode & 0o7777)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        self.created.add(path)

    def set_xattrs(self, path: str, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key.removeprefix("SCHILY.xattr.")
            if not name.startswith(ALLOWED_XATTR_PREFIXES):
                continue
            try:
                os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError:
                self.skipped.append(f"{member.name}: xattr {name} not set")

    # -- whiteouts -------------------------------------------------------------------------

    def whiteout(self, path: str, base: str) -> None:
        parent = os.path.dirname(path)
        if base == OPAQUE_MARKER:
            self.ensure_dir(parent)
            if self.overlay:
                os.setxattr(parent, OVERLAY_OPAQUE_XATTR, b"y")
            else:
                self.clear_old_children(parent)
            return
        victim = os.path.join(parent, base.removeprefix(WHITEOUT_PREFIX))
        if victim == "/" or base == WHITEOUT_PREFIX:
            return
        self.ensure_parent(victim)
        self.replace(victim)
        if self.overlay:  # overlayfs reads a 0/0 character device as "deleted below"
            os.mknod(victim, stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def clear_old_children(self, folder: str) -> None:
        for name in os.listdir(folder):
            child = os.path.join(folder, name)
            if child not in self.created:
                self.replace(child)

    # -- helpers ---------------------------------------------------------------------------

    def replace(self, path: str) -> None:
        """Remove what is at ``path`` (never following a symlink there)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def ensure_parent(self, path: str) -> None:
        self.ensure_dir(os.path.dirname(path))

    def ensure_dir(self, folder: str) -> None:
        if os.path.isdir(folder):
            return
        if os.path.islink(folder):
            # `lib -> usr/lib` with `lib/x` in the same layer: create the target, keep the link,
            # as applying onto a full tree would (realpath stays inside the chroot).
            target = os.path.realpath(folder)
            if target != folder and not os.path.lexists(target):
                self.ensure_dir(target)
                return
        if os.path.lexists(folder):  # a file or a dangling symlink where a folder must be
            self.replace(folder)
        self.ensure_dir(os.path.dirname(folder))
        os.mkdir(folder, 0o755)

    def finish(self) -> None:
        for path, member in reversed(self.dirs):  # deepest last-seen first; the root last
            if self.is_root:
                _own(path, member.uid, member.gid)
            os.chmod(path, member.mode & 0o7777)
            self.set_xattrs(path, member)
            os.utime(path, (member.mtime, member.mtime))


def _own(target: str | int, uid: int, gid: int, *, follow_symlinks: bool = True) -> None:
    """chown, except to an id this user namespace does not map (rootless): the file stays root's."""
    try:
        os.chown(target, uid, gid, follow_symlinks=follow_symlinks)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise


def main(argv: list[str]) -> int:
    dest = argv[1]
    privileged = "--privileged" in argv
    overlay = "--plain" not in argv
    raw = open(0, "rb", buffering=CHUNK, closefd=False)  # noqa: SIM115
    reader = HashingReader(open_decompressed(raw))
    os.chdir(dest)
    try:
        os.chroot(".")
    except PermissionError:
        sys.stderr.write("unpacking a layer needs root (chroot was refused)\n")
        return EXIT_NEEDS_ROOT
    os.chdir("/")
    os.umask(0)
    applier = Applier(privileged=privileged, overlay=overlay)
    stream = io.BufferedReader(reader, buffer_size=CHUNK)
    with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape") as tar:
        for member in tar:
            applier.apply(member, tar)
    while stream.read(CHUNK):  # the end-of-archive padding counts in the diff_id
        pass
    applier.finish()
    json.dump({"diff_id": "sha256:" + reader.hasher.hexdigest(), "skipped": applier.skipped}, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, tarfile.TarError, EOFError, ValueError) as error:
        code = getattr(error, "errno", None)
        sys.stderr.write(json.dumps({"error": str(error), "errno": code}) + "\n")
        sys.exit(1)
