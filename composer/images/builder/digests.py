"""Content digests of the files a build copies, remembered across builds by their ``stat``.

A rebuild with nothing changed would otherwise read and hash every file it
copies (the whole context for ``COPY . /app``) only to find the digest it had
last time.  So each file's SHA-256 is kept with what ``lstat`` said of it then:
device, inode, size, mtime and ctime (nanoseconds).  The digest is reused only
while all five are the same; any write, truncate, rename over, ``chmod`` or
``utime`` changes the ctime, which no user can set back, so a file edited to the
same size with its mtime restored is still read again.

A timestamp is as fine as the filesystem's clock tick (a jiffy on ext4, a second
on some network filesystems): a write in the same tick as the one before it could
leave every field the same.  So a digest is remembered only for a file whose last
change (the later of mtime and ctime) is at least :data:`SETTLE_NS` older than
the moment it was hashed, as git treats "racily clean" index entries; a file
changed just now is hashed again next time, until it has settled.

The entries of one build (one context and Dockerfile) live in one JSON file under
the store's ``build-cache/files/``; it is rewritten only when an entry was added,
changed or not used, and a missing or unreadable file is an empty cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

SETTLE_NS = 2_000_000_000  # > the coarsest common timestamp tick (1 s), with room for clock jitter
_VERSION = 1

Entry = tuple[int, int, int, int, int, str]  # dev, inode, size, mtime_ns, ctime_ns, sha256 hex


def _stamp(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_sha256(path: str) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


class FileDigests:
    """The SHA-256 of regular files, reused while their ``lstat`` is unchanged (see the module doc)."""

    def __init__(
        self,
        path: Path | None,
        *,
        trust: bool = True,
        clock: Callable[[], int] = time.time_ns,
        settle_ns: int = SETTLE_NS,
    ) -> None:
        self.path = path  # None: remember nothing (digests are computed every time)
        self.trust = trust  # False (--no-cache): hash everything again, and remember the fresh digests
        self.clock = clock
        self.settle_ns = settle_ns
        self.hashed = 0  # files read this build (for tests and figures)
        self._known: dict[str, Entry] | None = None
        self._used: dict[str, Entry] = {}
        self._lock = threading.Lock()  # stages run in threads

    def digest(self, host: str, st: os.stat_result) -> bytes:
        """The SHA-256 of the regular file ``host``, whose ``lstat`` (taken just before) is ``st``."""
        stamp = _stamp(st)
        with self._lock:
            known = self._load().get(host) if self.trust else None
        if known is not None and known[:5] == stamp:
            with self._lock:
                self._used[host] = known
            return bytes.fromhex(known[5])
        checked = self.clock()
        value = file_sha256(host)
        with self._lock:
            self.hashed += 1
            if checked - max(st.st_mtime_ns, st.st_ctime_ns) >= self.settle_ns:
                self._used[host] = (*stamp, value.hex())
        return value

    def save(self) -> None:
        """Write this build's entries if they differ from what was loaded; errors are ignored (a cache)."""
        if self.path is None:
            return
        with self._lock:
            if self._used == self._load():
                return
            files = {host: list(entry) for host, entry in sorted(self._used.items())}
        text = json.dumps({"version": _VERSION, "files": files}, separators=(",", ":"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".files-")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.path)  # no fsync: a torn file after a crash reads as an empty cache
        except OSError:
            return

    def _load(self) -> dict[str, Entry]:
        if self._known is None:
            self._known = _read(self.path) if self.path is not None else {}
        return self._known


def _read(path: Path) -> dict[str, Entry]:
    try:
        data = json.loads(path.read_bytes())
        if data.get("version") != _VERSION:
            return {}
        found: dict[str, Entry] = {}
        for host, raw in data["files"].items():
            dev, ino, size, mtime, ctime, value = raw
            found[str(host)] = (int(dev), int(ino), int(size), int(mtime), int(ctime), str(value))
        return found
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
