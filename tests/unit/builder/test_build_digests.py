"""File digests remembered across builds: reused only while a file's lstat is unchanged and settled."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from composer.images.builder.digests import SETTLE_NS, FileDigests


def later() -> int:
    """A clock past the settle window of every file just written (the files themselves are real)."""
    return time.time_ns() + 10 * SETTLE_NS


def digest_of(files: FileDigests, path: Path) -> bytes:
    return files.digest(str(path), os.lstat(path))


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    cache = tmp_path / "files.json"
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 5000)
    first = FileDigests(cache, clock=later)
    assert digest_of(first, data) == hashlib.sha256(b"x" * 5000).digest()
    first.save()
    second = FileDigests(cache, clock=later)
    assert digest_of(second, data) == hashlib.sha256(b"x" * 5000).digest()
    assert (first.hashed, second.hashed) == (1, 0)


def test_same_size_and_restored_mtime_is_still_read_again(tmp_path: Path) -> None:
    """The ctime moves with every write and cannot be set back: it tells the edit apart."""
    cache = tmp_path / "files.json"
    data = tmp_path / "data.txt"
    data.write_text("one\n")
    before = os.lstat(data)
    first = FileDigests(cache, clock=later)
    digest_of(first, data)
    first.save()
    time.sleep(0.02)  # past the filesystem's timestamp tick
    with open(data, "r+") as handle:  # in place: same inode
        handle.write("two\n")
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.lstat(data)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    second = FileDigests(cache, clock=later)
    assert digest_of(second, data) == hashlib.sha256(b"two\n").digest()
    assert second.hashed == 1


def test_a_file_changed_within_the_settle_window_is_not_remembered(tmp_path: Path) -> None:
    cache = tmp_path / "files.json"
    data = tmp_path / "fresh.txt"
    data.write_text("just written\n")
    first = FileDigests(cache)  # the real clock: the file changed a moment ago
    digest_of(first, data)
    first.save()
    second = FileDigests(cache)
    digest_of(second, data)
    assert second.hashed == 1


def test_no_cache_reads_every_file_and_remembers_the_fresh_digests(tmp_path: Path) -> None:
    cache = tmp_path / "files.json"
    data = tmp_path / "data.txt"
    data.write_text("one\n")
    seeded = FileDigests(cache, clock=later)
    digest_of(seeded, data)
    seeded.save()
    fresh = FileDigests(cache, trust=False, clock=later)
    digest_of(fresh, data)
    fresh.save()
    assert fresh.hashed == 1
    reused = FileDigests(cache, clock=later)
    digest_of(reused, data)
    assert reused.hashed == 0


def test_save_rewrites_only_on_change_and_drops_unused_entries(tmp_path: Path) -> None:
    cache = tmp_path / "files.json"
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a\n")
    b.write_text("b\n")
    both = FileDigests(cache, clock=later)
    digest_of(both, a)
    digest_of(both, b)
    both.save()
    inode = os.lstat(cache).st_ino
    same = FileDigests(cache, clock=later)
    digest_of(same, a)
    digest_of(same, b)
    same.save()
    assert os.lstat(cache).st_ino == inode  # nothing new: not rewritten
    only_a = FileDigests(cache, clock=later)
    digest_of(only_a, a)
    only_a.save()
    assert os.lstat(cache).st_ino != inode
    check = FileDigests(cache, clock=later)
    digest_of(check, b)
    assert check.hashed == 1  # b was not used by the last build: forgotten


def test_an_unreadable_cache_file_is_an_empty_cache(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("one\n")
    for text in ("{not json", '{"version": 99, "files": {}}', '{"version": 1, "files": {"x": [1]}}', "[]"):
        cache = tmp_path / "files.json"
        cache.write_text(text)
        files = FileDigests(cache, clock=later)
        assert digest_of(files, data) == hashlib.sha256(b"one\n").digest()
        files.save()
        assert FileDigests(cache, clock=later).digest(str(data), os.lstat(data))
