"""Kernel network tests run inside a throwaway network namespace.

The ``sandbox`` fixture (autouse here) moves pytest's main thread into a fresh
network namespace for the test body and back afterwards, so bridges, routes,
nftables tables and sysctls the test makes never touch the host's own network:
they vanish with the namespace.  Processes forked by the test inherit the
sandbox namespace.  What does outlive the namespace -- bind-mounted endpoint
namespaces under the sandbox's state root and the processes started -- is
checked for leaks after the test, then removed anyway so a failing test leaves
the host clean too.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from net_sandbox import Sandbox

from composer.kernel import syscalls
from composer.kernel.net import netlink, netns, nft


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            mount_point = line.split()[4]
            if mount_point == prefix or mount_point.startswith(prefix + "/"):
                found.append(mount_point)
    return found


def _leaks(box: Sandbox) -> list[str]:
    leaks = [f"mount {m}" for m in _mounts_under(box.root)]
    leaks += [f"interface {link.name} ({link.alias})" for link in netlink.list_owned_links(None)]
    leaks += [f"nft table of {project}" for project in nft.list_project_tables()]
    return leaks


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    syscalls.unshare(syscalls.CLONE_NEWNET)
    box = Sandbox(root=tmp_path / "state", project=f"t{uuid.uuid4().hex[:8]}")
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        # A new netns inherits the host's IPv4 forwarding: start from a known state.
        netns.set_sysctl(None, "net.ipv4.ip_forward", "0")
        yield box
        leaks = [f"process {pid}" for pid in box.stop_processes()] + _leaks(box)
    finally:
        box.stop_processes()
        for mount_point in sorted(_mounts_under(box.root), reverse=True):
            syscalls.umount2(mount_point, syscalls.MNT_DETACH)
        syscalls.setns(original, syscalls.CLONE_NEWNET)
        os.close(original)
    assert not leaks, f"left behind: {leaks}"
