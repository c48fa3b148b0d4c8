"""Rootless cgroups against a FAKE cgroupfs tree (this host runs v1 and delegates nothing to users).

The tree is plain folders laid out like a unified hierarchy; the real v1 case
(no delegation) is exercised by the rootless kernel tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from composer.kernel.rootless_cgroups import DelegatedV2Driver, NoCgroupDriver, limit_support, rootless_driver
from composer.model.container import CgroupLimits


def fake_tree(tmp_path: Path, controllers: str, writable: bool = True) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    own = root / "user.slice" / "user-1001.slice" / "user@1001.service" / "app.slice"
    own.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (own / "cgroup.controllers").write_text(controllers + "\n")
    (own / "cgroup.subtree_control").write_text("")
    (own / "cgroup.procs").write_text("")
    if not writable:  # not delegated: the folder belongs to someone else (root's, seen from a user)
        os.chown(own / "cgroup.procs", 65534, 65534)
        os.chown(own, 65534, 65534)
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("0::/user.slice/user-1001.slice/user@1001.service/app.slice\n")
    return root, proc


def test_a_delegated_tree_gets_the_limits_of_its_controllers_only(tmp_path: Path) -> None:
    root, proc = fake_tree(tmp_path, "memory pids")
    support = limit_support(root, proc)
    assert support.use_cgroups and support.controllers == frozenset({"memory", "pids"})
    driver = rootless_driver(support, root, proc)
    assert isinstance(driver, DelegatedV2Driver)
    handle = driver.create("p", "p-a-1", CgroupLimits(memory=64 << 20, cpus=0.5, pids=50))
    folder = Path(handle.paths["unified"])
    assert (folder / "memory.max").read_text() == str(64 << 20)
    assert (folder / "pids.max").read_text() == "50"
    assert not (folder / "cpu.max").exists()  # cpu is not delegated: never written, never pretended
    own = folder.parent.parent.parent
    assert (own / "cgroup.subtree_control").read_text() == "+memory +pids"


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder someone else's needs root")
def test_an_undelegated_tree_means_no_cgroup_at_all(tmp_path: Path) -> None:
    root, proc = fake_tree(tmp_path, "memory pids", writable=False)
    support = limit_support(root, proc)
    assert not support.use_cgroups and "not delegated" in support.reason
    driver = rootless_driver(support, root, proc)
    assert isinstance(driver, NoCgroupDriver)
    handle = driver.create("p", "p-a-1", CgroupLimits(memory=1 << 20))
    assert handle.paths == {} and handle.procs_files() == [] and handle.pids() == set()
    handle.kill_all()
    handle.remove()


def test_cgroup_v1_is_never_delegated(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    (root / "memory").mkdir(parents=True)
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("4:memory:/\n0::/\n")
    support = limit_support(root, proc)
    assert not support.use_cgroups and "v1" in support.reason
