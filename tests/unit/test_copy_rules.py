"""cp's rules: which side is the container's (composer.verbs.cp), where things land and the tar
round trip (composer.kernel.tarcopy), on plain folders (the chrooted child is tested on the real kernel)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from composer.errors import ComposerError, HostError
from composer.kernel.tarcopy import CopyOptions, Placement, placement, read_tree, source_name, write_tree
from composer.verbs.cp import parse_copy


def test_parse_copy() -> None:
    out = parse_copy("web:/etc/hosts", "./hosts")
    assert (out.service, out.container_path, out.host_path, out.to_container) == (
        "web",
        "/etc/hosts",
        "./hosts",
        False,
    )
    into = parse_copy("/tmp/a", "web:etc/app")
    assert (into.service, into.container_path, into.to_container) == ("web", "/etc/app", True)
    assert parse_copy("-", "web:/x").host_path == "-"
    with pytest.raises(ComposerError, match="only one"):
        parse_copy("a:/x", "b:/y")
    with pytest.raises(ComposerError, match="only one"):
        parse_copy("/x", "./y")


def test_placement_follows_docker_cp() -> None:
    assert placement("/d", False, False, exists=True, is_dir=True) == Placement("/d", None)
    assert placement("/d/new", False, False, exists=False, is_dir=False) == Placement("/d", "new")
    assert placement("/d/new", True, True, exists=False, is_dir=False) == Placement("/d/new", None)
    with pytest.raises(HostError, match="onto the file"):
        placement("/d/file", True, False, exists=True, is_dir=False)
    with pytest.raises(HostError, match="does not exist"):
        placement("/d/missing/", False, False, exists=False, is_dir=False)
    assert source_name("/a/b/") == ("b", False) and source_name("/a/b/.") == ("b", True)


def test_round_trip_renames_and_owners(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "in").mkdir(parents=True)
    (src / "in" / "f").write_text("x")
    buffer = io.BytesIO()
    write_tree(buffer, str(src), CopyOptions())
    buffer.seek(0)
    read_tree(buffer, Placement(str(tmp_path / "dest"), "renamed"), CopyOptions())
    assert (tmp_path / "dest" / "renamed" / "in" / "f").read_text() == "x"
    if os.geteuid() == 0:
        assert (tmp_path / "dest" / "renamed" / "in" / "f").stat().st_uid == 0


def test_a_member_escaping_the_destination_is_refused(tmp_path: Path) -> None:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escape")
        tar.addfile(info, io.BytesIO(b""))
    buffer.seek(0)
    with pytest.raises(tarfile.OutsideDestinationError):
        read_tree(buffer, Placement(str(tmp_path / "dest"), None), CopyOptions())
    assert not (tmp_path / "escape").exists()
