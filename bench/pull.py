"""Image pull + unpack: composer's store against ``skopeo copy`` + ``umoci unpack``, side by side.

Builds an image of about 50 MB in several layers (busybox plus layers of files
with seeded pseudo-random and repetitive content, so gzip has real work), pushes
it to a ``docker-registry`` it starts on 127.0.0.1, then in the same run, ``--runs``
times each with fresh folders:

(a) composer: ``ImageStore(fresh).ensure(ref)`` (manifest, config, parallel layer
    downloads verified by digest, each layer unpacked by the chrooted unpacker);
(b) baseline: ``skopeo copy docker://... oci:DIR:tag`` then ``umoci unpack``.

Then a second ``ensure(ref, policy="always")`` into the same store, which must
download nothing and unpack nothing.  Run as root: ``python bench/pull.py [--runs 3]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from composer.images.progress import CollectingProgress
from composer.images.store import ImageStore
from tests.support.images import Entry, Pusher, build_image, tar_entries, tar_tree
from tests.support.registry import running_registry
from tests.support.rootfs import make_busybox_rootfs

LAYERS = 5
FILES_PER_LAYER = 160
FILE_SIZE = 64 * 1024
WORDS = [b"composer", b"layer", b"overlay", b"digest", b"registry", b"manifest", b"busybox", b"\n"]


def _content(rng: random.Random) -> bytes:
    """Half incompressible, half text-like: about what a binary plus its data files give gzip."""
    noise = rng.randbytes(FILE_SIZE // 2)
    words = b" ".join(rng.choice(WORDS) for _ in range(FILE_SIZE // 12))[: FILE_SIZE // 2]
    return noise + words


def build(work: Path) -> tuple[list[bytes], int]:
    rng = random.Random(20240601)
    layers = [tar_tree(make_busybox_rootfs(work / "rootfs"))]
    for index in range(LAYERS):
        entries = [Entry(f"data/l{index}", dir=True, mode=0o755)]
        entries += [Entry(f"data/l{index}/f{n:04d}", _content(rng)) for n in range(FILES_PER_LAYER)]
        layers.append(tar_entries(entries))
    return layers, sum(len(layer) for layer in layers)


def composer_pull(ref: str, root: Path) -> float:
    start = time.perf_counter()
    ImageStore(root).ensure(ref)
    return time.perf_counter() - start


def skopeo_umoci(ref: str, work: Path) -> float:
    layout, bundle = work / "oci", work / "bundle"
    work.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{layout}:bench"],
        check=True,
    )
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:bench", str(bundle)], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def _runs(times: list[float]) -> str:
    return ", ".join(f"{t:.3f}" for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="composer-bench-pull-"))
    try:
        layers, raw_size = build(work)
        image = build_image(layers, {"Cmd": ["/bin/sh"]})
        packed = sum(len(image.blobs[d]) for d in image.layer_digests())
        print(
            f"image: {len(layers)} layers, {raw_size / 1e6:.1f} MB unpacked, {packed / 1e6:.1f} MB compressed"
        )
        with running_registry(work / "registry") as registry:
            with Pusher(registry.url) as pusher:
                pusher.push_image("bench/big", "1", image)
            ref = f"{registry.host}/bench/big:1"
            ours, theirs = [], []
            for run in range(args.runs):
                ours.append(composer_pull(ref, work / f"store{run}"))
                theirs.append(skopeo_umoci(ref, work / f"skopeo{run}"))
                shutil.rmtree(work / f"skopeo{run}")
            progress = CollectingProgress()
            start = time.perf_counter()
            ImageStore(work / "store0").ensure(ref, policy="always", progress=progress)
            again = time.perf_counter() - start
        ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
        done = progress.done()[0]
        print(f"composer pull+unpack        median {ours_s:.3f}s  runs {_runs(ours)}")
        print(f"skopeo copy + umoci unpack  median {theirs_s:.3f}s  runs {_runs(theirs)}")
        print(f"ratio composer / baseline   {ours_s / theirs_s:.2f}")
        print(
            f"second pull (policy always) {again:.3f}s, {done.downloaded_bytes} bytes downloaded, "
            f"{done.layers_unpacked} layers unpacked"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
