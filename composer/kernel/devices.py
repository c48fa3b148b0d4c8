"""Which device nodes a container may open or create: Docker's device cgroup policy.

A default container keeps ``CAP_MKNOD``, as Docker grants it; what makes that safe
is the device cgroup, which allows only the nodes of
:data:`composer.model.container.DEFAULT_DEVICE_RULES` (null, zero, full, random,
urandom, tty, console, ptmx, the pts and tun) to be read or written, and any node
to be made (``m``) but not opened.  ``devices:`` and ``device_cgroup_rules:``
add to that list; ``privileged: true`` allows everything.

* cgroup v1: ``devices.deny`` ``a`` first, then one ``devices.allow`` line per rule.
* cgroup v2: a ``BPF_PROG_TYPE_CGROUP_DEVICE`` program attached to the container's
  cgroup, written here as raw eBPF instructions (as the seccomp filter is raw
  classic BPF): the request's type, access, major and minor are compared with
  each rule in turn, the first rule that covers the request allows it, the end of
  the program denies.

Besides, the container's root filesystem is mounted ``nodev`` (see
:mod:`composer.kernel.mounts`): a node made on it cannot be opened whatever the
cgroup says, which is what is left where no device controller is available.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from composer.errors import ContainerError
from composer.kernel import syscalls
from composer.model.container import DEFAULT_DEVICE_RULES, ContainerConfig, DeviceMapping, DeviceRule

# struct bpf_cgroup_dev_ctx: u32 access_type ((access << 16) | type), u32 major, u32 minor
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
_ACCESS_BITS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

# eBPF opcodes
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_ALU32_AND_K = 0x54
_ALU32_RSH_K = 0x74
_ALU32_MOV_X = 0xBC
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_ALU64_MOV_K = 0xB7
_EXIT = 0x95


@dataclass(frozen=True)
class DeviceNode:
    """A node to make in the container's ``/dev``: where, and what the host's node is."""

    path: str  # absolute, under /dev, inside the container
    kind: str  # "b" or "c"
    major: int
    minor: int
    mode: int  # permission bits of the host's node
    uid: int = 0  # the host node's owner, as Docker keeps it
    gid: int = 0
    replace: bool = False  # a devices: mapping takes the place of a standard node; a host node does not

    @property
    def file_type(self) -> int:
        return stat.S_IFBLK if self.kind == "b" else stat.S_IFCHR


@dataclass(frozen=True)
class ResolvedDevice:
    """A ``devices:`` entry with what the host's node is."""

    mapping: DeviceMapping
    node: DeviceNode

    @property
    def kind(self) -> str:
        return self.node.kind

    @property
    def major(self) -> int:
        return self.node.major

    @property
    def minor(self) -> int:
        return self.node.minor

    @property
    def mode(self) -> int:
        return self.node.mode

    @property
    def rule(self) -> DeviceRule:
        return DeviceRule(self.kind, self.major, self.minor, self.mapping.permissions)  # type: ignore[arg-type]


def resolve(mapping: DeviceMapping) -> ResolvedDevice:
    """The host node ``mapping.source`` names; ContainerError when it is missing or no device."""
    try:
        info = os.stat(mapping.source)
    except OSError as error:
        raise ContainerError(
            f"device {mapping.source}: {error.strerror}",
            hint="check the path in devices:, or load the driver that makes the node",
        ) from error
    node = _node_of(container_device_path(mapping.target), info)
    if node is None:
        raise ContainerError(f"device {mapping.source} is not a device node", hint="name a node under /dev")
    return ResolvedDevice(mapping, dataclasses.replace(node, replace=True))


def container_device_path(target: str) -> str:
    """``target`` normalised; ContainerError unless it names a node beneath /dev.

    The container's root filesystem is mounted ``nodev``: only its /dev tmpfs holds
    nodes that open; pts, shm and mqueue are filesystems of their own.
    """
    path = os.path.normpath(target) if target.startswith("/") else ""
    parts = path.split("/")
    if len(parts) < 3 or parts[1] != "dev":
        raise ContainerError(
            f"device target {target!r} is not beneath /dev",
            hint="give a target under /dev, e.g. /dev/net/tun",
        )
    if parts[2] in _OWN_FILESYSTEMS:
        raise ContainerError(f"device target {target!r} is inside /dev/{parts[2]}, a filesystem of its own")
    return path


