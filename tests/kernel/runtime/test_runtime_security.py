"""Capabilities, no_new_privs and seccomp seen from inside containers."""

from __future__ import annotations

import pytest
from runtime_support import Lab

pytestmark = pytest.mark.kernel


def _status(out: str, key: str) -> str:
    for line in out.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{key} not in {out!r}")


def test_default_capabilities_are_dockers(lab: Lab) -> None:
    _, out, _ = lab.run("c", ["cat", "/proc/1/status"])
    assert _status(out, "CapBnd") == "00000000a80425fb"
    assert _status(out, "CapEff") == "00000000a80425fb"
    assert _status(out, "CapAmb") == "0000000000000000"
    assert _status(out, "NoNewPrivs") == "1"
    assert _status(out, "Seccomp") == "2"


def test_cap_add_and_cap_drop(lab: Lab) -> None:
    _, out, _ = lab.run("a", ["cat", "/proc/1/status"], cap_add=("NET_ADMIN",), cap_drop=("CAP_CHOWN",))
    mask = int(_status(out, "CapBnd"), 16)
    assert mask == (0xA80425FB | 1 << 12) & ~1
    _, out, _ = lab.run("b", ["cat", "/proc/1/status"], cap_drop=("ALL",), cap_add=("KILL",))
    assert int(_status(out, "CapBnd"), 16) == 1 << 5


def test_non_root_user_has_no_effective_capabilities(lab: Lab) -> None:
    _, out, _ = lab.run("c", ["cat", "/proc/self/status"], user="app")
    assert _status(out, "CapEff") == "0000000000000000"
    assert _status(out, "CapBnd") == "00000000a80425fb"


def test_mount_and_namespace_calls_are_denied(lab: Lab) -> None:
    script = (
        "mount -t tmpfs none /tmp && echo mounted;"
        " unshare -m true && echo unshared;"
        " nsenter -t 1 -m true && echo entered;"
        " echo done"
    )
    _code, out, err = lab.sh(script)
    assert out.strip() == "done", (out, err)


def test_mount_allowed_with_cap_sys_admin(lab: Lab) -> None:
    # With CAP_SYS_ADMIN Docker's profile allows mount: the seccomp rule follows the capability.
    _, out, _ = lab.sh("mount -t tmpfs none /tmp && echo mounted", cap_add=("SYS_ADMIN",))
    assert "mounted" in out


def test_seccomp_unconfined(lab: Lab) -> None:
    _, out, _ = lab.run("c", ["cat", "/proc/1/status"], seccomp="unconfined")
    assert _status(out, "Seccomp") == "0"


def test_privileged_keeps_capabilities_and_writable_proc_sys(lab: Lab) -> None:
    _, out, _ = lab.sh("grep CapBnd /proc/1/status; touch /proc/sys/kernel/shmmni && echo procsys-rw",
                       privileged=True)  # fmt: skip
    assert int(_status(out, "CapBnd"), 16) & 1 << 21  # CAP_SYS_ADMIN
    assert "procsys-rw" in out


def test_docker_json_profile(lab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile.json"
    profile.write_text(
        '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ['
        '{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}'
    )
    _, out, err = lab.sh("mkdir /tmp/x || echo denied; echo ok", seccomp=str(profile))
    assert "denied" in out and "Permission denied" in err


def test_32_bit_programs_run_under_the_same_filter(lab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Docker's profile allows the i386 ABI with the same rules: write works, unshare gets EPERM."""
    from composer.model.container import MountConfig
    from tests.support.elf32 import write_probe

    write_probe(tmp_path / "probe32")
    code, out, err = lab.run(
        "c", ["/opt/probe32"], mounts=(MountConfig("bind", "/opt", str(tmp_path), True),)
    )
    assert out == "ok\n", err
    assert code == 1  # EPERM from the filter, not the kernel: root may unshare a user namespace
