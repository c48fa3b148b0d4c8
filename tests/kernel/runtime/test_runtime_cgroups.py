"""The cgroup driver of this host (v1) for real: placement, limits, reopen, leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_support import Lab

from composer.kernel.cgroups import CgroupV1Driver, parse_proc_cgroup
from composer.model.container import CgroupLimits

pytestmark = pytest.mark.kernel


def test_cgroups_live_beneath_our_own_cgroup(lab: Lab) -> None:
    own = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())
    handle = lab.driver.create(lab.project, "web", CgroupLimits())
    try:
        for controller, path in handle.paths.items():
            expected_parent = f"{own.get(controller, '/').rstrip('/')}/composer/{lab.project}/web"
            assert path.endswith(expected_parent)
            assert Path(path).is_dir()
    finally:
        handle.remove()


def test_v1_limits_are_written(lab: Lab) -> None:
    if not isinstance(lab.driver, CgroupV1Driver):
        pytest.skip("this host runs cgroup v2")
    limits = CgroupLimits(memory=64 << 20, memory_reservation=32 << 20, cpus=0.25, cpu_shares=256,
                          cpuset="0", pids=12)  # fmt: skip
    handle = lab.driver.create(lab.project, "web", limits)
    try:
        paths = {k: Path(v) for k, v in handle.paths.items()}
        assert (paths["memory"] / "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
        memsw = paths["memory"] / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            assert memsw.read_text().strip() == str(128 << 20)  # Docker's default: twice the memory
        assert (paths["memory"] / "memory.soft_limit_in_bytes").read_text().strip() == str(32 << 20)
        assert (paths["cpu"] / "cpu.shares").read_text().strip() == "256"
        assert handle.cpu_quota() == (25_000, 100_000)
        assert (paths["cpuset"] / "cpuset.cpus").read_text().strip() == "0"
        assert (paths["cpuset"] / "cpuset.mems").read_text().strip() != ""  # copied from the parent
        assert (paths["pids"] / "pids.max").read_text().strip() == "12"
        again = lab.driver.create(lab.project, "web", limits)  # idempotent
        assert again.paths == handle.paths
    finally:
        handle.remove()


def test_another_process_reopens_the_handle_from_paths(lab: Lab) -> None:
    container = lab.start("c", ["sleep", "30"])
    code = (
        "import json,sys; from composer.kernel.cgroups import open_handle;"
        " h = open_handle(json.loads(sys.argv[1])); print(sorted(h.pids()))"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(container.cgroup.paths)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert json.loads(out) == [container.pid]


def test_remove_project_kills_and_removes_leftovers(lab: Lab) -> None:
    handle = lab.driver.create(lab.project, "orphan", CgroupLimits(pids=5))
    stray = subprocess.Popen(["sleep", "30"])
    try:
        handle.attach(stray.pid)
        assert handle.pids() == {stray.pid}
        lab.driver.remove_project(lab.project)
        assert stray.wait(timeout=10) == -9
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
    assert not any(os.path.exists(p) for p in handle.paths.values())
