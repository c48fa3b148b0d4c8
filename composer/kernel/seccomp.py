"""Seccomp filters built in Python as classic BPF, without libseccomp.

A filter is described as a :class:`Profile`: a default action and an ordered list
of :class:`Rule` (syscall names, optional argument checks, an action).  The first
rule that matches a call decides; otherwise the default action applies.  Both
sources compile to that shape:

* :func:`default_profile` is a deny-list that blocks what Docker's default
  profile blocks (kernel modules, kexec, mount and namespace calls without
  CAP_SYS_ADMIN, the key ring, bpf, perf, io_uring, userfaultfd, reboot, swap,
  clock setting, unsafe ``personality`` values, ``clone`` with namespace flags...),
  returning EPERM.  Rules tied to a capability are left out when the container
  holds it, as Docker does.
* :func:`load_docker_profile` reads a Docker-format JSON profile (``defaultAction``,
  ``syscalls[].names/action/args/errnoRet/includes/excludes``).

:func:`compile_profile` emits the program: check the audit architecture (a
foreign ABI, and x32 on x86_64, gets EPERM; i386 programs on x86_64 get the same
rules with their own numbers), load the syscall number, then one block per rule.
Arguments are 64-bit, compared as two 32-bit words.
Syscall numbers come from ``seccomp_syscalls.json`` (generated from the kernel
headers for x86_64, aarch64 and i386).
"""

from __future__ import annotations

import errno
import functools
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from composer.errors import ContainerError
from composer.kernel import syscalls
from composer.kernel.caps import CAP_NUMBER, cap_number

Instruction = tuple[int, int, int, int]

ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "i386": 0x40000003}
COMPAT_ARCH = {"x86_64": "i386"}  # the 32-bit ABI a native kernel also runs, filtered the same way
DOCKER_ARCH = {"x86_64": ("amd64", "x86_64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64")}
X32_SYSCALL_BIT = 0x40000000

# classic BPF opcodes
_LD_ABS = 0x20
_JA = 0x05
_JEQ = 0x15
_JGT = 0x25
_JGE = 0x35
_AND = 0x54
_RET = 0x06

_OFF_NR = 0
_OFF_ARCH = 4


def _off_arg(index: int, high: bool) -> int:
    # struct seccomp_data: nr, arch, ip (8 bytes), args[6] (8 bytes each, little endian)
    return 16 + 8 * index + (4 if high else 0)


def errno_action(number: int) -> int:
    return ACT_ERRNO | (number & 0xFFFF)


@dataclass(frozen=True)
class ArgCheck:
    index: int
    op: str  # SCMP_CMP_EQ, NE, LT, LE, GT, GE, MASKED_EQ
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class Rule:
    names: tuple[str, ...]
    action: int
    args: tuple[ArgCheck, ...] = ()


@dataclass(frozen=True)
class Profile:
    default_action: int
    rules: tuple[Rule, ...]


@functools.cache
def syscall_table(arch: str) -> dict[str, int]:
    text = resources.files("composer.kernel").joinpath("seccomp_syscalls.json").read_text()
    table: dict[str, dict[str, int]] = json.loads(text)
    if arch not in table:
        raise ContainerError(f"seccomp: architecture {arch} is not supported")
    return table[arch]


# --- the default profile ------------------------------------------------------------------------

EPERM = errno_action(errno.EPERM)
_CLONE_NS_FLAGS = 0x7E020000
_SAFE_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

