"""Seccomp filter assembly, checked by running the compiled BPF in a small interpreter."""

from __future__ import annotations

import errno
import json
import struct
from pathlib import Path

import pytest

from composer.errors import ContainerError
from composer.kernel.caps import DEFAULT_MASK, cap_mask
from composer.kernel.seccomp import (
    ACT_ALLOW,
    ACT_KILL_PROCESS,
    AUDIT_ARCH,
    ArgCheck,
    Profile,
    Rule,
    build_filter,
    compile_profile,
    default_profile,
    errno_action,
    load_docker_profile,
    syscall_table,
)

EPERM = errno_action(errno.EPERM)


def run_bpf(program: list[tuple[int, int, int, int]], data: bytes) -> int:
    """Interpret the classic BPF subset the compiler emits over a seccomp_data buffer."""
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x54:  # and #k
            acc &= k
        elif code == 0x06:  # ret #k
            return k
        elif code == 0x05:  # ja +k
            pc += k
        elif code in (0x15, 0x25, 0x35, 0x45):
            taken = {0x15: acc == k, 0x25: acc > k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if taken else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def seccomp_data(name: str, *args: int, arch: str = "x86_64", nr: int | None = None) -> bytes:
    number = syscall_table(arch)[name] if nr is None else nr
    values = [*args, *[0] * (6 - len(args))]
    return struct.pack("<IIQ6Q", number, AUDIT_ARCH[arch], 0, *values)


def verdict(caps: int, name: str, *args: int, arch: str = "x86_64") -> int:
    return run_bpf(compile_profile(default_profile(caps), arch), seccomp_data(name, *args, arch=arch))


@pytest.mark.parametrize(
    "name",
    ["mount", "umount2", "pivot_root", "unshare", "setns", "keyctl", "add_key", "request_key", "bpf",
     "perf_event_open", "open_by_handle_at", "io_uring_setup", "userfaultfd", "reboot", "swapon",
     "swapoff", "clock_settime", "settimeofday", "init_module", "finit_module", "delete_module",
     "kexec_load", "acct"],
)  # fmt: skip
def test_default_profile_blocks_dangerous_calls(name: str) -> None:
    assert verdict(DEFAULT_MASK, name) == EPERM


@pytest.mark.parametrize("name", ["read", "write", "openat", "execve", "ptrace", "close_range", "wait4"])
def test_default_profile_allows_ordinary_calls(name: str) -> None:
    assert verdict(DEFAULT_MASK, name) == ACT_ALLOW


def test_capability_lifts_the_matching_block() -> None:
    with_admin = DEFAULT_MASK | cap_mask(["SYS_ADMIN"])
    assert verdict(with_admin, "mount") == ACT_ALLOW
    assert verdict(with_admin, "clone", 0x10000000) == ACT_ALLOW
    assert verdict(with_admin, "keyctl") == EPERM  # never allowed
    assert verdict(DEFAULT_MASK | cap_mask(["SYS_TIME"]), "clock_settime") == ACT_ALLOW


def test_personality_only_safe_values() -> None:
    assert verdict(DEFAULT_MASK, "personality", 0) == ACT_ALLOW
    assert verdict(DEFAULT_MASK, "personality", 0xFFFFFFFF) == ACT_ALLOW
    assert verdict(DEFAULT_MASK, "personality", 0x0040000) == EPERM  # ADDR_NO_RANDOMIZE


def test_clone_with_namespace_flags_is_denied_and_clone3_hidden() -> None:
    assert verdict(DEFAULT_MASK, "clone", 0x01200011) == ACT_ALLOW  # fork-like flags
    assert verdict(DEFAULT_MASK, "clone", 0x01200011 | 0x20000000) == EPERM  # + CLONE_NEWPID
    assert verdict(DEFAULT_MASK, "clone3") == errno_action(errno.ENOSYS)


def test_x32_and_a_foreign_architecture_are_refused() -> None:
    program = compile_profile(default_profile(DEFAULT_MASK), "x86_64")
    assert run_bpf(program, seccomp_data("read", nr=0x40000000)) == EPERM
    arm = struct.pack("<IIQ6Q", 63, AUDIT_ARCH["aarch64"], 0, *[0] * 6)
    assert run_bpf(program, arm) == EPERM


@pytest.mark.parametrize(
    ("name", "expected"),
    [("read", ACT_ALLOW), ("write", ACT_ALLOW), ("mount", EPERM), ("kexec_load", EPERM), ("socketcall", ACT_ALLOW),
     ("init_module", EPERM), ("unshare", EPERM), ("userfaultfd", EPERM)],
)  # fmt: skip
def test_i386_programs_get_the_same_rules_with_their_numbers(name: str, expected: int) -> None:
    """As Docker's profile does on amd64 (SCMP_ARCH_X86): a 32-bit binary runs, filtered alike."""
    program = compile_profile(default_profile(DEFAULT_MASK), "x86_64")
    assert run_bpf(program, seccomp_data(name, arch="i386")) == expected


def test_i386_argument_checks_use_the_32_bit_clone() -> None:
    program = compile_profile(default_profile(DEFAULT_MASK), "x86_64")
    assert run_bpf(program, seccomp_data("clone", 0x10000000, arch="i386")) == EPERM  # CLONE_NEWUSER
    assert run_bpf(program, seccomp_data("clone", 0x11, arch="i386")) == ACT_ALLOW


def test_aarch64_numbers() -> None:
    assert verdict(DEFAULT_MASK, "mount", arch="aarch64") == EPERM
    assert verdict(DEFAULT_MASK, "read", arch="aarch64") == ACT_ALLOW


@pytest.mark.parametrize(
    ("op", "value", "arg", "matches"),
    [
        ("SCMP_CMP_EQ", 5, 5, True),
        ("SCMP_CMP_EQ", 5, 5 | 1 << 32, False),
        ("SCMP_CMP_NE", 5, 6, True),
        ("SCMP_CMP_NE", 5, 5, False),
        ("SCMP_CMP_GT", 1 << 33, (1 << 33) + 1, True),
        ("SCMP_CMP_GT", 1 << 33, 1 << 33, False),
        ("SCMP_CMP_GE", 1 << 33, 1 << 33, True),
        ("SCMP_CMP_GE", 10, 9, False),
        ("SCMP_CMP_LT", 10, 9, True),
        ("SCMP_CMP_LT", 10, 1 << 32, False),
        ("SCMP_CMP_LE", 10, 10, True),
        ("SCMP_CMP_LE", 10, 11, False),
    ],
)
def test_64_bit_argument_comparisons(op: str, value: int, arg: int, matches: bool) -> None:
    profile = Profile(ACT_ALLOW, (Rule(("ioctl",), EPERM, (ArgCheck(1, op, value),)),))
    program = compile_profile(profile, "x86_64")
    result = run_bpf(program, seccomp_data("ioctl", 3, arg))
    assert result == (EPERM if matches else ACT_ALLOW)


def test_masked_eq() -> None:
    check = ArgCheck(0, "SCMP_CMP_MASKED_EQ", 0xFF00, 0x1200)
    program = compile_profile(Profile(ACT_ALLOW, (Rule(("ioctl",), EPERM, (check,)),)), "x86_64")
    assert run_bpf(program, seccomp_data("ioctl", 0x12AB)) == EPERM
    assert run_bpf(program, seccomp_data("ioctl", 0x13AB)) == ACT_ALLOW


def test_docker_profile_allow_list(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read", "write", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS", "excludes": {"caps": ["CAP_KILL"]}},
        ],
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile))
    program = compile_profile(load_docker_profile(path, DEFAULT_MASK, "x86_64"), "x86_64")
    assert run_bpf(program, seccomp_data("read")) == ACT_ALLOW
    assert run_bpf(program, seccomp_data("openat")) == errno_action(38)
    assert run_bpf(program, seccomp_data("mount")) == errno_action(38)  # needs CAP_SYS_ADMIN
    assert run_bpf(program, seccomp_data("kill")) == errno_action(38)  # excluded: we hold CAP_KILL
    no_kill = load_docker_profile(path, 0, "x86_64")
    assert run_bpf(compile_profile(no_kill, "x86_64"), seccomp_data("kill")) == ACT_KILL_PROCESS


def test_bad_profiles_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="cannot read seccomp profile"):
        load_docker_profile(tmp_path / "missing.json", DEFAULT_MASK)
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_NOPE"}')
    with pytest.raises(ContainerError, match="unknown action"):
        load_docker_profile(bad, DEFAULT_MASK)


def test_unconfined_has_no_filter() -> None:
    assert build_filter("unconfined", DEFAULT_MASK) is None
    assert build_filter("default", DEFAULT_MASK)
