"""The freezer against FAKE cgroupfs trees in a temporary folder.

cgroup v2 controllers cannot exist on this (v1 hybrid) host, so ``cgroup.freeze``
and ``cgroup.events`` are plain files here: the test plays the kernel's part by
writing ``frozen 1`` to the events file.  The v1 freezer is exercised for real
in tests/kernel/project/test_project_pause_wait.py; here its bookkeeping (the
folder made beneath composer's own freezer cgroup, tasks moved in and back)
runs on a fake tree too.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from composer.errors import HostError
from composer.kernel import freezer as freezer_module
from composer.kernel.freezer import Freezer


def test_v2_freeze_writes_and_waits_for_the_kernel(tmp_path: Path) -> None:
    folder = tmp_path / "composer" / "p" / "c"
    folder.mkdir(parents=True)
    (folder / "cgroup.freeze").write_text("0\n")
    (folder / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    paths = {"unified": str(folder)}

    def kernel() -> None:
        time.sleep(0.05)  # the freeze completes asynchronously
        (folder / "cgroup.events").write_text("populated 1\nfrozen 1\n")

    thread = threading.Thread(target=kernel)
    thread.start()
    Freezer().freeze(paths, "p", "c")
    thread.join()
    assert (folder / "cgroup.freeze").read_text() == "1"
    assert Freezer().frozen(paths, "p", "c")
    Freezer().thaw(paths, "p", "c")
    assert (folder / "cgroup.freeze").read_text() == "0"


def test_v2_freeze_that_never_settles_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "cgroup.events").write_text("frozen 0\n")
    monkeypatch.setattr(freezer_module, "SETTLE_TIMEOUT", 0.05)
    with pytest.raises(HostError, match="did not settle"):
        Freezer().freeze({"unified": str(folder)}, "p", "c")


def test_v1_moves_tasks_in_and_back_out(tmp_path: Path) -> None:
    sys_root = tmp_path / "sys"
    own = sys_root / "freezer" / "own"
    own.mkdir(parents=True)
    (own / "cgroup.procs").write_text("")
    memory = sys_root / "memory" / "composer" / "p" / "c"
    memory.mkdir(parents=True)
    (memory / "cgroup.procs").write_text("41\n42\n")
    proc = tmp_path / "self_cgroup"
    proc.write_text("6:freezer:/own\n4:memory:/\n")
    fz = Freezer(sys_root, proc)
    folder = own / "composer" / "p" / "c"

    original_write = freezer_module._write

    def kernel_write(path: Path, value: str) -> None:  # appending task ids, as cgroup.procs does
        if path.name == "cgroup.procs":
            with open(path, "a") as handle:
                handle.write(value + "\n")
        else:
            original_write(path, value)

    freezer_module._write = kernel_write  # type: ignore[assignment]
    try:
        fz.freeze({"memory": str(memory)}, "p", "c")
        assert (folder / "freezer.state").read_text() == "FROZEN"
        assert sorted((folder / "cgroup.procs").read_text().split()) == ["41", "42"]
        assert fz.frozen({"memory": str(memory)}, "p", "c")
        fz.thaw({"memory": str(memory)}, "p", "c")
    finally:
        freezer_module._write = original_write  # type: ignore[assignment]
    assert (folder / "freezer.state").read_text() == "THAWED"
    assert sorted(set((own / "cgroup.procs").read_text().split())) == ["41", "42"]  # back home
    # (a real cgroupfs then lets the folder be removed; plain folders with files do not)


def test_no_freezer_is_a_clear_error(tmp_path: Path) -> None:
    proc = tmp_path / "self_cgroup"
    proc.write_text("4:memory:/\n")
    with pytest.raises(HostError, match="no cgroup freezer"):
        Freezer(tmp_path, proc).freeze({"memory": str(tmp_path)}, "p", "c")
