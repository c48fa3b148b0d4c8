"""``type: image`` mounts for real: an image built here mounted read-only, whole and by subpath."""

from __future__ import annotations

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

BUILD = """\
name: mk-imgsrc
services:
  layered:
    build: {context: ./ctx, dockerfile: Dockerfile.layered}
    image: mk-imgvol-layered:1
  single:
    build: {context: ./ctx, dockerfile: Dockerfile.single}
    image: mk-imgvol-single:1
"""

PROJECT = """\
name: mk-imgvol
services:
  app:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes:
      - {type: image, source: "mk-imgvol-layered:1", target: /mnt/whole}
      - {type: image, source: "mk-imgvol-layered:1", target: /mnt/sub, image: {subpath: data}}
      - {type: image, source: "mk-imgvol-single:1", target: /mnt/single}
"""


def test_image_mounts_show_the_image_read_only(lab: Lab) -> None:
    context = lab.folder / "ctx"
    (context / "data").mkdir(parents=True)
    (context / "data" / "a.txt").write_text("from the first layer\n")
    (context / "more.txt").write_text("from the second layer\n")
    (context / "Dockerfile.layered").write_text("FROM scratch\nCOPY data /data\nCOPY more.txt /more.txt\n")
    (context / "Dockerfile.single").write_text("FROM scratch\nCOPY more.txt /only.txt\n")
    lab.write(BUILD, "build.yaml")
    lab.composer("-f", "build.yaml", "build")
    lab.write(PROJECT)
    lab.composer("up", "-d")
    seen = lab.exec(
        "mk-imgvol", "app", "sh", "-c",
        "cat /mnt/whole/data/a.txt /mnt/whole/more.txt /mnt/sub/a.txt /mnt/single/only.txt;"
        " touch /mnt/whole/x 2>/dev/null || echo read-only",
    )  # fmt: skip
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.splitlines() == [
        "from the first layer", "from the second layer", "from the first layer", "from the second layer",
        "read-only",
    ]  # fmt: skip
    lab.composer("down", "-t", "1")
    assert project_leftovers(lab.root, "mk-imgvol") == []


def test_an_image_mount_of_an_image_nowhere_fails_clearly(lab: Lab) -> None:
    lab.write(PROJECT.replace("mk-imgvol", "mk-noimg").replace("mk-noimg-layered:1", "127.0.0.1:9/nothing:1"))
    result = lab.composer("up", "-d", check=False)
    assert result.returncode != 0
    assert "nothing" in result.stderr and "Traceback" not in result.stderr
    assert project_leftovers(lab.root, "mk-noimg") == []
