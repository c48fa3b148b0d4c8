"""The build cache: a step's key -> the layer it made (pure keys, one small JSON file per entry).

A key chains: ``key(step) = sha256(key(previous step), the instruction as
expanded, the state it runs with, the content digest of what it copies)``, and
the first key is the base image's id (or ``scratch``).  So a step is a hit only
when everything before it is too; a changed file misses at its COPY and every
step after it.  An entry is used only while its layer is still in the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def chain_key(parent: str, *parts: Any) -> str:
    text = json.dumps([parent, *parts], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CachedLayer:
    diff_id: str | None  # None: the step changed no file
    digest: str | None
    size: int
    created: str


class BuildCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / f"{key.removeprefix('sha256:')}.json"

    def get(self, key: str) -> CachedLayer | None:
        try:
            data = json.loads(self._path(key).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return CachedLayer(
            data.get("diff_id"), data.get("digest"), int(data.get("size", 0)), str(data["created"])
        )

    def put(self, key: str, entry: CachedLayer) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {
            "diff_id": entry.diff_id,
            "digest": entry.digest,
            "size": entry.size,
            "created": entry.created,
        }
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".entry-")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, self._path(key))

    def prune(self) -> int:
        """Drop every entry, the RUN --mount=type=cache folders and the file digests; how many entries."""
        count = 0
        if self.root.is_dir():
            for path in self.root.glob("*.json"):
                path.unlink(missing_ok=True)
                count += 1
            shutil.rmtree(self.root / "mounts", ignore_errors=True)
            shutil.rmtree(self.root / "files", ignore_errors=True)
        return count
