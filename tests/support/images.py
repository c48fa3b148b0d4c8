"""Build OCI/Docker images offline, deterministically, and push them over the distribution API.

Layers are tarballs with sorted members, mtime 0, fixed owners unless given;
gzip streams carry no timestamp; so the same input always gives the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

Compression = Literal["gzip", "zstd", "none"]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    """One tar member: a file (data), a folder (dir=True), a symlink or hardlink, a device."""

    name: str
    data: bytes = b""
    mode: int = 0o644
    dir: bool = False
    symlink: str | None = None
    hardlink: str | None = None
    chardev: tuple[int, int] | None = None
    uid: int = 0
    gid: int = 0


def tar_entries(entries: list[Entry]) -> bytes:
    """A tar of ``entries`` in the order given (order matters for whiteouts and links)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, 0
            if entry.dir:
                info.type = tarfile.DIRTYPE
            elif entry.symlink is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.symlink
            elif entry.hardlink is not None:
                info.type, info.linkname = tarfile.LNKTYPE, entry.hardlink
            elif entry.chardev is not None:
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = entry.chardev
            else:
                info.size = len(entry.data)
            tar.addfile(info, io.BytesIO(entry.data) if info.isreg() else None)
    return out.getvalue()


def tar_tree(root: Path) -> bytes:
    """A deterministic tar of a folder: sorted, mtime 0, owners and modes kept."""
    entries: list[Entry] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel_folder = Path(folder).relative_to(root)
        if str(rel_folder) != ".":
            st = os.lstat(folder)
            entries.append(
                Entry(str(rel_folder), dir=True, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid)
            )
        for name in sorted(files):
            path = Path(folder) / name
            rel = str(rel_folder / name) if str(rel_folder) != "." else name
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                entries.append(
                    Entry(rel, symlink=os.readlink(path), mode=0o777, uid=st.st_uid, gid=st.st_gid)
                )
            elif stat.S_ISREG(st.st_mode):
                entries.append(Entry(rel, data=path.read_bytes(), mode=mode, uid=st.st_uid, gid=st.st_gid))
        for name in list(dirs):  # symlinks to folders are listed in dirs by os.walk
            path = Path(folder) / name
            if path.is_symlink():
                rel = str(rel_folder / name) if str(rel_folder) != "." else name
                entries.append(Entry(rel, symlink=os.readlink(path), mode=0o777))
                dirs.remove(name)
    return tar_entries(entries)


def compress(data: bytes, how: Compression) -> bytes:
    if how == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


@dataclass
class BuiltImage:
    manifest: bytes
    media_type: str
    config: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes (config and layers)

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def config_digest(self) -> str:
        return digest_of(self.config)

    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in json.loads(self.manifest)["layers"]]


def build_image(
    layers: list[bytes],
    config: dict[str, Any] | None = None,
    *,
    media: Literal["oci", "docker"] = "oci",
    compression: Compression = "gzip",
    architecture: str = "amd64",
) -> BuiltImage:
    """An image from uncompressed layer tars (bottom first) and a ``config`` object (Entrypoint, Cmd...)."""
    blobs: dict[str, bytes] = {}
    layer_descs = []
    for layer in layers:
        packed = compress(layer, compression)
        blobs[digest_of(packed)] = packed
        if media == "docker":
            layer_type = DOCKER_LAYER
        else:
            layer_type = OCI_LAYER + {"gzip": "+gzip", "zstd": "+zstd", "none": ""}[compression]
        layer_descs.append({"mediaType": layer_type, "digest": digest_of(packed), "size": len(packed)})
    config_doc = {
        "architecture": architecture,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config or {},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(layer) for layer in layers]},
    }
    config_raw = json.dumps(config_doc, sort_keys=True).encode()
    blobs[digest_of(config_raw)] = config_raw
    manifest_type = DOCKER_MANIFEST if media == "docker" else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {
            "mediaType": DOCKER_CONFIG if media == "docker" else OCI_CONFIG,
            "digest": digest_of(config_raw),
            "size": len(config_raw),
        },
        "layers": layer_descs,
    }
    return BuiltImage(json.dumps(manifest, sort_keys=True).encode(), manifest_type, config_raw, blobs)


def build_index(
    images: dict[str, BuiltImage], *, media: Literal["oci", "docker"] = "oci"
) -> tuple[bytes, str]:
    """An index (or manifest list) over ``images`` keyed by ``os/arch[/variant]``."""
    entries = []
    for plat, image in sorted(images.items()):
        parts = plat.split("/")
        platform = {
            "os": parts[0],
            "architecture": parts[1],
            **({"variant": parts[2]} if len(parts) > 2 else {}),
        }
        entries.append(
            {
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": len(image.manifest),
                "platform": platform,
            }
        )
    media_type = DOCKER_LIST if media == "docker" else OCI_INDEX
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    return json.dumps(doc, sort_keys=True).encode(), media_type


class Pusher:
    """Pushes blobs and manifests to a registry with the distribution API."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None, chunk: int | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.http = httpx.Client(auth=auth, timeout=60)
        self.chunk = chunk  # None: monolithic PUT; else PATCH chunks of this size

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Pusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        if self.http.head(f"{self.base}/v2/{repo}/blobs/{digest}").status_code == 200:
            return digest
        start = self.http.post(f"{self.base}/v2/{repo}/blobs/uploads/")
        start.raise_for_status()
        location = httpx.URL(self.base).join(start.headers["Location"])
        if self.chunk:
            for offset in range(0, len(data), self.chunk):
                part = data[offset : offset + self.chunk]
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(part) - 1}",
                }
                patched = self.http.patch(location, content=part, headers=headers)
                patched.raise_for_status()
                location = httpx.URL(self.base).join(patched.headers["Location"])
            data = b""
        done = self.http.put(
            location.copy_merge_params({"digest": digest}),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        done.raise_for_status()
        return digest

    def push_manifest(self, repo: str, ref: str, manifest: bytes, media_type: str) -> str:
        put = self.http.put(
            f"{self.base}/v2/{repo}/manifests/{ref}", content=manifest, headers={"Content-Type": media_type}
        )
        put.raise_for_status()
        return digest_of(manifest)

    def push_image(self, repo: str, tag: str, image: BuiltImage) -> str:
        for data in image.blobs.values():
            self.push_blob(repo, data)
        return self.push_manifest(repo, tag, image.manifest, image.media_type)

    def push_index(
        self, repo: str, tag: str, images: dict[str, BuiltImage], media: Literal["oci", "docker"] = "oci"
    ) -> str:
        for image in images.values():
            self.push_image(repo, image.digest, image)
        index, media_type = build_index(images, media=media)
        return self.push_manifest(repo, tag, index, media_type)
