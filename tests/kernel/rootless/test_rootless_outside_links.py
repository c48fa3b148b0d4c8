"""Without root, a link end on the host, on a bridge or a macvlan is refused at up: nothing is made.

The host's network namespace of a rootless project is the project's own (see
network_mode: host in test_rootless_updown.py), which nothing outside it
reaches; composer refuses rather than make an end no one could use.  The
project name starts with ``rl-``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.rootless import RootlessUser, user_project

pytestmark = pytest.mark.kernel

OUTSIDE = """
name: rl-outside
services:
  a: {rootfs: ./busybox, network_mode: none, command: ["sleep", "1000"]}
links:
  - endpoints: ["a:eth1", {host: rl-a-eth1}]
"""


def test_a_host_end_is_refused_without_root_before_anything_is_made(
    rl: RootlessUser, rl_dir: Path, busybox_rootfs: Path
) -> None:
    project = user_project(rl, rl_dir / "outside", OUTSIDE, busybox_rootfs)
    try:
        result = rl.composer(project, "up", "-d")
        assert result.returncode == 2, result.stderr
        assert "compose.yaml:6:" in result.stderr and "links.0.endpoints.1" in result.stderr
        assert "not supported without root" in result.stderr and "Traceback" not in result.stderr
        assert not (Path("/sys/class/net") / "rl-a-eth1").exists()
        ps = rl.composer(project, "ps", "-a", "-q")
        assert ps.returncode == 0 and ps.stdout.strip() == ""
    finally:
        rl.composer(project, "down", "-t", "1")