# (syscalls, capabilities any of which lifts the block); () = always blocked
_BLOCKED: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("mount", "umount", "umount2", "pivot_root", "unshare", "setns", "quotactl", "fsopen",
      "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "lookup_dcookie",
      "fanotify_init", "name_to_handle_at", "sethostname", "setdomainname"), ("SYS_ADMIN",)),
    (("bpf",), ("SYS_ADMIN", "BPF")),
    (("perf_event_open",), ("SYS_ADMIN", "PERFMON")),
    (("reboot", "kexec_load", "kexec_file_load"), ("SYS_BOOT",)),
    (("init_module", "finit_module", "delete_module"), ("SYS_MODULE",)),
    (("kcmp", "process_vm_readv", "process_vm_writev", "pidfd_getfd"), ("SYS_PTRACE",)),
    (("acct",), ("SYS_PACCT",)),
    (("settimeofday", "clock_settime", "clock_adjtime", "stime"), ("SYS_TIME",)),
    (("get_mempolicy", "set_mempolicy", "mbind", "move_pages"), ("SYS_NICE",)),
    (("syslog",), ("SYSLOG",)),
    (("vhangup",), ("SYS_TTY_CONFIG",)),
    (("iopl", "ioperm"), ("SYS_RAWIO",)),
    (("open_by_handle_at",), ("DAC_READ_SEARCH",)),
    (("keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter",
      "io_uring_register", "swapon", "swapoff", "create_module", "get_kernel_syms", "query_module",
      "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old"), ()),
)  # fmt: skip


def _holds(caps: int, names: tuple[str, ...]) -> bool:
    return any(caps >> CAP_NUMBER[name] & 1 for name in names)


def default_profile(caps: int) -> Profile:
    """Docker's default restrictions as a deny-list for a container holding ``caps``."""
    rules: list[Rule] = [
        Rule(names, EPERM) for names, lifted_by in _BLOCKED if not (lifted_by and _holds(caps, lifted_by))
    ]
    for persona in _SAFE_PERSONALITIES:
        rules.append(Rule(("personality",), ACT_ALLOW, (ArgCheck(0, "SCMP_CMP_EQ", persona),)))
    rules.append(Rule(("personality",), EPERM))
    if not _holds(caps, ("SYS_ADMIN",)):
        # clone3 hides its flags in memory: answer ENOSYS so libc falls back to clone.
        rules.append(Rule(("clone3",), errno_action(errno.ENOSYS)))
        no_ns = ArgCheck(0, "SCMP_CMP_MASKED_EQ", _CLONE_NS_FLAGS, 0)
        rules.append(Rule(("clone",), ACT_ALLOW, (no_ns,)))
        rules.append(Rule(("clone",), EPERM))
    return Profile(ACT_ALLOW, tuple(rules))


# --- Docker JSON profiles -----------------------------------------------------------------------

_ACTIONS = {
    "SCMP_ACT_ALLOW": ACT_ALLOW,
    "SCMP_ACT_KILL": ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": ACT_TRAP,
    "SCMP_ACT_LOG": ACT_LOG,
}
_OPS = ("SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE",
        "SCMP_CMP_MASKED_EQ")  # fmt: skip


