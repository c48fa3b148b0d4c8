"""A no-op ``up`` without loading the project again.

After a successful ``up`` composer stores the desired state it computed, with a
fingerprint of everything that state came from: the project files, the
environment files, the values of the variables those files name, the
``COMPOSE_*`` variables and composer's own version.  The next ``up`` with the
same command line computes the fingerprint (it only reads those files) and,
when it matches, reconciles the host against the stored state: no YAML, no
pydantic, no image store.  Anything the fingerprint cannot see makes the
project ineligible, so the full path runs: services with ``env_file:`` (their
files are named only inside the project), images and builds (the store may
hold a newer one), external networks (the bridge's addresses may change), ``up SERVICE...``
and ``--scale``.  When the stored state does not match the host, the full path
runs too: the cache only ever confirms that nothing needs doing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composer import __version__
from composer.model.codec import desired_from_json, desired_to_json
from composer.model.desired import DesiredState
from composer.project.discovery import project_directory
from composer.project.dotenv import interpolation_files
from composer.store.files import atomic_write
from composer.store.layout import StateRoot

_VARIABLE = re.compile(rb"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_COMPOSE_VARIABLES = (
    "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_PATH_SEPARATOR", "COMPOSE_ENV_FILES",
)  # fmt: skip


@dataclass(frozen=True)
class UpInputs:
    """What the command line says about where the project comes from."""

    files: tuple[Path, ...]  # resolved: -f, $COMPOSE_FILE, or discovery
    project_name: str | None
    project_directory: Path | None
    env_files: tuple[Path, ...]
    profiles: tuple[str, ...]

    def key(self) -> str:
        parts = [str(f) for f in self.files] + [
            f"name={self.project_name}", f"dir={self.project_directory}",
            *(f"env={e.absolute()}" for e in self.env_files), *(f"profile={p}" for p in self.profiles),
        ]  # fmt: skip
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]

    def interpolation_files(self) -> list[Path]:
        directory = project_directory(self.project_directory, self.files)
        compose_env_files = os.environ.get("COMPOSE_ENV_FILES")
        return list(
            interpolation_files(self.env_files, directory, compose_env_files).paths
        )  # the loader's rule


def _cache_file(root: StateRoot, inputs: UpInputs) -> Path:
    return root.fastpath_file(inputs.key())


def fingerprint(inputs: UpInputs, tarballs: Iterable[str] = ()) -> str | None:
    """A digest of every input the desired state came from; None when a project file is missing."""
    digest = hashlib.sha256(f"composer {__version__}\0".encode())
    names: set[bytes] = set()
    for path in inputs.files:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        digest.update(str(path).encode() + b"\0" + data + b"\0")
        names.update(_VARIABLE.findall(data))
    for path in inputs.interpolation_files():
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b"<none>"
        except OSError:
            return None
        digest.update(str(path).encode() + b"\0" + data + b"\0")
        names.update(_VARIABLE.findall(data))
    variables = sorted({n.decode() for n in names} | set(_COMPOSE_VARIABLES))
    for name in variables:
        digest.update(f"{name}={os.environ.get(name)}\0".encode())
    for tarball in sorted(tarballs):
        try:
            info = os.stat(tarball)
        except OSError:
            return None
        digest.update(f"{tarball}:{info.st_size}:{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def eligible(loaded: Any, desired: DesiredState) -> bool:
    """Whether a cached desired state could go stale without the fingerprint noticing."""
    spec = loaded.spec
    if desired.whole is not None or any(net.external for net in spec.networks.values()):
        return False
    if any(svc.image or svc.build is not None for svc in spec.services.values()):
        return False  # the store may hold a newer (pulled or built) image
    raw = b"".join(Path(f).read_bytes() for f in loaded.files)
    # Files named only inside the project (env_file, extends, include, a secret's file) are not
    # fingerprinted, nor the variables a secret or config names without `$` (environment: TOKEN).
    words = (b"env_file", b"extends", b"include", b"label_file", b"secrets", b"configs")
    return not any(word in raw for word in words)


def save(root: StateRoot, inputs: UpInputs, loaded: Any, desired: DesiredState) -> None:
    path = _cache_file(root, inputs)
    # COMPOSE_FILE written in .env makes the loader read other files than the command line names.
    if not eligible(loaded, desired) or tuple(loaded.files) != tuple(inputs.files):
        _remove(path)
        return
    tarballs = [
        str(svc.rootfs) for svc in loaded.spec.services.values() if svc.rootfs and Path(svc.rootfs).is_file()
    ]
    stamp = fingerprint(inputs, tarballs)
    if stamp is None:
        return
    record = {"fingerprint": stamp, "project": desired.project, "tarballs": tarballs,
              "desired": desired_to_json(desired)}  # fmt: skip
    atomic_write(path, json.dumps(record, separators=(",", ":")))


def load(root: StateRoot, inputs: UpInputs) -> DesiredState | None:
    """The stored desired state when nothing it came from has changed, else None."""
    path = _cache_file(root, inputs)
    try:
        record: Mapping[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if fingerprint(inputs, record.get("tarballs", ())) != record.get("fingerprint"):
        return None
    desired = desired_from_json(record.get("desired") or {})
    if desired is None:
        _remove(path)  # written by another version
    return desired


def forget(root: StateRoot, inputs: UpInputs) -> None:
    """Drop the stored state of these inputs: stale until the ``up`` running now succeeds."""
    _remove(_cache_file(root, inputs))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def forget_project(root: StateRoot, project: str) -> None:
    """``down`` drops the project's cached states (and the folder once empty)."""
    folder = root.fastpath
    if not folder.is_dir():
        return
    for path in folder.glob("*.json"):
        try:
            if json.loads(path.read_text()).get("project") == project:
                _remove(path)
        except (OSError, ValueError):
            _remove(path)
    with contextlib.suppress(OSError):
        folder.rmdir()
