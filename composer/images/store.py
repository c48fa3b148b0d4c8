"""The content-addressed image store.

Layout under the image root (default ``/var/lib/composer``)::

    blobs/sha256/<hex>           manifests and configs (and layer blobs if kept), verified
    layers/sha256/<diff_id hex>/ one unpacked layer, shared by every image that has it
    images/<id hex>.json         one record per image: manifest, config, layers, references
    refs.json                    canonical reference -> image id, last registry check
    pins/<project>.json          images a project uses; rmi and prune never remove them
    tmp/                         partial downloads (resumed) and layers being unpacked
    locks/                       one lock file per layer; gc.lock, meta.lock

Crash safety: every file is written to a temporary name and renamed; a layer is
unpacked into ``tmp/`` and renamed into ``layers/`` only once it is complete and
its diff_id checked, so a killed pull leaves at most garbage in ``tmp/`` (removed by
the next pull) and never a half-unpacked layer under its final name.  A layer is
fetched and unpacked under its own flock, so two concurrent pulls of the same layer
do the work once.  Pulls hold ``gc.lock`` shared and removals hold it exclusive, so
garbage collection never deletes a layer a running pull has just unpacked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.errors import ImageError
from composer.images.config import ImageConfig, ResolvedImage
from composer.images.progress import LayerEvent, PullDone, PullProgress, PullStarted
from composer.images.reference import Reference, parse_reference
from composer.kernel.unpack import apply_layer

if TYPE_CHECKING:  # the registry client (and httpx) load only when a pull runs
    from composer.images.registry import Descriptor, ImageManifest, RegistryClient

SCHEMA_VERSION = 1
_INTERVALS = {"daily": 86400.0, "weekly": 7 * 86400.0}
_DURATION_RE = re.compile(r"(\d+)([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_ID_RE = re.compile(r"^(?:sha256:)?([a-f0-9]{4,64})$")


@dataclass(frozen=True)
class PullPolicy:
    mode: str  # always | missing | never | interval
    max_age: float = 0.0  # seconds, for interval


def parse_policy(text: str | None) -> PullPolicy:
    """Compose's pull_policy: always, missing/if_not_present, never, build (pull if missing),
    daily, weekly, every_<duration> (``every_12h``)."""
    value = (text or "missing").strip().lower()
    if value in ("missing", "if_not_present", "build"):
        return PullPolicy("missing")
    if value in ("always", "never"):
        return PullPolicy(value)
    if value in _INTERVALS:
        return PullPolicy("interval", _INTERVALS[value])
    if value.startswith("every_"):
        spec = value.removeprefix("every_")
        parts = _DURATION_RE.findall(spec)
        if parts and "".join(n + u for n, u in parts) == spec:
            return PullPolicy("interval", float(sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)))
    raise ImageError(
        f"unknown pull_policy {text!r}",
        hint="use always, missing, never, build, daily, weekly or every_<duration>",
    )


@dataclass(frozen=True)
class ImageSummary:
    image_id: str
    references: tuple[str, ...]
    size: int
    created: str
    pulled_at: float
    pinned_by: tuple[str, ...]


class ImageStore:
    """Images on disk; see the module docstring for the layout and the guarantees."""

    def __init__(
        self,
        root: Path,
        *,
        max_parallel: int = 4,
        insecure: Iterable[str] = (),
        keep_layer_blobs: bool = False,
    ) -> None:
        self.root = Path(root)
        self.max_parallel = max_parallel
        self.insecure = frozenset(insecure)
        self.keep_layer_blobs = keep_layer_blobs
        for sub in ("blobs/sha256", "layers/sha256", "images", "pins", "tmp", "locks"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- paths -----------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / _hex(digest)

    def layer_path(self, diff_id: str) -> Path:
        return self.root / "layers" / "sha256" / _hex(diff_id)

    def _record_path(self, image_id: str) -> Path:
        return self.root / "images" / f"{_hex(image_id)}.json"

    # -- lookups (no network) --------------------------------------------------------------

    def lookup(self, reference: str) -> ResolvedImage | None:
        """The image ``reference`` names if it is complete in the store."""
        ref = parse_reference(reference)
        record = self._record_for(ref)
        if record is None or not self._complete(record):
            return None
        return self._resolved(record, ref.canonical)

    def _record_for(self, ref: Reference) -> dict[str, Any] | None:
        entry = self._refs().get(ref.canonical)
        if entry is not None:
            return self._record(entry["id"])
        if ref.digest is None:
            return None
        for record in self._records():
            if record["manifest_digest"] == ref.digest and record["repository"] == ref.name:
                return record
        return None

    def _complete(self, record: dict[str, Any]) -> bool:
        return self.blob_path(record["id"]).is_file() and all(
            self.layer_path(layer["diff_id"]).is_dir() for layer in record["layers"]
        )

    def _resolved(self, record: dict[str, Any], reference: str) -> ResolvedImage:
        config_blob = json.loads(self.blob_path(record["id"]).read_bytes())
        return ResolvedImage(
            reference=reference,
            image_id=record["id"],
            manifest_digest=record["manifest_digest"],
            layer_dirs=tuple(self.layer_path(layer["diff_id"]) for layer in record["layers"]),
            config=ImageConfig.from_blob(config_blob),
            size=int(record["size"]),
        )

    def list_images(self) -> list[ImageSummary]:
        pins = self._pins()
        refs = self._refs()
        out = []
        for record in self._records():
            names = tuple(sorted(r for r, e in refs.items() if e["id"] == record["id"]))
            users = tuple(sorted(p for p, ids in pins.items() if record["id"] in ids))
            out.append(
                ImageSummary(
                    record["id"],
                    names,
                    int(record["size"]),
                    record.get("created", ""),
                    float(record.get("pulled_at", 0.0)),
                    users,
                )
            )
        return sorted(out, key=lambda s: (s.references, s.image_id))

    # -- pulling ---------------------------------------------------------------------------

    def ensure(
        self,
        reference: str,
        *,
        policy: str = "missing",
        platform: str | None = None,
        progress: PullProgress | None = None,
        insecure: bool = False,
    ) -> ResolvedImage:
        """The image, pulled first when ``policy`` asks for it."""
        ref = parse_reference(reference)
        rule = parse_policy(policy)
        local = self.lookup(ref.canonical)
        if rule.mode == "never":
            if local is None:
                raise ImageError(
                    f"{ref} is not in the image store and its pull_policy is never",
                    hint="pull it first: composer pull (or change pull_policy)",
                )
            return local
        if local is not None and (rule.mode == "missing" or ref.digest is not None):
            return local  # a digest names immutable content: nothing newer can exist
        if (
            local is not None
            and rule.mode == "interval"
            and time.time() - self._checked_at(ref) < rule.max_age
        ):
            return local
        return self.pull(ref, platform=platform, progress=progress, insecure=insecure)

    def pull(
        self,
        ref: Reference,
        *,
        platform: str | None = None,
        progress: PullProgress | None = None,
        insecure: bool = False,
    ) -> ResolvedImage:
        """Fetch ``ref`` from its registry; layers already in the store are neither fetched nor unpacked."""
        from composer.images.registry import Platform, RegistryClient

        wanted = Platform.parse(platform) if platform else None
        extra = {ref.registry, ref.api_host} if insecure else set()
        with self._lock("gc", shared=True), RegistryClient(insecure=self.insecure | extra) as client:
            self._clean_tmp()
            manifest = client.fetch_manifest(ref, platform=wanted)
            config_raw = self._config_blob(client, ref, manifest.config)
            diff_ids = _diff_ids(config_raw, manifest, ref)
            if progress:
                progress.event(PullStarted(ref.canonical, len(manifest.layers)))
            downloaded, unpacked = self._fetch_layers(client, ref, manifest, diff_ids, progress)
            self._write_blob(manifest.digest, manifest.raw)
            record = self._save_record(ref, manifest, config_raw, diff_ids)
        if progress:
            progress.event(
                PullDone(
                    ref.canonical,
                    record["id"],
                    downloaded,
                    unpacked,
                    up_to_date=downloaded == 0 and unpacked == 0,
                )
            )
        return self._resolved(record, ref.canonical)

    def _config_blob(self, client: RegistryClient, ref: Reference, desc: Descriptor) -> bytes:
        path = self.blob_path(desc.digest)
        if path.is_file():
            return path.read_bytes()
        data = client.fetch_bytes(ref, desc)
        self._write_blob(desc.digest, data)
        return data

    def _fetch_layers(
        self,
        client: RegistryClient,
        ref: Reference,
        manifest: ImageManifest,
        diff_ids: list[str],
        progress: PullProgress | None,
    ) -> tuple[int, int]:
        unique = dict(zip(diff_ids, manifest.layers, strict=True))  # a layer may repeat in one image
        workers = max(1, min(self.max_parallel, len(unique)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="composer-pull") as pool:
            jobs = [
                pool.submit(self._ensure_layer, client, ref, desc, diff_id, progress)
                for diff_id, desc in unique.items()
            ]
            results = [job.result() for job in jobs]
        return sum(r[0] for r in results), sum(r[1] for r in results)

    def _ensure_layer(
        self,
        client: RegistryClient,
        ref: Reference,
        desc: Descriptor,
        diff_id: str,
        progress: PullProgress | None,
    ) -> tuple[int, int]:
        """(bytes downloaded, layers unpacked) for one layer; both 0 when it was there."""
        final = self.layer_path(diff_id)
        emit = _emitter(progress, ref.canonical, desc)
        if final.is_dir():
            emit("exists")
            return 0, 0
        emit("waiting")
        with self._lock(f"layer-{_hex(diff_id)}"):
            if final.is_dir():  # another pull did it while we waited
                emit("exists")
                return 0, 0
            blob = self.blob_path(desc.digest)
            downloaded = 0
            if not blob.is_file():
                emit("downloading")
                partial = self.root / "tmp" / f"{_hex(desc.digest)}.partial"
                advance = (
                    (
                        lambda n: progress.event(
                            LayerEvent(ref.canonical, desc.digest, "downloading", desc.size, n)
                        )
                    )
                    if progress
                    else None
                )
                downloaded = client.fetch_blob(ref, desc, blob, partial, advance)
                emit("downloaded")
            emit("extracting")
            self._unpack(blob, final, diff_id)
            if not self.keep_layer_blobs:
                blob.unlink(missing_ok=True)
        emit("done")
        return downloaded, 1

    def _unpack(self, blob: Path, final: Path, diff_id: str) -> None:
        staging = self.root / "tmp" / f"layer-{_hex(diff_id)[:16]}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            stats = apply_layer(blob, staging)
            if stats.diff_id != diff_id:
                raise ImageError(
                    f"layer {blob.name[:12]} unpacks to {stats.diff_id}, but the image config "
                    f"says {diff_id}; refused"
                )
            os.rename(staging, final)  # atomic: the layer appears complete or not at all
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            blob.unlink(missing_ok=True)  # a blob that unpacks wrong is not kept either
            raise

    def _save_record(
        self, ref: Reference, manifest: ImageManifest, config_raw: bytes, diff_ids: list[str]
    ) -> dict[str, Any]:
        image_id = manifest.config.digest
        config = json.loads(config_raw)
        with self._lock("meta"):
            record = self._record(image_id) or {
                "schema_version": SCHEMA_VERSION,
                "id": image_id,
                "created": str(config.get("created", "")),
            }
            record.update(
                {
                    "repository": ref.name,
                    "manifest_digest": manifest.digest,
                    "media_type": manifest.media_type,
                    "layers": [
                        {"digest": d.digest, "size": d.size, "diff_id": i}
                        for d, i in zip(manifest.layers, diff_ids, strict=True)
                    ],
                    "size": sum(d.size for d in manifest.layers),
                    "pulled_at": time.time(),
                }
            )
            _write_json(self._record_path(image_id), record)
            refs = self._refs()
            now = time.time()
            names = (
                [ref.canonical] if ref.digest else [ref.canonical, ref.with_digest(manifest.digest).canonical]
            )
            for name in names:
                refs[name] = {"id": image_id, "checked_at": now}
            _write_json(self.root / "refs.json", refs)
        return record

    # -- built images (composer build) ----------------------------------------------------

    def adopt_layer(self, folder: Path, diff_id: str) -> Path:
        """Move a layer folder a build made (overlay format) into the store under its diff_id."""
        final = self.layer_path(diff_id)
        with self._lock(f"layer-{_hex(diff_id)}"):
            if final.is_dir():
                shutil.rmtree(folder, ignore_errors=True)  # the same content is there already
            else:
                os.rename(folder, final)
        return final

    def adopt_blob(self, path: Path, digest: str) -> None:
        """Move a layer blob a build packed into ``blobs/`` (kept: push sends it)."""
        final = self.blob_path(digest)
        if final.is_file():
            path.unlink(missing_ok=True)
        else:
            os.replace(path, final)

    def image_files(self, image_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The config blob (parsed) and the layer descriptors of an image in the store."""
        record = self._record(image_id)
        if record is None:
            raise ImageError(f"no image {image_id} in the store")
        return json.loads(self.blob_path(image_id).read_bytes()), list(record["layers"])

    def save_built(
        self, names: Iterable[str], manifest_raw: bytes, config_raw: bytes, layers: list[dict[str, Any]]
    ) -> ResolvedImage:
        """Record an image a build made; every layer folder and blob must be in the store already."""
        manifest_digest = sha256_digest(manifest_raw)
        image_id = sha256_digest(config_raw)
        self._write_blob(image_id, config_raw)
        self._write_blob(manifest_digest, manifest_raw)
        refs_wanted = [parse_reference(name) for name in names]
        config = json.loads(config_raw)
        with self._lock("meta"):
            record = {
                "schema_version": SCHEMA_VERSION,
                "id": image_id,
                "created": str(config.get("created", "")),
                "repository": refs_wanted[0].name if refs_wanted else "",
                "manifest_digest": manifest_digest,
                "media_type": "application/vnd.oci.image.manifest.v1+json",
                "layers": layers,
                "size": sum(int(layer["size"]) for layer in layers),
                "pulled_at": time.time(),
                "built": True,
            }
            _write_json(self._record_path(image_id), record)
            refs = self._refs()
            for ref in refs_wanted:
                refs[ref.canonical] = {"id": image_id, "checked_at": time.time()}
            _write_json(self.root / "refs.json", refs)
        return self._resolved(record, refs_wanted[0].canonical if refs_wanted else image_id)

    def push(self, reference: str, insecure: bool = False) -> tuple[str, int]:
        """Send an image of the store to the registry its reference names: (manifest digest, blobs sent).

        Every blob must be in the store: a built image keeps its layers' blobs; a pulled
        one keeps only its unpacked layers (unless the store keeps blobs), so it cannot
        be pushed as it came (its digests would not be the registry's).
        """
        from composer.images.registry import RegistryClient

        ref = parse_reference(reference)
        record = self._record_for(ref)
        if record is None:
            raise ImageError(f"no image {reference} in the store", hint="build or pull it first")
        missing = [layer["digest"] for layer in record["layers"] if not self._has_blobs(layer)]
        if missing:
            raise ImageError(
                f"{reference}: {len(missing)} layer blob(s) are not kept in the store (layers of a pulled "
                "base image are kept unpacked only)",
                hint="push images built FROM scratch or FROM images pulled with blobs kept",
            )
        extra = {ref.registry, ref.api_host} if insecure else set()
        manifest_raw = self.blob_path(record["manifest_digest"]).read_bytes()
        sent = 0
        with RegistryClient(insecure=self.insecure | extra) as client:
            for layer in record["layers"]:
                sent += client.push_blob(ref, layer["digest"], self.blob_path(layer["digest"]).read_bytes())
            sent += client.push_blob(ref, record["id"], self.blob_path(record["id"]).read_bytes())
            digest = client.push_manifest(ref, manifest_raw, record["media_type"])
        with self._lock("meta"):
            refs = self._refs()
            refs[ref.canonical] = {"id": record["id"], "checked_at": time.time()}
            _write_json(self.root / "refs.json", refs)
        return digest, sent

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """Held by a build: garbage collection waits, so no layer it made vanishes before its record."""
        with self._lock("gc", shared=True):
            self._clean_tmp()
            yield

    def _has_blobs(self, layer: dict[str, Any]) -> bool:
        return self.blob_path(layer["digest"]).is_file()

    # -- pins ------------------------------------------------------------------------------

    def pin(self, project: str, image_id: str) -> None:
        """Mark ``image_id`` as used by ``project``: rmi and prune will keep it."""
        with self._lock("meta"):
            pins = self._pins().get(project, [])
            if image_id not in pins:
                _write_json(
                    self.root / "pins" / f"{_safe(project)}.json",
                    {"project": project, "images": sorted([*pins, image_id])},
                )

    def unpin_project(self, project: str) -> None:
        with self._lock("meta"):
            (self.root / "pins" / f"{_safe(project)}.json").unlink(missing_ok=True)

    # -- removal ---------------------------------------------------------------------------

    def remove(self, reference_or_id: str, force: bool = False) -> list[str]:
        """Untag a reference, or delete an image by id; returns what was done, line by line.

        An image a project has pinned is never removed.  An id with several references
        needs ``force``.  Layers no image uses any more are deleted.
        """
        with self._lock("gc"), self._lock("meta"):
            refs = self._refs()
            record, names = self._find(reference_or_id, refs)
            users = sorted(p for p, ids in self._pins().items() if record["id"] in ids)
            if users:
                raise ImageError(
                    f"{reference_or_id} is used by project {', '.join(users)}; not removed",
                    hint="run composer down in that project first",
                )
            tags = [name for name in names if "@" not in name]  # digest names follow their image
            if len(tags) > 1 and not force:
                raise ImageError(
                    f"image {_hex(record['id'])[:12]} has several tags ({', '.join(tags)})",
                    hint="pass --force to remove them all",
                )
            done = [f"untagged: {name}" for name in names]
            for name in names:
                refs.pop(name, None)
            if not _has_tag(refs, record["id"]):  # no tag left: the image goes, digest names too
                self._drop_record(record["id"], refs)
                done.append(f"deleted: {record['id']}")
            _write_json(self.root / "refs.json", refs)
            self._gc()
        return done

    def prune(self, all_unused: bool = True) -> int:
        """Remove images no project pins (``all_unused``) or only untagged ones; returns bytes freed."""
        with self._lock("gc"), self._lock("meta"):
            refs = self._refs()
            pinned = {image_id for ids in self._pins().values() for image_id in ids}
            for record in self._records():
                if record["id"] in pinned:
                    continue
                if all_unused or not any(e["id"] == record["id"] for e in refs.values()):
                    self._drop_record(record["id"], refs)
            _write_json(self.root / "refs.json", refs)
            freed = self._gc()
            self._clean_tmp(everything=True)
        return freed

    def _find(self, text: str, refs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        match = _ID_RE.match(text.strip())
        if match:
            found = [r for r in self._records() if _hex(r["id"]).startswith(match.group(1))]
            if len(found) == 1:
                names = sorted(n for n, e in refs.items() if e["id"] == found[0]["id"])
                return found[0], names
            if len(found) > 1:
                raise ImageError(f"{text} matches {len(found)} images; give more of the id")
        ref = parse_reference(text)
        entry = refs.get(ref.canonical)
        record = self._record(entry["id"]) if entry else None
        if record is None:
            raise ImageError(f"no image {text} in the store")
        return record, [ref.canonical]

    def _drop_record(self, image_id: str, refs: dict[str, Any]) -> None:
        for name in [n for n, e in refs.items() if e["id"] == image_id]:
            del refs[name]
        self._record_path(image_id).unlink(missing_ok=True)

    def _gc(self) -> int:
        """Delete blobs and layers no record names; returns bytes freed."""
        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()
        for record in self._records():
            keep_blobs.update(_hex(d) for d in (record["id"], record["manifest_digest"]))
            keep_blobs.update(_hex(layer["digest"]) for layer in record["layers"])
            keep_layers.update(_hex(layer["diff_id"]) for layer in record["layers"])
        freed = 0
        for blob in (self.root / "blobs" / "sha256").iterdir():
            if blob.name not in keep_blobs:
                freed += blob.stat().st_size
                blob.unlink()
        for layer in (self.root / "layers" / "sha256").iterdir():
            if layer.name not in keep_layers:
                freed += _tree_size(layer)
                trash = self.root / "tmp" / f"trash-{layer.name[:16]}-{secrets.token_hex(4)}"
                os.rename(layer, trash)  # gone from layers/ at once, deleted at leisure
                shutil.rmtree(trash, ignore_errors=True)
        return freed

    # -- state files -----------------------------------------------------------------------

    def _refs(self) -> dict[str, Any]:
        return _read_json(self.root / "refs.json") or {}

    def _checked_at(self, ref: Reference) -> float:
        return float(self._refs().get(ref.canonical, {}).get("checked_at", 0.0))

    def _record(self, image_id: str) -> dict[str, Any] | None:
        record: dict[str, Any] | None = _read_json(self._record_path(image_id))
        return record

    def _records(self) -> list[dict[str, Any]]:
        found = (_read_json(path) for path in sorted((self.root / "images").glob("*.json")))
        return [record for record in found if record]

    def _pins(self) -> dict[str, list[str]]:
        pins: dict[str, list[str]] = {}
        for path in sorted((self.root / "pins").glob("*.json")):
            data = _read_json(path)
            if data:
                pins[str(data["project"])] = list(data["images"])
        return pins

    def _write_blob(self, digest: str, data: bytes) -> None:
        if sha256_digest(data) != digest:
            raise ImageError(f"refusing to store data under the wrong digest {digest}")
        path = self.blob_path(digest)
        if not path.is_file():
            _write_atomic(path, data)

    def _clean_tmp(self, everything: bool = False) -> None:
        """Remove unpack folders left by dead pulls (partial downloads stay, to be resumed)."""
        for entry in (self.root / "tmp").iterdir():
            if entry.name.endswith(".partial") and not everything:
                continue
            pid = _pid_of(entry.name)
            if everything or pid is None or not _alive(pid):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _lock(self, name: str, shared: bool = False) -> Iterator[None]:
        fd = os.open(self.root / "locks" / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _emitter(progress: PullProgress | None, reference: str, desc: Descriptor) -> Any:
    def emit(phase: Any) -> None:
        if progress:
            progress.event(LayerEvent(reference, desc.digest, phase, desc.size))

    return emit


def _diff_ids(config_raw: bytes, manifest: ImageManifest, ref: Reference) -> list[str]:
    try:
        config = json.loads(config_raw)
        diff_ids = config["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError) as error:
        raise ImageError(f"the image config of {ref} has no rootfs.diff_ids") from error
    if not isinstance(diff_ids, list) or len(diff_ids) != len(manifest.layers):
        raise ImageError(
            f"the image config of {ref} lists {len(diff_ids)} layers, the manifest {len(manifest.layers)}"
        )
    for diff_id in diff_ids:
        _hex(diff_id)
    return [str(d) for d in diff_ids]


def _has_tag(refs: dict[str, Any], image_id: str) -> bool:
    return any(e["id"] == image_id and "@" not in name for name, e in refs.items())


def _hex(digest: str) -> str:
    algo, _, value = digest.partition(":")
    if algo != "sha256" or not re.fullmatch(r"[a-f0-9]{64}", value):
        raise ImageError(f"unsupported digest {digest!r}")
    return value


def _safe(project: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", project)


def _pid_of(name: str) -> int | None:
    match = re.match(r"^(?:layer|trash)-[a-f0-9]+-(\d+)-", name)
    return int(match.group(1)) if match else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tree_size(path: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise ImageError(f"the image store file {path} is corrupt: {error}") from error


def _write_json(path: Path, data: Any) -> None:
    _write_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
