"""Pure parts of the host layer: capabilities, users, path resolution, limits, sysctls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from composer.errors import ContainerError
from composer.kernel.caps import ALL_MASK, DEFAULT_MASK, cap_number, compute_capabilities, mask_names
from composer.kernel.mounts import mounts_under, overlay_options, secure_join
from composer.kernel.process import (
    check_sysctls,
    decode_wait_status,
    find_executable,
    is_static_elf,
    lowered_rlimit,
)
from composer.kernel.users import resolve_user, resolve_user_from_text

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nbroken:x:abc\n"
GROUP = "root:x:0:\nstaff:x:50:app,other\nwheel:x:10:other\napp:x:1000:\n"


def test_docker_default_capabilities() -> None:
    assert DEFAULT_MASK == 0xA80425FB
    assert len(mask_names(DEFAULT_MASK)) == 14


def test_cap_add_drop_rules() -> None:
    assert compute_capabilities(["NET_ADMIN"], ["chown"]) == (DEFAULT_MASK | 1 << 12) & ~1
    assert compute_capabilities(["ALL"], ["SYS_ADMIN"]) == ALL_MASK & ~(1 << 21)
    assert compute_capabilities(["KILL"], ["ALL"]) == 1 << 5
    assert compute_capabilities(privileged=True, available=0xFF) == 0xFF
    assert compute_capabilities(["SYS_RESOURCE"], available=ALL_MASK & ~(1 << 24)) == DEFAULT_MASK
    assert cap_number("cap_sys_admin") == 21
    with pytest.raises(ContainerError, match="unknown capability"):
        compute_capabilities(["FLY"])


def test_user_resolution() -> None:
    app = resolve_user_from_text("app", PASSWD, GROUP)
    assert (app.uid, app.gid, app.groups, app.home) == (1000, 1000, (50, 1000), "/home/app")
    assert resolve_user_from_text("", PASSWD, GROUP).home == "/root"
    numeric = resolve_user_from_text("1234", PASSWD, GROUP)
    assert (numeric.uid, numeric.gid, numeric.groups) == (1234, 0, (0,))
    named_group = resolve_user_from_text("app:wheel", PASSWD, GROUP)
    assert (named_group.uid, named_group.gid, named_group.groups) == (1000, 10, (10,))
    assert resolve_user_from_text("1000:50", PASSWD, GROUP).gid == 50
    with pytest.raises(ContainerError, match="no user 'ghost'"):
        resolve_user_from_text("ghost", PASSWD, GROUP)
    with pytest.raises(ContainerError, match="no group 'nogroup'"):
        resolve_user_from_text("app:nogroup", PASSWD, GROUP)


def test_user_resolution_reads_the_given_root_not_the_host(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("web:x:33:\n")
    assert resolve_user("web", tmp_path).uid == 33


def test_secure_join_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "abs").symlink_to("/etc")
    (root / "up").symlink_to("../../../../../../tmp")
    (root / "loop").symlink_to("loop")
    (root / "etc" / "self").symlink_to(".")
    assert secure_join(str(root), "/abs/x") == f"{root}/etc/x"
    assert secure_join(str(root), "/up/x") == f"{root}/tmp/x"
    assert secure_join(str(root), "/../../etc") == f"{root}/etc"
    assert secure_join(str(root), "/etc/self/self/a") == f"{root}/etc/a"
    assert secure_join(str(root), "/missing/a/b") == f"{root}/missing/a/b"
    with pytest.raises(ContainerError, match="too many symlinks"):
        secure_join(str(root), "/loop/x")


def test_overlay_options_escape_colons() -> None:
    assert overlay_options(["/a", "/b:c"], "/u", "/w") == "lowerdir=/a:/b\\:c,upperdir=/u,workdir=/w"


def test_rlimits_are_only_lowered() -> None:
    assert lowered_rlimit(100, 200, (1024, 4096)) == (100, 200)
    assert lowered_rlimit(100, 10**9, (1024, 4096)) == (100, 4096)
    assert lowered_rlimit(10**9, 10**9, (1024, 4096)) == (4096, 4096)
    assert lowered_rlimit(-1, -1, (1024, -1)) == (-1, -1)  # unlimited stays unlimited
    assert lowered_rlimit(-1, -1, (1024, 4096)) == (4096, 4096)


def test_sysctls() -> None:
    check_sysctls(
        [("kernel.shmmax", "1"), ("kernel.sem", "1 2 3 4"), ("fs.mqueue.msg_max", "5")], host_network=True
    )
    check_sysctls([("net.ipv4.ip_forward", "1")], host_network=False)
    with pytest.raises(ContainerError, match="host's network"):
        check_sysctls([("net.ipv4.ip_forward", "1")], host_network=True)
    with pytest.raises(ContainerError, match=r"vm\.swappiness is not namespaced"):
        check_sysctls([("vm.swappiness", "1")], host_network=False)


def test_wait_status_decoding() -> None:
    assert decode_wait_status(3 << 8) == 3
    assert decode_wait_status(9) == 137
    assert decode_wait_status(15) == 143


def test_find_executable_inside_a_root(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    os.chmod(tool, 0o755)
    (tmp_path / "bin" / "data").write_text("")
    assert find_executable("tool", "/usr/bin:/bin", str(tmp_path)) == "/bin/tool"
    assert find_executable("data", "/bin", str(tmp_path)) is None
    assert find_executable("./x", "/bin", str(tmp_path)) == "./x"


def test_static_elf_detection(tmp_path: Path) -> None:
    assert is_static_elf("/bin/busybox")
    assert not is_static_elf("/bin/ls")  # dynamically linked on Debian
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert not is_static_elf(str(tmp_path / "script"))


def test_mounts_under_reads_mountinfo_deepest_first(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    lines = [
        "22 1 0:21 / / rw - ext4 /dev/sda1 rw",
        "30 22 0:40 / /run/c rw - tmpfs tmpfs rw",
        "31 30 0:41 / /run/c/rootfs rw - overlay overlay rw",
        "32 31 0:42 / /run/c/rootfs/my\\040dir rw - tmpfs tmpfs rw",
        "33 31 0:43 / /run/c/rootfs/proc rw - proc proc rw",
        "34 22 0:44 / /run/cc rw - tmpfs tmpfs rw",
    ]
    info.write_text("\n".join(lines) + "\n")
    assert mounts_under("/run/c/", str(info)) == [
        "/run/c/rootfs/proc",
        "/run/c/rootfs/my dir",
        "/run/c/rootfs",
        "/run/c",
    ]
