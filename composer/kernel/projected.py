"""Writing a container's secrets and configs into its folder (host side, before the container starts).

Each file is written to a temporary name and renamed into place, with its
owner and mode set before the rename, so the container (or a reader of the
state root) never sees it half-written or with the wrong mode.  The folders
are 0700 root: on the host only root reads them; in the container the bind
mount of the file itself is what is seen.  A ``source`` file is copied, not
bound: the container keeps what was there when it was made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

from composer.errors import ContainerError
from composer.model.container import ProjectedFile


def write_projected_files(files: Iterable[ProjectedFile]) -> None:
    for item in files:
        folder = os.path.dirname(item.path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        temporary = f"{item.path}.tmp"
        try:
            _write(item, temporary)
            os.replace(temporary, item.path)
        except BaseException:
            if os.path.lexists(temporary):
                os.unlink(temporary)
            raise


def _write(item: ProjectedFile, temporary: str) -> None:
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        if item.content is not None:
            handle.write(item.content.encode())
        else:
            try:
                with open(item.source, "rb") as source:
                    shutil.copyfileobj(source, handle)
            except OSError as error:
                raise ContainerError(
                    f"cannot read {item.source} for {item.target}: {error.strerror}",
                    hint="fix the `file:` of the secret or config",
                ) from None
        os.fchown(handle.fileno(), item.uid, item.gid)
        os.fchmod(handle.fileno(), item.mode)
