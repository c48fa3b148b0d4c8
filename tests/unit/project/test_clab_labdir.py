"""The containerlab lab directory on a real file system: written, kept up to date, removed; others' files stay."""

from __future__ import annotations

import json
from pathlib import Path

from composer.cli import clab_labdir
from composer.model.desired import DesiredState

TOPOLOGY = """\
name: ld
topology:
  nodes:
    a: {kind: linux, image: alpine}
    b: {kind: linux, image: alpine}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
"""


def test_written_then_removed_leaving_files_that_are_not_ours(tmp_path: Path) -> None:
    file = tmp_path / "ld.clab.yml"
    file.write_text(TOPOLOGY)
    assert clab_labdir.write([file], DesiredState.empty("ld")) == ""
    data = json.loads((tmp_path / "clab-ld" / "topology-data.json").read_text())
    assert list(data["nodes"]) == ["a", "b"] and data["links"][0]["z"]["node"] == "b"
    (tmp_path / "clab-ld" / "a" / "startup.cfg").write_text("mine")
    clab_labdir.remove([file], "other")  # another project's down leaves it alone
    assert (tmp_path / "clab-ld" / "topology-data.json").exists()
    clab_labdir.remove([file], "ld")
    assert sorted(p.name for p in (tmp_path / "clab-ld").rglob("*")) == ["a", "startup.cfg"]


def test_a_compose_file_has_no_lab_directory(tmp_path: Path) -> None:
    file = tmp_path / "compose.yaml"
    file.write_text("services: {a: {image: alpine}}\n")
    assert clab_labdir.write([file], DesiredState.empty("x")) == ""
    assert list(tmp_path.iterdir()) == [file]


def test_a_folder_it_cannot_write_is_reported_not_raised(tmp_path: Path) -> None:
    file = tmp_path / "ld.clab.yml"
    file.write_text(TOPOLOGY)
    (tmp_path / "clab-ld").write_text("a file where the folder should be")
    assert "cannot write the lab directory" in clab_labdir.write([file], DesiredState.empty("ld"))


def test_a_project_named_apart_from_its_lab_removes_its_folder_and_no_other_does(tmp_path: Path) -> None:
    file = tmp_path / "ld.clab.yml"
    file.write_text(TOPOLOGY)
    assert clab_labdir.write([file], DesiredState.empty("renamed")) == ""  # up -p renamed
    clab_labdir.remove([file], "third")
    assert (tmp_path / "clab-ld" / "topology-data.json").exists()
    clab_labdir.remove([file], "renamed")  # down -p renamed
    assert not (tmp_path / "clab-ld").exists()
