"""Docker's copy-up: a volume that is still empty gets the image's files at its mount target.

When a container mounts a named or anonymous volume over a folder of its image,
Docker first copies that folder into the volume if the volume is empty: the
files with their owners, modes, times and extended attributes, and the
folder's own owner and mode (so that an image's ``VOLUME /data`` owned by its
user stays writable by that user).  A volume with content is never touched,
and ``volume.nocopy`` turns the copy off.

This runs in the container's set-up child, in its mount namespace, before any
volume is mounted (the image's files, not another volume's, are the source).
The image side is resolved inside the root (:func:`secure_join`); the volume
side may be shared with running containers, so every step there is made
relative to an fd, with ``O_NOFOLLOW`` and ``O_EXCL``: an entry that appears
meanwhile stops the copy instead of being followed.  Hard links are copied as
separate files; device nodes and sockets are skipped (volumes are ``nodev``).
"""

from __future__ import annotations

import errno
import os
import stat

from composer.kernel.mounts import secure_join
from composer.model.container import MountConfig

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def seed_volume(volume: MountConfig, rootfs: str) -> bool:
    """Copy the image's folder at ``volume.target`` into the volume if it is empty; True if copied."""
    source = _open_folder(secure_join(os.path.realpath(rootfs), volume.target))
    if source is None:
        return False
    try:
        os.makedirs(volume.source, exist_ok=True)
        target = os.open(volume.source, _DIR_FLAGS)
        try:
            if _has_entries(target):
                return False
            try:
                _copy_entries(source, target)
            except FileExistsError:
                return False  # another container filled it meanwhile: its content stays
            _copy_metadata(os.fstat(source), target, source)
            return True
        finally:
            os.close(target)
    finally:
        os.close(source)


def _open_folder(path: str) -> int | None:
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return None  # nothing at the target in the image (or not a folder): nothing to copy
        raise


def _has_entries(folder: int) -> bool:
    with os.scandir(folder) as entries:
        return any(True for _ in entries)


def _copy_entries(source: int, target: int) -> None:
    with os.scandir(source) as entries:
        for entry in entries:
            _copy_entry(source, target, entry.name, entry.stat(follow_symlinks=False))


def _copy_entry(source: int, target: int, name: str, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        os.mkdir(name, 0o700, dir_fd=target)
        inner_source = os.open(name, _DIR_FLAGS, dir_fd=source)
        try:
            inner_target = os.open(name, _DIR_FLAGS, dir_fd=target)
            try:
                _copy_entries(inner_source, inner_target)
                _copy_metadata(info, inner_target, inner_source)
            finally:
                os.close(inner_target)
        finally:
            os.close(inner_source)
    elif stat.S_ISREG(mode):
        _copy_file(source, target, name, info)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(name, dir_fd=source), name, dir_fd=target)
        os.chown(name, info.st_uid, info.st_gid, dir_fd=target, follow_symlinks=False)
        os.utime(name, ns=(info.st_atime_ns, info.st_mtime_ns), dir_fd=target, follow_symlinks=False)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(name, 0o600, dir_fd=target)
        fifo = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=target)
        try:
            os.chown(f"/proc/self/fd/{fifo}", info.st_uid, info.st_gid)
            os.chmod(f"/proc/self/fd/{fifo}", stat.S_IMODE(mode))
        finally:
            os.close(fifo)


def _copy_file(source: int, target: int, name: str, info: os.stat_result) -> None:
    reader = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=source)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        writer = os.open(name, flags, 0o600, dir_fd=target)
        try:
            _copy_bytes(reader, writer, info.st_size)
            _copy_metadata(info, writer, reader)
        finally:
            os.close(writer)
    finally:
        os.close(reader)


def _copy_bytes(reader: int, writer: int, size: int) -> None:
    left = size
    while left > 0:
        try:
            sent = os.copy_file_range(reader, writer, left)
        except OSError as error:
            if error.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            sent = os.sendfile(writer, reader, None, left)
        if sent == 0:
            return  # the image's file is shorter than it was when listed
        left -= sent


def _copy_metadata(info: os.stat_result, fd: int, source_fd: int | None = None) -> None:
    """Owner first (chown clears set-id bits), then mode, extended attributes and times."""
    os.fchown(fd, info.st_uid, info.st_gid)
    os.fchmod(fd, stat.S_IMODE(info.st_mode))
    if source_fd is not None:
        _copy_xattrs(source_fd, fd)
    os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))


def _copy_xattrs(source: int, target: int) -> None:
    """File capabilities and the like; a filesystem without xattrs on either side has none to copy."""
    try:
        names = os.listxattr(source)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for name in names:
        try:
            os.setxattr(target, name, os.getxattr(source, name))
        except OSError as error:
            if error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                raise
