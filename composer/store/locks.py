"""Locks: one composer command per project at a time, and the root-wide locks projects share.

Every lock is an flock(2) on a file under the state root.  ``down`` of a
project removes its folder, lock included, and the last project's ``down``
removes the root-wide lock files; a command that was waiting may then hold a
lock on a deleted file, so after locking it compares inodes and retries.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from composer.errors import StateError
from composer.store.files import is_unfinished_write
from composer.store.journal import ProjectStore
from composer.store.layout import ProjectLayout, StateRoot

WaitNotice = Callable[[str], None]


@contextlib.contextmanager
def project_lock(
    layout: ProjectLayout, *, timeout: float = 60.0, on_wait: WaitNotice | None = None
) -> Iterator[ProjectStore]:
    """Hold the project's lock and yield its loaded store; compacts it on the way out.

    A second composer command on the same project waits (calling ``on_wait`` once
    so the CLI can say why) and fails with StateError after ``timeout`` seconds.
    """
    store = ProjectStore(layout)
    fd = _open_locked(layout.lock, f"project {layout.name!r}", timeout, on_wait)
    try:
        store.load()
        try:
            yield store
        finally:
            store.compact()
            _remove_empty_project_dir(store)
    finally:
        os.close(fd)


@contextlib.contextmanager
def root_lock(path: Path, what: str, *, timeout: float = 120.0) -> Iterator[None]:
    """A lock shared by every project under the state root; survives its file being removed."""
    fd = _open_locked(path, what, timeout, None)
    try:
        yield
    finally:
        os.close(fd)


def ipam_lock(root: StateRoot) -> contextlib.AbstractContextManager[None]:
    """Address planning across projects: two projects planned at once cannot collide."""
    return root_lock(root.ipam_lock, "address planning")


def forwarding_lock(root: StateRoot) -> contextlib.AbstractContextManager[None]:
    """The forwarding record is shared by all projects (and by one command's threads)."""
    return root_lock(root.forwarding_lock, "the forwarding record")


def remove_root_files(root: StateRoot) -> None:
    """After the last project's ``down``: remove the root-wide lock files, then the root if empty.

    Each lock file is removed while held, so a command waiting on it notices (the
    inode check in _open_locked) and opens a fresh one.
    """
    if root.project_names():
        return
    for path in root.root_locks:
        if not path.exists():
            continue
        with root_lock(path, path.name, timeout=5.0), contextlib.suppress(FileNotFoundError):
            path.unlink()
    for folder in (root.projects, root.path):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: another command may be starting right now


@contextlib.contextmanager
def nothing_left_unless_recorded(root: StateRoot) -> Iterator[None]:
    """Around a command that may make a project's first records: when it ends with no project
    recorded (refused, failed before making anything, or a dry run), the state root and the lock
    files that planning made go again, so bad input leaves nothing behind, as if never run."""
    try:
        yield
    finally:
        with contextlib.suppress(StateError, OSError):  # never hide the command's own error
            remove_root_files(root)


def _open_locked(path: Path, what: str, timeout: float, on_wait: WaitNotice | None) -> int:
    """Open and flock ``path``; retry if the file was removed meanwhile by the previous holder."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _acquire(fd, what, timeout, on_wait)
            if _same_file(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino)


def _acquire(fd: int, what: str, timeout: float, on_wait: WaitNotice | None) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if not told and on_wait is not None:
            on_wait(f"waiting for another composer command on {what} to finish")
            told = True
        if time.monotonic() >= deadline:
            raise StateError(
                f"{what} is locked by another composer command",
                hint=f"wait for it to finish, or raise the timeout (waited {timeout:.0f}s)",
            )
        time.sleep(0.05)


def _remove_empty_project_dir(store: ProjectStore) -> None:
    """After ``down`` nothing of the project is left: drop its folder when only the lock remains."""
    if store.records:
        return
    folder = store.layout.dir
    leftovers = [p for p in folder.iterdir() if p != store.layout.lock] if folder.exists() else []
    # the lock held here means no writer is left: a write it cut short is debris, not state
    debris = [p for p in leftovers if p.is_file() and is_unfinished_write(p.name)]
    if len(debris) != len(leftovers):
        return
    with contextlib.suppress(OSError):
        for path in debris:
            path.unlink()
        store.layout.lock.unlink()
        folder.rmdir()
