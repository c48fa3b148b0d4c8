"""Writing COPY/ADD results and WORKDIR folders into a new layer folder (overlay format).

The new layer starts empty; it receives the copied entries and, for each of
their parent folders, a copy of that folder's metadata as the stage already has
it (or a new ``0755`` folder, owned like the copy), so that stacking the layer
changes nothing but what was copied.  Destinations are resolved through the
symlinks of the stage (``/bin -> usr/bin`` stays a link: the file lands in
``/usr/bin``), inside the stage's root, as a chrooted ``cp`` would.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from composer.images.builder.context import SourceItem
from composer.images.builder.layers import StackView


@dataclass(frozen=True)
class Ownership:
    uid: int | None = 0  # None: keep the source's (COPY --from without --chown)
    gid: int | None = 0
    mode: int | None = None  # --chmod


class LayerWriter:
    def __init__(self, layer: Path, view: StackView) -> None:
        self.layer = str(layer)
        self.view = view

    def host_path(self, path: str) -> str:
        return os.path.join(self.layer, path.lstrip("/"))

    def ensure_dir(self, path: str, owner: Ownership) -> str:
        """Make ``path`` (already resolved) a folder in the layer, with its parents; the resolved path."""
        parts = [p for p in path.split("/") if p]
        current = ""
        for part in parts:
            current = f"{current}/{part}"
            host = self.host_path(current)
            if os.path.isdir(host) and not os.path.islink(host):
                continue
            if os.path.lexists(host):
                _remove(host)
            below = self.view.lookup(current)
            if below is not None and os.path.isdir(below) and not os.path.islink(below):
                st = os.lstat(below)
                os.mkdir(host)
                os.chown(host, st.st_uid, st.st_gid)
                os.chmod(host, stat.S_IMODE(st.st_mode))
                os.utime(host, ns=(st.st_atime_ns, st.st_mtime_ns))
            else:
                os.mkdir(host)
                os.chown(host, owner.uid or 0, owner.gid or 0)
                os.chmod(host, 0o755)
        return "/" + "/".join(parts)

    def resolve_parent(self, target: str, owner: Ownership) -> str:
        """The real path of ``target`` once its parent folders exist (created in the layer)."""
        parent, _, name = target.rstrip("/").rpartition("/")
        real_parent = self.view.resolve(parent or "/")
        self.ensure_dir(real_parent, owner)
        return f"{real_parent.rstrip('/')}/{name}"

    def put(self, target: str, item: SourceItem, owner: Ownership) -> None:
        """Write one item at ``target`` (an absolute path in the image)."""
        real = self.resolve_parent(target, owner)
        host = self.host_path(real)
        if item.data is not None:
            _remove_if_not_dir(host)
            with open(host, "wb") as out:
                out.write(item.data)
            self._own(host, None, owner, default_mode=0o644)
            return
        st = os.lstat(item.host)
        if stat.S_ISDIR(st.st_mode):
            if not (os.path.isdir(host) and not os.path.islink(host)):
                _remove_if_not_dir(host)
                os.mkdir(host)
            self._own(host, st, owner)
        elif stat.S_ISLNK(st.st_mode):
            _remove(host)
            os.symlink(os.readlink(item.host), host)
            uid, gid = _ids(st, owner)
            os.chown(host, uid, gid, follow_symlinks=False)
        elif stat.S_ISREG(st.st_mode):
            _remove_if_not_dir(host)
            shutil.copyfile(item.host, host, follow_symlinks=False)
            self._own(host, st, owner)
            os.utime(host, ns=(st.st_atime_ns, st.st_mtime_ns))
        # sockets, fifos and devices in a context are skipped, as Docker skips them

    def _own(self, host: str, st: os.stat_result | None, owner: Ownership, default_mode: int = 0o644) -> None:
        uid, gid = _ids(st, owner)
        os.chown(host, uid, gid)
        if owner.mode is not None:
            os.chmod(host, owner.mode)
        elif st is not None:
            os.chmod(host, stat.S_IMODE(st.st_mode))
        else:
            os.chmod(host, default_mode)


def _ids(st: os.stat_result | None, owner: Ownership) -> tuple[int, int]:
    uid = owner.uid if owner.uid is not None else (st.st_uid if st else 0)
    gid = owner.gid if owner.gid is not None else (st.st_gid if st else 0)
    return uid, gid


def _remove(host: str) -> None:
    if os.path.isdir(host) and not os.path.islink(host):
        shutil.rmtree(host)
    elif os.path.lexists(host):
        os.unlink(host)


def _remove_if_not_dir(host: str) -> None:
    if os.path.lexists(host):
        _remove(host)
