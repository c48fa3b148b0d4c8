"""Device nodes in real containers: Docker's device policy, ``devices:``, ``privileged`` and nodev.

Each probe makes a node with mknod (allowed: ``m`` is Docker's default for every
node) and opens it from the container's busybox shell; busybox prints the
kernel's error text, so EPERM shows as "Operation not permitted" (the device
cgroup) and a nodev mount as "Permission denied" (EACCES).  The node numbers
are read from this host's /dev, so the probes open real devices; a privileged
container is the control that shows each probe works.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import Lab, leaks

from composer.kernel.cgroups import CgroupV1Driver, CgroupV1Handle, detect_cgroup_driver
from composer.kernel.devices import policy
from composer.kernel.process import spawn_container
from composer.model.container import DeviceMapping

pytestmark = pytest.mark.kernel

EPERM_TEXT = "Operation not permitted"
EACCES_TEXT = "Permission denied"


@pytest.fixture
def lab(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    box = Lab("hd-" + uuid.uuid4().hex[:8], tmp_path / "state", busybox_rootfs, detect_cgroup_driver())
    try:
        yield box
    finally:
        box.cleanup()
    found = leaks(box)
    assert not found, f"left behind: {found}"


def host_node(path: str, kind: str, default: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (major, minor) of a host node; ``default`` (the usual numbers) when it is absent."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if default is None:
            pytest.skip(f"this host has no {path}")
        return default
    is_kind = stat.S_ISBLK(info.st_mode) if kind == "b" else stat.S_ISCHR(info.st_mode)
    assert is_kind, f"{path} is not a {kind} node here"
    return os.major(info.st_rdev), os.minor(info.st_rdev)


def a_block_device() -> str:
    for name in ("loop0", "zram0", "vda", "sda", "nvme0n1"):
        if os.path.exists(f"/dev/{name}") and stat.S_ISBLK(os.stat(f"/dev/{name}").st_mode):
            return f"/dev/{name}"
    pytest.skip("no block device on this host")


def probe(node: str, access: str) -> str:
    """Shell that opens ``node`` (r, w or rw) and prints ``<node> opened`` or the error."""
    redirect = {"r": "<", "w": ">", "rw": "<>"}[access]
    return f"(exec 3{redirect}{node}) && echo '{node} opened'; "


def escapes() -> list[tuple[str, str, int, int, str]]:
    """(path in the container, kind, major, minor, access) of the four escapes of issue 14."""
    block = a_block_device()
    major, minor = host_node(block, "b")
    return [
        ("/dev/hd-block", "b", major, minor, "r"),
        ("/dev/kmsg", "c", *host_node("/dev/kmsg", "c", (1, 11)), "w"),
        ("/dev/kvm", "c", *host_node("/dev/kvm", "c", (10, 232)), "rw"),
        ("/dev/userfaultfd", "c", *host_node("/dev/userfaultfd", "c", (10, 126)), "rw"),
    ]


def test_default_container_can_make_but_not_open_host_devices(lab: Lab) -> None:
    script = ""
    for path, kind, major, minor, access in escapes():
        script += f"mknod {path} {kind} {major} {minor} && echo '{path} made'; " + probe(path, access)
    _code, out, err = lab.sh(script)
    for path, *_ in escapes():
        assert f"{path} made" in out, (out, err)  # mknod is allowed, as Docker allows it
        assert f"{path} opened" not in out, (out, err)
        assert f"{path}: {EPERM_TEXT}" in err, err


def test_privileged_container_gets_the_hosts_nodes_and_opens_them(lab: Lab) -> None:
    probes = escapes()
    block = a_block_device()
    listing = "ls -ln " + " ".join(path for path, *_ in probes[1:]) + f" {block}; "
    script = (
        listing + probe(block, "r") + "".join(probe(path, access) for path, _, _, _, access in probes[1:])
    )
    _code, out, err = lab.sh(script, privileged=True)
    for path in [block, *(p for p, *_ in probes[1:])]:
        if not os.path.exists(path):
            continue  # the host has no such device: nothing to copy
        major, minor = os.major(os.stat(path).st_rdev), os.minor(os.stat(path).st_rdev)
        assert f"{major}, {minor:>3}" in out or f"{major},{minor:>4}" in out or f"{major}, {minor}" in out, (
            out
        )
        assert f"{path} opened" in out, (out, err)
    assert "/dev/pts/ptmx" not in out and "No such file" not in err, err


def test_privileged_container_skips_pts_shm_and_mqueue(lab: Lab) -> None:
    _code, out, _err = lab.sh("ls /dev/pts /dev/shm /dev/mqueue; ls -l /dev/ptmx /dev/null", privileged=True)
    assert "ptmx -> pts/ptmx" in out, out  # the standard symlink, not the host's node
    assert "1,   3" in out or "1, 3" in out, out


def test_devices_grants_exactly_the_named_node(lab: Lab) -> None:
    block = a_block_device()
    major, minor = host_node(block, "b")
    mapping = DeviceMapping(block, "/dev/hd/disk", "r")
    script = (
        "ls -ln /dev/hd/disk; "
        + probe("/dev/hd/disk", "r")
        + probe("/dev/hd/disk", "w")
        + f"mknod /dev/neighbour b {major} {minor + 1} && "
        + probe("/dev/neighbour", "r")
        + f"mknod /dev/same b {major} {minor} && "
        + probe("/dev/same", "r")
    )
    _code, out, err = lab.sh(script, devices=(mapping,))
    assert out.startswith("b"), out  # made as a block node at the target path
    mode = stat.S_IMODE(os.stat(block).st_mode)
    assert stat.filemode(stat.S_IFBLK | mode) in out, out  # with the host node's permissions
    assert "/dev/hd/disk opened" in out, (out, err)  # read, as the mapping allows
    assert f"/dev/hd/disk: {EPERM_TEXT}" in err, err  # but not written: the mapping says r
    assert "/dev/neighbour opened" not in out and f"/dev/neighbour: {EPERM_TEXT}" in err, (out, err)
    assert "/dev/same opened" in out, (out, err)  # the rule is the node's numbers, wherever it is made


def test_devices_mapping_replaces_a_standard_node(lab: Lab) -> None:
    _major, _minor = host_node("/dev/full", "c")
    _code, out, err = lab.sh("ls -ln /dev/null", devices=(DeviceMapping("/dev/full", "/dev/null", "rwm"),))
    assert "1,   7" in out or "1, 7" in out, (out, err)


def test_a_node_on_the_root_filesystem_never_opens(lab: Lab) -> None:
    script = (
        "grep ' / / ' /proc/self/mountinfo; "
        "mknod /tmp/null-copy c 1 3 && echo made; " + probe("/tmp/null-copy", "w")
        # the same numbers on the /dev tmpfs open: it is the nodev mount that refuses
        + "mknod /dev/null-copy c 1 3 && " + probe("/dev/null-copy", "w")
    )  # fmt: skip
    _code, out, err = lab.sh(script)
    root_line = out.splitlines()[0]
    assert "nodev" in root_line.split()[5], root_line
    assert "made" in out and "/tmp/null-copy opened" not in out, (out, err)
    assert f"/tmp/null-copy: {EACCES_TEXT}" in err, err
    assert "/dev/null-copy opened" in out, (out, err)


def test_a_read_only_root_stays_nodev(lab: Lab) -> None:
    _code, out, _err = lab.sh("grep ' / / ' /proc/self/mountinfo", read_only=True)
    options = out.split()[5].split(",")
    assert "ro" in options and "nodev" in options, out


def test_a_privileged_root_is_not_nodev(lab: Lab) -> None:
    _code, out, err = lab.sh(
        "grep ' / / ' /proc/self/mountinfo; mknod /tmp/null-copy c 1 3 && " + probe("/tmp/null-copy", "w"),
        privileged=True,
    )
    assert "nodev" not in out.splitlines()[0].split()[5], out
    assert "/tmp/null-copy opened" in out, (out, err)


def test_a_device_target_outside_dev_is_refused(lab: Lab) -> None:
    from composer.errors import ContainerError

    with pytest.raises(ContainerError, match="not beneath /dev"):
        lab.sh("true", devices=(DeviceMapping("/dev/null", "/tmp/null", "rwm"),))


def test_without_the_devices_hierarchy_no_node_can_be_made(lab: Lab) -> None:
    """A v1 cgroup outside the devices hierarchy stands for a host without the controller."""
    if not isinstance(lab.driver, CgroupV1Driver) or "devices" not in lab.driver.mounts:
        pytest.skip("needs the v1 devices hierarchy to leave out")
    cfg = lab.config(
        "nodev", ["/bin/sh", "-c", "mknod /dev/hd-kmsg c 1 11 && echo made; " + probe("/dev/null", "w")]
    )
    full = lab.driver.create(lab.project, cfg.service, cfg.cgroup, policy(cfg))
    partial = CgroupV1Handle({k: v for k, v in full.paths.items() if k != "devices"})
    state = Path(cfg.state_dir)
    state.mkdir(parents=True)
    out_fd = os.open(state / "out", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        pid = spawn_container(cfg, partial, out_fd, out_fd)
        os.waitpid(pid, 0)
    finally:
        os.close(out_fd)
        full.remove()
    out = (state / "out").read_text()
    assert "made" not in out and f"/dev/hd-kmsg: {EPERM_TEXT}" in out, out  # CAP_MKNOD was dropped
    assert "/dev/null opened" in out, out  # the nodes composer made still open
