"""Crash safety and concurrency of the store, with real processes and a real registry.

A pull is killed with SIGKILL while a layer is being unpacked: the layer must not
appear under its final name, the image must not resolve, and the next pull must
finish the job and clear the debris.  Two pulls racing on the same image unpack
each layer once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from composer.images.progress import CollectingProgress
from composer.images.store import ImageStore
from tests.support.images import Entry, Pusher, build_image, tar_entries
from tests.support.registry import Registry

pytestmark = [pytest.mark.kernel, pytest.mark.registry]

# Runs in a child: pull, and SIGKILL ourselves as soon as the unpacker has written something.
KILLER = """
import os, signal, sys, threading, time
from pathlib import Path
from composer.images.progress import LayerEvent
from composer.images.store import ImageStore

root = Path(sys.argv[1])

def watch():
    while True:
        for staging in (root / "tmp").glob("layer-*"):
            if any(staging.iterdir()):
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.0005)

class Killer:
    def event(self, ev):
        if isinstance(ev, LayerEvent) and ev.phase == "extracting":
            threading.Thread(target=watch, daemon=True).start()

ImageStore(root).ensure(sys.argv[2], progress=Killer())
"""


def _many_files_layer(count: int) -> bytes:
    return tar_entries([Entry(f"files/{i:05d}", os.urandom(64)) for i in range(count)])


def _unpackers_in(staging_dirs: list[Path]) -> list[int]:
    """PIDs of orphaned unpackers still chrooted into one of ``staging_dirs``."""
    found = []
    targets = {str(p) for p in staging_dirs}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "root") in targets:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _reap(staging: list[Path]) -> None:
    """Stop the unpackers the killed pull orphaned (our own processes, by PID) and wait for them."""
    for pid in _unpackers_in(staging):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while _unpackers_in(staging):
        time.sleep(0.01)


def test_killed_pull_leaves_no_half_layer(registry: Registry, tmp_path: Path) -> None:
    image = build_image([_many_files_layer(4000)])
    with Pusher(registry.url) as pusher:
        pusher.push_image("t/crash", "1", image)
    ref = f"{registry.host}/t/crash:1"
    root = tmp_path / "store"
    ImageStore(root)
    child = subprocess.run([sys.executable, "-c", KILLER, str(root), ref], capture_output=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    staging = sorted((root / "tmp").glob("layer-*"))
    assert staging, "the pull was killed before it unpacked anything"
    _reap(staging)

    assert list((root / "layers/sha256").iterdir()) == []  # nothing under a final name
    store = ImageStore(root)
    assert store.lookup(ref) is None
    resolved = store.ensure(ref)
    assert len(os.listdir(resolved.layer_dirs[0] / "files")) == 4000
    assert list((root / "tmp").glob("layer-*")) == []  # the dead pull's debris is gone


def test_concurrent_pulls_unpack_each_layer_once(registry: Registry, tmp_path: Path) -> None:
    layers = [tar_entries([Entry(f"layer{i}/f", os.urandom(200_000))]) for i in range(3)]
    image = build_image(layers)
    with Pusher(registry.url) as pusher:
        pusher.push_image("t/race", "1", image)
    ref = f"{registry.host}/t/race:1"
    progresses = [CollectingProgress() for _ in range(3)]
    errors: list[BaseException] = []

    def pull(progress: CollectingProgress) -> None:
        try:
            ImageStore(tmp_path / "store").ensure(ref, progress=progress)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=pull, args=(p,)) for p in progresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(p.done()[0].layers_unpacked for p in progresses) == 3
    assert len(list((tmp_path / "store/layers/sha256").iterdir())) == 3
