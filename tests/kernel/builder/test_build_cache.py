"""What must still miss the build cache once files' digests are remembered: real builds, RUN steps run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from composer.images.builder import Builder, BuildRequest, OutputLine, StepEvent
from composer.images.builder.builder import BuildResult
from composer.images.builder.digests import SETTLE_NS
from composer.images.builder.layers import StackView
from composer.images.store import ImageStore

pytestmark = pytest.mark.kernel

BASE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


def build(
    store: ImageStore, context: Path, text: str, tag: str, **options: Any
) -> tuple[Builder, BuildResult, dict[str, str]]:
    """One build; the builder (for its digest count), the result, and each step's final status by text."""
    (context / "Dockerfile").write_text(text)
    events: list[StepEvent | OutputLine] = []
    builder = Builder(store, BuildRequest(context=context, tags=(tag,), **options), events.append)
    result = builder.build()
    steps = {e.text: e.status for e in events if isinstance(e, StepEvent) and e.status in ("cached", "done")}
    return builder, result, steps


def read(store: ImageStore, reference: str, path: str) -> bytes | None:
    image = store.lookup(reference)
    assert image is not None
    return StackView(list(reversed(image.layer_dirs))).read_file(path)


def wait_settled(*paths: Path) -> None:
    """Until the files' last change is older than the settle window, so their digests are remembered."""
    newest = max(max(os.lstat(p).st_mtime_ns, os.lstat(p).st_ctime_ns) for p in paths)
    left = newest + SETTLE_NS - time.time_ns()
    if left > 0:
        time.sleep(left / 1e9 + 0.05)


def test_a_file_rewritten_to_the_same_size_and_mtime_misses(store: ImageStore, context: Path) -> None:
    data = context / "a.txt"
    data.write_text("one\n")
    wait_settled(data, context / "busybox")
    text = BASE + "COPY a.txt /a.txt\nRUN cat /a.txt > /copy\n"
    _, first, _ = build(store, context, text, "bd-cache-file:1")
    remembered = json.loads(next((store.root / "build-cache" / "files").glob("*.json")).read_text())
    assert str(data) in remembered["files"]
    warm, second, steps = build(store, context, text, "bd-cache-file:1")
    assert warm.files.hashed == 0  # the digest came from the cache: what follows tests that path
    assert second.image.image_id == first.image.image_id
    assert steps["RUN cat /a.txt > /copy"] == "cached"
    before = os.lstat(data)
    time.sleep(0.02)  # past the filesystem's timestamp tick
    with open(data, "r+") as handle:  # same inode, same size
        handle.write("two\n")
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.lstat(data)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    _, third, steps = build(store, context, text, "bd-cache-file:1")
    assert steps["COPY busybox /bin/busybox"] == "cached"
    assert steps["COPY a.txt /a.txt"] == "done"
    assert steps["RUN cat /a.txt > /copy"] == "done"
    assert third.image.image_id != first.image.image_id
    assert read(store, "bd-cache-file:1", "/copy") == b"two\n"


def test_a_changed_build_arg_misses_from_its_first_use(store: ImageStore, context: Path) -> None:
    text = BASE + 'RUN echo fixed > /fixed\nARG LEVEL=low\nRUN echo "$LEVEL" > /level\n'
    _, first, _ = build(store, context, text, "bd-cache-arg:1", args={"LEVEL": "high"})
    _, second, steps = build(store, context, text, "bd-cache-arg:1", args={"LEVEL": "high"})
    assert second.image.image_id == first.image.image_id
    assert steps['RUN echo "$LEVEL" > /level'] == "cached"
    _, third, steps = build(store, context, text, "bd-cache-arg:1", args={"LEVEL": "max"})
    assert steps["RUN echo fixed > /fixed"] == "cached"
    assert steps['RUN echo "$LEVEL" > /level'] == "done"
    assert third.image.image_id != first.image.image_id
    assert read(store, "bd-cache-arg:1", "/level") == b"max\n"
    _, _, steps = build(store, context, text, "bd-cache-arg:1")  # back to the default
    assert steps['RUN echo "$LEVEL" > /level'] == "done"
    assert read(store, "bd-cache-arg:1", "/level") == b"low\n"


def test_a_changed_base_image_misses_every_step(store: ImageStore, context: Path) -> None:
    _, base_one, _ = build(store, context, BASE + "RUN echo one > /base\n", "bd-cache-base:1")
    app = "FROM bd-cache-base:1\nRUN cat /base > /seen\n"
    _, first, _ = build(store, context, app, "bd-cache-app:1")
    _, second, steps = build(store, context, app, "bd-cache-app:1")
    assert second.image.image_id == first.image.image_id
    assert steps["RUN cat /base > /seen"] == "cached"
    _, base_two, _ = build(store, context, BASE + "RUN echo two > /base\n", "bd-cache-base:1")
    assert base_two.image.image_id != base_one.image.image_id  # the same name, another image
    _, third, steps = build(store, context, app, "bd-cache-app:1")
    assert steps["RUN cat /base > /seen"] == "done"
    assert third.image.image_id != first.image.image_id
    assert read(store, "bd-cache-app:1", "/seen") == b"two\n"
