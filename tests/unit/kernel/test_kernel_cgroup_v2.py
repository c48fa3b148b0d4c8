"""The cgroup v2 driver against a FAKE cgroupfs tree in a temporary folder.

This host runs cgroup v1 (hybrid), so v2 controllers cannot be exercised for
real here; the fake tree is plain folders and files laid out like a unified
hierarchy (cgroup.controllers, cgroup.subtree_control, cgroup.procs), which the
driver reads and writes exactly as it would the real one.  The v1 driver is
tested for real in tests/kernel/runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from composer.errors import HostError
from composer.kernel.cgroups import (
    CgroupV1Driver,
    CgroupV2Driver,
    CgroupV2Handle,
    cpu_weight,
    detect_cgroup_driver,
    open_handle,
    parse_proc_cgroup,
)
from composer.model.container import DEFAULT_DEVICE_RULES, CgroupLimits, DeviceRule


@pytest.fixture
def fake_v2(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    own = root / "user.slice" / "session"
    own.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (own / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (own / "cgroup.subtree_control").write_text("")
    (own / "cgroup.procs").write_text("")
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("0::/user.slice/session\n")
    return root, proc


class Attached:
    """Records the device programs the driver attaches (a fake tree cannot hold eBPF)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[DeviceRule, ...]]] = []

    def __call__(self, folder: str, rules: Sequence[DeviceRule]) -> None:
        self.calls.append((folder, tuple(rules)))


def test_detects_v2_and_creates_beneath_own_cgroup(fake_v2: tuple[Path, Path]) -> None:
    root, proc = fake_v2
    attached = Attached()
    driver = detect_cgroup_driver(root, proc, attached)
    assert isinstance(driver, CgroupV2Driver)
    limits = CgroupLimits(memory=256 << 20, memory_swap=512 << 20, memory_reservation=128 << 20, cpus=1.5,
                          cpu_shares=1024, cpuset="0-1", pids=64)  # fmt: skip
    handle = driver.create("proj", "web", limits)
    folder = root / "user.slice/session/composer/proj/web"
    assert handle.paths == {"unified": str(folder)}
    assert (folder / "memory.max").read_text() == str(256 << 20)
    assert (folder / "memory.low").read_text() == str(128 << 20)
    assert (folder / "cpu.max").read_text() == "150000 100000"
    assert (folder / "cpu.weight").read_text() == "39"
    assert (folder / "cpuset.cpus").read_text() == "0-1"
    assert (folder / "pids.max").read_text() == "64"
    for level in ("", "/composer", "/composer/proj"):
        text = (root / f"user.slice/session{level}/cgroup.subtree_control").read_text()
        assert text == "+cpuset +cpu +io +memory +pids"
    assert handle.cpu_quota() == (150000, 100000)
    assert handle.memory_limit() == 256 << 20
    assert attached.calls == [(str(folder), DEFAULT_DEVICE_RULES)]  # Docker's device policy, once


def test_the_device_program_is_attached_once_and_never_for_privileged(fake_v2: tuple[Path, Path]) -> None:
    root, proc = fake_v2
    attached = Attached()
    driver = detect_cgroup_driver(root, proc, attached)
    extra = (*DEFAULT_DEVICE_RULES, DeviceRule.parse("c 10:229 rwm"))
    driver.create("p", "fuse", CgroupLimits(), extra)
    driver.create("p", "fuse", CgroupLimits(), extra)  # again (a retried step): not attached twice
    driver.create("p", "all", CgroupLimits(), None)
    assert attached.calls == [(str(root / "user.slice/session/composer/p/fuse"), extra)]


def test_swap_is_memswap_minus_memory(fake_v2: tuple[Path, Path]) -> None:
    root, proc = fake_v2
    driver = detect_cgroup_driver(root, proc, Attached())
    base = root / "user.slice/session/composer/p"
    for name, limits, expected in [
        ("a", CgroupLimits(memory=100, memory_swap=300), "200"),
        ("b", CgroupLimits(memory=100, memory_swap=-1), "max"),
        ("c", CgroupLimits(memory=100), "100"),  # Docker: unset memswap = twice the memory
    ]:
        (base / name).mkdir(parents=True)
        (base / name / "memory.swap.max").write_text("max")  # the kernel offers the file
        driver.create("p", name, limits)
        assert (base / name / "memory.swap.max").read_text() == expected


def test_reopen_from_paths_oom_and_pids(fake_v2: tuple[Path, Path]) -> None:
    root, proc = fake_v2
    handle = detect_cgroup_driver(root, proc, Attached()).create("p", "c", CgroupLimits())
    reopened = open_handle(handle.paths)
    assert isinstance(reopened, CgroupV2Handle)
    folder = Path(handle.paths["unified"])
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    assert not reopened.oom_killed()
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert reopened.oom_killed()
    (folder / "cgroup.procs").write_text("12\n34\n")
    assert reopened.pids() == {12, 34}
    (folder / "cpu.max").write_text("max 100000\n")
    assert reopened.cpu_quota() is None