def _action(name: str, errno_ret: int | None, where: str) -> int:
    if name == "SCMP_ACT_ERRNO":
        return errno_action(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return errno_action(errno.ENOSYS)  # no tracer is ever attached: behave like runc without one
    if name not in _ACTIONS:
        raise ContainerError(f"seccomp profile {where}: unknown action {name!r}")
    return _ACTIONS[name]


def _kernel_at_least(version: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in text.split(".")[:2])

    return parts(os.uname().release) >= parts(version)


def _rule_applies(entry: dict[str, Any], caps: int, arch: str) -> bool:
    includes = entry.get("includes") or {}
    excludes = entry.get("excludes") or {}
    if any(not caps >> cap_number(c) & 1 for c in includes.get("caps") or ()):
        return False
    if any(caps >> cap_number(c) & 1 for c in excludes.get("caps") or ()):
        return False
    if includes.get("arches") and not set(includes["arches"]) & set(DOCKER_ARCH[arch]):
        return False
    if excludes.get("arches") and set(excludes["arches"]) & set(DOCKER_ARCH[arch]):
        return False
    return not (includes.get("minKernel") and not _kernel_at_least(includes["minKernel"]))


def _arg_check(raw: dict[str, Any], where: str) -> ArgCheck:
    op = raw.get("op", "")
    if op not in _OPS:
        raise ContainerError(f"seccomp profile {where}: unsupported argument operator {op!r}")
    return ArgCheck(int(raw["index"]), op, int(raw.get("value", 0)), int(raw.get("valueTwo", 0)))


def parse_docker_profile(data: dict[str, Any], caps: int, arch: str, where: str = "") -> Profile:
    """Turn a Docker seccomp profile (already parsed JSON) into a :class:`Profile`."""
    default = _action(data.get("defaultAction", ""), data.get("defaultErrnoRet"), where)
    rules: list[Rule] = []
    for entry in data.get("syscalls") or ():
        if not _rule_applies(entry, caps, arch):
            continue
        names = tuple(entry.get("names") or ([entry["name"]] if entry.get("name") else []))
        action = _action(entry.get("action", ""), entry.get("errnoRet"), where)
        args = tuple(_arg_check(a, where) for a in entry.get("args") or ())
        rules.append(Rule(names, action, args))
    return Profile(default, tuple(rules))


def load_docker_profile(path: str | Path, caps: int, arch: str | None = None) -> Profile:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ContainerError(f"cannot read seccomp profile {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ContainerError(f"seccomp profile {path} is not valid JSON: {exc}") from exc
    return parse_docker_profile(data, caps, arch or os.uname().machine, str(path))


# --- compilation --------------------------------------------------------------------------------

Label = str
_PendingJump = tuple[int, int | Label, int | Label, int]


class _Assembler:
    """Collects instructions whose jump targets may be labels, then resolves them."""

    def __init__(self) -> None:
        self.code: list[_PendingJump] = []
        self.labels: dict[Label, int] = {}
        self.long_jumps: dict[int, Label] = {}

    def emit(self, code: int, k: int, jt: int | Label = 0, jf: int | Label = 0) -> None:
        self.code.append((code, jt, jf, k & 0xFFFFFFFF))

    def label(self, name: Label) -> None:
        self.labels[name] = len(self.code)

    def jump(self, target: Label) -> None:
        """An unconditional jump (BPF_JA: a 32-bit offset, where jt/jf hold only 8 bits)."""
        self.long_jumps[len(self.code)] = target
        self.code.append((_JA, 0, 0, 0))

    def resolve(self) -> list[Instruction]:
        out: list[Instruction] = []
        for index, (code, jt, jf, k) in enumerate(self.code):
            if index in self.long_jumps:
                k = self.labels[self.long_jumps[index]] - index - 1
            out.append((code, self._offset(index, jt), self._offset(index, jf), k))
        if len(out) > 4096:
            raise ContainerError(f"seccomp filter too long ({len(out)} instructions, the kernel takes 4096)")
        return out

    def _offset(self, index: int, target: int | Label) -> int:
        if isinstance(target, int):
            return target
        offset = self.labels[target] - index - 1
        if not 0 <= offset <= 255:
            raise ContainerError("seccomp filter: an argument check is too long to encode")
        return offset


def _emit_check(asm: _Assembler, check: ArgCheck, fail: Label, ok: Label) -> None:
    hi, lo = _off_arg(check.index, True), _off_arg(check.index, False)
    vh, vl = check.value >> 32, check.value & 0xFFFFFFFF
    op = check.op
    if op == "SCMP_CMP_MASKED_EQ":
        eh, el = check.value_two >> 32, check.value_two & 0xFFFFFFFF
        asm.emit(_LD_ABS, hi)
        asm.emit(_AND, vh)
        asm.emit(_JEQ, eh, 0, fail)
        asm.emit(_LD_ABS, lo)
        asm.emit(_AND, vl)
        asm.emit(_JEQ, el, 0, fail)
    elif op == "SCMP_CMP_EQ":
        asm.emit(_LD_ABS, hi)
        asm.emit(_JEQ, vh, 0, fail)
        asm.emit(_LD_ABS, lo)
        asm.emit(_JEQ, vl, 0, fail)
    elif op == "SCMP_CMP_NE":
        asm.emit(_LD_ABS, hi)
        asm.emit(_JEQ, vh, 0, ok)
        asm.emit(_LD_ABS, lo)
        asm.emit(_JEQ, vl, fail, 0)
    else:
        # 64-bit ordering: decide on the high words, then on the low words when they are equal.
        true_when_greater = op in ("SCMP_CMP_GT", "SCMP_CMP_GE")
        above, below = (ok, fail) if true_when_greater else (fail, ok)
        asm.emit(_LD_ABS, hi)
        asm.emit(_JGT, vh, above, 0)
        asm.emit(_JEQ, vh, 0, below)
        asm.emit(_LD_ABS, lo)
        low_op = _JGE if op in ("SCMP_CMP_GE", "SCMP_CMP_LT") else _JGT
        asm.emit(low_op, vl, above, below)
    asm.label(ok)


def _emit_rule(asm: _Assembler, number: int, rule: Rule, tag: str) -> None:
    if not rule.args:
        asm.emit(_JEQ, number, 0, 1)
        asm.emit(_RET, rule.action)
        return
    end = f"{tag}:end"
    asm.emit(_JEQ, number, 0, end)
    for position, check in enumerate(rule.args):
        _emit_check(asm, check, end, f"{tag}:ok{position}")
    asm.emit(_RET, rule.action)
    asm.label(end)
    asm.emit(_LD_ABS, _OFF_NR)  # argument checks clobbered the accumulator


def compile_profile(profile: Profile, arch: str | None = None) -> list[Instruction]:
    """Compile ``profile`` to a BPF program for ``arch`` (default: this machine).

    On x86_64 the same rules apply to 32-bit (i386) programs, with their own
    syscall numbers, as Docker's profile does (``SCMP_ARCH_X86``); the x32 ABI is
    refused (Docker allows it, but its numbers differ call by call and kernels
    mostly build it out).
    """
    arch = arch or os.uname().machine
    asm = _Assembler()
    asm.emit(_LD_ABS, _OFF_ARCH)
    compat = COMPAT_ARCH.get(arch)
    if compat is not None:
        asm.emit(_JEQ, AUDIT_ARCH[compat], 0, 1)
        asm.jump("abi:compat")  # past every native rule: farther than a conditional jump reaches
    asm.emit(_JEQ, AUDIT_ARCH[arch], 1, 0)
    asm.emit(_RET, EPERM)
    asm.emit(_LD_ABS, _OFF_NR)
    if arch == "x86_64":
        asm.emit(_JGE, X32_SYSCALL_BIT, 0, 1)
        asm.emit(_RET, EPERM)
    _emit_rules(asm, profile, syscall_table(arch), "native")
    if compat is not None:
        asm.label("abi:compat")
        asm.emit(_LD_ABS, _OFF_NR)
        _emit_rules(asm, profile, syscall_table(compat), "compat")
    return asm.resolve()


def _emit_rules(asm: _Assembler, profile: Profile, table: dict[str, int], abi: str) -> None:
    for index, rule in enumerate(profile.rules):
        for name in rule.names:
            if name in table:  # like libseccomp, a name unknown on this arch is skipped
                _emit_rule(asm, table[name], rule, f"{abi}:r{index}:{name}")
    asm.emit(_RET, profile.default_action)


@functools.lru_cache(maxsize=64)
def build_filter(setting: str, caps: int, arch: str | None = None) -> tuple[Instruction, ...] | None:
    """The program for a container's ``seccomp`` setting, or None for ``unconfined``."""
    if setting == "unconfined":
        return None
    if setting in ("", "default"):
        profile = default_profile(caps)
    else:
        profile = load_docker_profile(setting, caps, arch)
    return tuple(compile_profile(profile, arch))


@functools.lru_cache(maxsize=64)
def packed_filter(setting: str, caps: int) -> bytes | None:
    """:func:`build_filter` for this machine, packed for the kernel (done once, not per container)."""
    program = build_filter(setting, caps)
    return None if program is None else syscalls.pack_filter(program)