def _node_of(path: str, info: os.stat_result) -> DeviceNode | None:
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        return None
    major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
    return DeviceNode(path, kind, major, minor, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


# Folders of the host's /dev a privileged container does not copy: its own pts, shm and mqueue
# mounts, the fd symlink, and what container managers keep there (runc skips the same).
_OWN_FILESYSTEMS = frozenset({"pts", "shm", "mqueue"})
_HOST_SKIPPED = _OWN_FILESYSTEMS | {"fd", ".lxc", ".lxd-mounts", ".udev"}


def host_nodes(root: str = "/dev") -> tuple[DeviceNode, ...]:
    """Every char and block node under the host's /dev, recursively, as ``privileged`` gets them.

    Symlinks are not followed; ``console`` is left out (the container has its own);
    pts, shm, mqueue and fd are skipped.
    """
    found: list[DeviceNode] = []
    for folder, subfolders, names in os.walk(root):
        if folder == root:
            subfolders[:] = [name for name in subfolders if name not in _HOST_SKIPPED]
        for name in sorted(names):
            if folder == root and name == "console":
                continue
            host_path = os.path.join(folder, name)
            try:
                info = os.lstat(host_path)
            except FileNotFoundError:
                continue  # removed while we walked
            node = _node_of("/dev" + host_path[len(root) :], info)
            if node is not None:
                found.append(node)
    return tuple(found)


def nodes_for(config: ContainerConfig) -> tuple[DeviceNode, ...]:
    """The nodes to make in the container's /dev besides the standard ones.

    The ``devices:`` mappings first (they replace a standard node of the same
    path); for ``privileged``, then every host node (skipped where a node exists).
    """
    mapped = tuple(resolve(mapping).node for mapping in config.devices)
    return mapped + host_nodes() if config.privileged else mapped


def policy(config: ContainerConfig) -> tuple[DeviceRule, ...] | None:
    """The allow-list of a container; None when everything is allowed (privileged)."""
    if config.privileged:
        return None
    extra = tuple(resolve(m).rule for m in config.devices)
    return DEFAULT_DEVICE_RULES + tuple(config.device_rules) + extra


def v1_lines(rules: Sequence[DeviceRule] | None) -> list[tuple[str, str]]:
    """(file, line) to write in order into a v1 devices cgroup folder."""
    if rules is None:
        return [("devices.allow", "a")]
    return [("devices.deny", "a"), *(("devices.allow", rule.text()) for rule in rules)]


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def program(rules: Sequence[DeviceRule]) -> bytes:
    """The eBPF device program for ``rules`` (first match allows; no match denies)."""
    out = [
        _insn(_LDX_W, dst=2, src=1, off=0),  # r2 = access_type
        _insn(_ALU32_AND_K, dst=2, imm=0xFFFF),  # r2 = type
        _insn(_LDX_W, dst=3, src=1, off=0),
        _insn(_ALU32_RSH_K, dst=3, imm=16),  # r3 = access
        _insn(_LDX_W, dst=4, src=1, off=4),  # r4 = major
        _insn(_LDX_W, dst=5, src=1, off=8),  # r5 = minor
    ]
    for rule in rules:
        out += _rule_block(rule)
    out += [_insn(_ALU64_MOV_K, dst=0, imm=0), _insn(_EXIT)]  # deny
    return b"".join(out)


def _rule_block(rule: DeviceRule) -> list[bytes]:
    """Tests that jump past the block on a mismatch, then ``return 1``."""
    tests: list[list[bytes]] = []  # each test: its instructions, the last one the jump (offset patched)
    if rule.kind != "a":
        tests.append([_insn(_JNE_K, dst=2, imm=DEV_BLOCK if rule.kind == "b" else DEV_CHAR)])
        allowed = sum(_ACCESS_BITS[c] for c in rule.access)
        if allowed != 7:  # the access asked for must be within the allowed bits: (access & ~allowed) == 0
            tests.append([
                _insn(_ALU32_MOV_X, dst=1, src=3),
                _insn(_ALU32_AND_K, dst=1, imm=(~allowed) & 7),
                _insn(_JNE_K, dst=1, imm=0),
            ])  # fmt: skip
        if rule.major is not None:
            tests.append([_insn(_JNE_K, dst=4, imm=rule.major)])
        if rule.minor is not None:
            tests.append([_insn(_JNE_K, dst=5, imm=rule.minor)])
    size = sum(len(test) for test in tests) + 2
    block: list[bytes] = []
    for test in tests:
        *head, jump = test
        block += head
        code, registers, _, imm = struct.unpack("<BBhi", jump)
        block.append(struct.pack("<BBhi", code, registers, size - len(block) - 1, imm))  # to the next block
    block += [_insn(_ALU64_MOV_K, dst=0, imm=1), _insn(_EXIT)]
    return block


def attach_program(cgroup_folder: str, rules: Sequence[DeviceRule]) -> None:
    """Load the program and attach it to a v2 cgroup folder (it stays while the cgroup exists)."""
    prog = syscalls.bpf_prog_load(syscalls.BPF_PROG_TYPE_CGROUP_DEVICE, program(rules))
    try:
        folder = os.open(cgroup_folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            syscalls.bpf_prog_attach(folder, prog, syscalls.BPF_CGROUP_DEVICE, syscalls.BPF_F_ALLOW_MULTI)
        finally:
            os.close(folder)
    finally:
        os.close(prog)


def evaluate(rules: Sequence[DeviceRule] | None, kind: str, major: int, minor: int, access: str) -> bool:
    """What the policy answers for one request (the same rule the program and v1 apply), for tests."""
    if rules is None:
        return True
    for rule in rules:
        if rule.kind not in ("a", kind):
            continue
        if rule.kind != "a" and not set(access) <= set(rule.access):
            continue
        if rule.kind != "a" and rule.major is not None and rule.major != major:
            continue
        if rule.kind != "a" and rule.minor is not None and rule.minor != minor:
            continue
        return True
    return False