def test_enabling_controllers_failure_is_a_host_error(fake_v2: tuple[Path, Path]) -> None:
    # The real refusal (EBUSY: composer's cgroup holds processes) cannot be produced in a
    # fake tree; a folder in place of the control file makes the write fail instead.
    root, proc = fake_v2
    own = root / "user.slice/session"
    driver = detect_cgroup_driver(root, proc, Attached())
    (own / "cgroup.subtree_control").unlink()
    (own / "cgroup.subtree_control").mkdir()
    with pytest.raises(HostError, match="cannot enable cgroup controllers"):
        driver.create("p", "c", CgroupLimits())


def test_cpu_weight_matches_runc() -> None:
    assert cpu_weight(2) == 1
    assert cpu_weight(1024) == 39
    assert cpu_weight(262144) == 10000


def test_parse_proc_cgroup_and_v1_detection(tmp_path: Path) -> None:
    text = "9:name=systemd:/\n4:memory:/box/1\n3:cpu,cpuacct:/\n1:pids:/\n0::/\n"
    parsed = parse_proc_cgroup(text)
    assert parsed["memory"] == "/box/1" and parsed["cpuacct"] == "/" and parsed["unified"] == "/"
    for controller in ("memory", "cpu", "pids"):
        (tmp_path / controller).mkdir()
    proc = tmp_path / "self_cgroup"
    proc.write_text(text)
    driver = detect_cgroup_driver(tmp_path, proc, Attached())
    assert isinstance(driver, CgroupV1Driver)
    assert driver.base("memory") == tmp_path / "memory/box/1/composer"
    assert driver.base("cpu") == tmp_path / "cpu/composer"


def test_v1_only_memory_keys_write_nothing_on_v2(fake_v2: tuple[Path, Path]) -> None:
    """cgroup v2 has no memory.swappiness nor memory.oom_control: the driver leaves both out (up warns)."""
    root, proc = fake_v2
    driver = detect_cgroup_driver(root, proc, Attached())
    driver.create("p", "db", CgroupLimits(memory=64 << 20, memory_swappiness=0, oom_kill_disable=True))
    folder = root / "user.slice/session/composer/p/db"
    assert sorted(p.name for p in folder.iterdir()) == ["memory.max"]  # the limit, nothing pretended


def _block_node(tmp_path: Path) -> str:
    import os
    import stat

    if os.geteuid() != 0:
        pytest.skip("making a block device node needs root")
    node = tmp_path / "disk"
    os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(8, 16))
    return str(node)


def test_blkio_throttles_become_one_io_max_line_per_device(
    fake_v2: tuple[Path, Path], tmp_path: Path
) -> None:
    root, proc = fake_v2
    disk = _block_node(tmp_path)
    driver = detect_cgroup_driver(root, proc, Attached())
    folder = root / "user.slice/session/composer/proj/web"
    folder.mkdir(parents=True)
    (folder / "io.weight").write_text("default 100\n")  # the kernel's file where it weighs I/O
    devices = (("read_bps", disk, 12 << 20), ("write_iops", disk, 120), ("weight", disk, 400))
    driver.create("proj", "web", CgroupLimits(blkio_weight=300, blkio_devices=devices))
    # the fake tree keeps the last write of each file; the kernel would merge the lines
    assert (folder / "io.max").read_text() == f"8:16 rbps={12 << 20} wiops=120"
    assert (folder / "io.weight").read_text() == "8:16 400"


def test_without_an_io_weight_file_weights_are_not_written(
    fake_v2: tuple[Path, Path], tmp_path: Path
) -> None:
    root, proc = fake_v2
    disk = _block_node(tmp_path)
    driver = detect_cgroup_driver(root, proc, Attached())
    driver.create("proj", "web", CgroupLimits(blkio_weight=300, blkio_devices=(("weight", disk, 400),)))
    folder = root / "user.slice/session/composer/proj/web"
    assert not (folder / "io.weight").exists() and not (folder / "io.max").exists()


def test_a_blkio_path_that_is_no_block_device_is_refused(fake_v2: tuple[Path, Path]) -> None:
    root, proc = fake_v2
    driver = detect_cgroup_driver(root, proc, Attached())
    with pytest.raises(HostError, match="blkio_config: /dev/null is not a block device"):
        driver.create("proj", "web", CgroupLimits(blkio_devices=(("read_bps", "/dev/null", 1),)))
