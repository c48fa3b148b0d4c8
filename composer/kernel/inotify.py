"""Changes under folders, from inotify: ``composer watch``'s source of events.

Every folder beneath a watched path gets a watch of its own (inotify is not
recursive); a folder created later is added when its creation is read, and
the files already in it are reported (they may have been written before the
watch existed).  Events are gathered until the tree has been quiet for the
debounce interval, then handed over as one batch of paths, so that an editor
saving through a temporary file or a ``git checkout`` of many files makes one
sync, not hundreds.  A queue overflow reports every watched root as changed.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import time
from collections.abc import Callable, Iterator, Sequence

from composer.kernel import syscalls

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ISDIR = 0x40000000
MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
)
_HEADER = struct.Struct("iIII")


class TreeWatcher:
    def __init__(self, roots: Sequence[str]) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self.fd = syscalls.inotify_init1()
        self.folders: dict[int, str] = {}
        for root in self.roots:
            self._add_tree(root if os.path.isdir(root) else os.path.dirname(root))

    def _add_tree(self, top: str) -> list[str]:
        """Watch ``top`` and every folder in it; the files found (for a folder that is new)."""
        found: list[str] = []
        for folder, subfolders, files in os.walk(top):
            with contextlib.suppress(OSError):  # gone meanwhile, or unreadable
                self.folders[syscalls.inotify_add_watch(self.fd, folder, MASK)] = folder
            found += [os.path.join(folder, f) for f in files]
            found += [os.path.join(folder, d) for d in subfolders]
        return found

    def _read(self) -> list[str]:
        changed: list[str] = []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return changed
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            name = (
                data[offset + _HEADER.size : offset + _HEADER.size + length]
                .rstrip(b"\0")
                .decode(errors="replace")
            )
            offset += _HEADER.size + length
            if mask & IN_Q_OVERFLOW:
                changed += self.roots
                continue
            if mask & IN_IGNORED:
                self.folders.pop(wd, None)
                continue
            folder = self.folders.get(wd)
            if folder is None:
                continue
            path = os.path.join(folder, name) if name else folder
            changed.append(path)
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                changed += self._add_tree(path)
        return changed

    def batches(
        self, *, debounce: float = 0.5, stop: Callable[[], bool] = lambda: False, poll: float = 0.2
    ) -> Iterator[list[str]]:
        """Sorted, unique changed paths, one batch per quiet spell of ``debounce`` seconds."""
        pending: set[str] = set()
        last = 0.0
        while not stop():
            ready, _, _ = select.select([self.fd], [], [], poll)
            if ready:
                found = self._read()
                if found:
                    pending.update(found)
                    last = time.monotonic()
            if pending and time.monotonic() - last >= debounce:
                yield sorted(pending)
                pending.clear()

    def close(self) -> None:
        os.close(self.fd)
