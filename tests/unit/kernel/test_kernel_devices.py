"""The device policy: rule syntax, v1 lines, and the eBPF program run by a small interpreter.

The interpreter executes the instructions :func:`program` emits (loads from the
context, 32-bit and/mov/shift, conditional jumps, return), so that every request
of a grid (type x access x major x minor) is answered by the bytes the kernel
would load and compared with :func:`evaluate`, the policy written plainly.  The
program is loaded into the real kernel by tests/kernel/runtime/test_runtime_devices.py.
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest

from composer.errors import ContainerError
from composer.kernel.devices import (
    ACC_MKNOD,
    ACC_READ,
    ACC_WRITE,
    DEV_BLOCK,
    DEV_CHAR,
    container_device_path,
    evaluate,
    host_nodes,
    program,
    resolve,
    v1_lines,
)
from composer.model.container import DEFAULT_DEVICE_RULES, DeviceMapping, DeviceRule


def run(code: bytes, kind: str, major: int, minor: int, access: str) -> int:
    """Execute a device program on one request: bpf_cgroup_dev_ctx {access_type, major, minor}."""
    bits = sum({"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}[c] for c in access)
    ctx = [((bits << 16) | (DEV_BLOCK if kind == "b" else DEV_CHAR)), major, minor]
    regs = [0] * 11
    pc = 0
    count = len(code) // 8
    while pc < count:
        op, registers, off, imm = struct.unpack_from("<BBhi", code, pc * 8)
        dst, src = registers & 0xF, registers >> 4
        pc += 1
        if op == 0x61:  # ldx w: r_dst = ctx[off / 4]
            regs[dst] = ctx[off // 4]
        elif op == 0x54:
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif op == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif op == 0xB7:
            regs[dst] = imm
        elif op == 0x55:
            if (regs[dst] & 0xFFFFFFFF) != (imm & 0xFFFFFFFF):
                pc += off
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
    raise AssertionError("the program ran off its end")


POLICIES = {
    "docker default": DEFAULT_DEVICE_RULES,
    "default plus fuse and a block disk read-only": (
        *DEFAULT_DEVICE_RULES, DeviceRule.parse("c 10:229 rwm"), DeviceRule.parse("b 7:0 r"),
    ),
    "everything": (DeviceRule.parse("a"),),
    "nothing": (),
}  # fmt: skip
REQUESTS = list(
    itertools.product("bc", [1, 5, 7, 10, 136, 253], [0, 1, 3, 5, 11, 200, 229], ["r", "w", "m", "rw", "rwm"])
)


@pytest.mark.parametrize("name", POLICIES)
def test_the_program_answers_every_request_as_the_policy_says(name: str) -> None:
    rules = POLICIES[name]
    code = program(rules)
    for kind, major, minor, access in REQUESTS:
        expected = evaluate(rules, kind, major, minor, access)
        assert run(code, kind, major, minor, access) == int(expected), (kind, major, minor, access)


def test_docker_defaults_allow_the_standard_nodes_and_refuse_the_escapes() -> None:
    rules = DEFAULT_DEVICE_RULES
    for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, 4), (10, 200)):
        assert evaluate(rules, "c", major, minor, "rw")
    assert evaluate(rules, "c", 1, 11, "m") and not evaluate(rules, "c", 1, 11, "w")  # /dev/kmsg
    assert evaluate(rules, "b", 253, 0, "m") and not evaluate(rules, "b", 253, 0, "r")  # zram0
    assert not evaluate(rules, "c", 10, 232, "rw")  # /dev/kvm
    assert not evaluate(rules, "c", 10, 229, "rw")  # /dev/fuse
    assert not evaluate(rules, "c", 10, 126, "r")  # /dev/userfaultfd
    assert not evaluate(rules, "c", 4, 1, "rw")  # a tty


def test_v1_denies_everything_first() -> None:
    assert v1_lines(DEFAULT_DEVICE_RULES)[:3] == [
        ("devices.deny", "a"), ("devices.allow", "c *:* m"), ("devices.allow", "b *:* m"),
    ]  # fmt: skip
    assert v1_lines(None) == [("devices.allow", "a")]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("c 10:200 rwm", DeviceRule("c", 10, 200, "rwm")),
        ("b *:* m", DeviceRule("b", None, None, "m")),
        ("c 136:* wr", DeviceRule("c", 136, None, "rw")),
        ("a", DeviceRule("a")),
    ],
)
def test_rules_parse_and_print_in_docker_syntax(text: str, rule: DeviceRule) -> None:
    assert DeviceRule.parse(text) == rule
    assert DeviceRule.parse(rule.text()) == rule


@pytest.mark.parametrize("text", ["x 1:3 rwm", "c 1 rwm", "c a:b rwm", "c 1:3 rwx", "", "c 1:3 rwm extra"])
def test_bad_rules_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="invalid device cgroup rule"):
        DeviceRule.parse(text)


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/dev/net/tun", "/dev/net/tun"), ("/dev//kvm", "/dev/kvm"), ("/dev/a/../b", "/dev/b")],
)
def test_device_targets_are_normalised_beneath_dev(target: str, expected: str) -> None:
    assert container_device_path(target) == expected


@pytest.mark.parametrize(
    "target", ["/dev", "/dev/", "/tmp/null", "dev/null", "/dev/../etc/x", "/dev/pts/9", "/dev/shm/x"]
)
def test_device_targets_elsewhere_are_refused(target: str) -> None:
    with pytest.raises(ContainerError):
        container_device_path(target)


def test_a_mapping_takes_the_host_nodes_numbers_and_mode() -> None:
    resolved = resolve(DeviceMapping("/dev/null", "/dev/hd-null", "r"))
    assert (resolved.kind, resolved.major, resolved.minor, resolved.mode) == ("c", 1, 3, 0o666)
    assert resolved.node.path == "/dev/hd-null" and resolved.node.replace
    assert resolved.rule == DeviceRule("c", 1, 3, "r")


def test_a_mapping_of_something_else_than_a_node_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ContainerError, match="not a device node"):
        resolve(DeviceMapping(str(tmp_path / "file"), "/dev/x"))
    with pytest.raises(ContainerError, match="No such file"):
        resolve(DeviceMapping(str(tmp_path / "missing"), "/dev/x"))


def test_host_nodes_are_the_char_and_block_nodes_without_symlinks_or_skipped_folders(tmp_path: Path) -> None:
    """A fake /dev of plain files and symlinks only (making nodes needs root): none is a node."""
    (tmp_path / "pts").mkdir()
    (tmp_path / "file").write_text("")
    (tmp_path / "link").symlink_to("/dev/null")
    assert host_nodes(str(tmp_path)) == ()
    real = {node.path: node for node in host_nodes("/dev")}
    assert real["/dev/null"].major == 1 and real["/dev/null"].minor == 3 and not real["/dev/null"].replace
    assert not any(path.startswith(("/dev/pts/", "/dev/shm/")) for path in real)
    assert "/dev/console" not in real


def test_without_a_device_policy_the_container_loses_cap_mknod() -> None:
    """Docker's CAP_MKNOD is safe only under the device cgroup: where none applies it is dropped."""
    from composer.kernel.caps import cap_mask
    from composer.kernel.cgroups import CgroupV1Handle
    from composer.kernel.process.security import security_for
    from composer.model.container import ContainerConfig

    mknod = cap_mask(["MKNOD"])
    cfg = ContainerConfig(project="p", service="s", name="p-s-1", number=1, argv=("true",))
    assert CgroupV1Handle({"memory": "/m", "devices": "/d"}).enforces_devices()
    assert not CgroupV1Handle({"memory": "/m", "pids": "/p"}).enforces_devices()
    assert security_for(cfg).caps & mknod
    assert not security_for(cfg, devices_enforced=False).caps & mknod
    added = ContainerConfig(**{**cfg.__dict__, "cap_drop": ("ALL",), "cap_add": ("MKNOD",)})
    assert not security_for(added, devices_enforced=False).caps & mknod
    privileged = ContainerConfig(**{**cfg.__dict__, "privileged": True})
    assert security_for(privileged, devices_enforced=False).caps & mknod
