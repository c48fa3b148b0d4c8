"""Every container's /etc/hosts lists the containers it shares a network with, once per address.

The network blocks are rendered once and shared (N containers on one network are
N^2 lines); the text must be what the per-container rule gives.
"""

from __future__ import annotations

from pathlib import Path

import composer
from composer.engine.hosts.fake import FakeHost
from composer.model.build import _merged_blocks
from tests.support.projects import load, write_project

HEADER = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _hosts(tmp_path: Path, rootfs: Path) -> dict[str, str]:
    box = f"rootfs: {rootfs}, command: [sleep, '1']"
    text = (
        "name: hc\nservices:\n"
        f"  db: {{{box}, networks: {{back: {{aliases: [database, db]}}}}}}\n"
        f"  web: {{{box}, networks: [front, back], extra_hosts: ['x.example:10.9.9.9']}}\n"
        f"  solo: {{{box}, network_mode: none}}\n"
        "networks:\n"
        "  front: {ipam: {config: [{subnet: 10.61.0.0/24}]}}\n"
        "  back: {ipam: {config: [{subnet: 10.62.0.0/24}]}}\n"
    )
    project = load(write_project(tmp_path / "hc", text))
    roots = composer.Roots(state=tmp_path / "state", images=tmp_path / "images")
    options = composer.UpOptions(dry_run=True, scale={"web": 2})
    result = composer.up(project, options, roots=roots, host=FakeHost())
    return {c.name: c.config.hosts for c in result.desired.containers.values()}


def test_each_container_lists_the_peers_of_its_networks(tmp_path: Path, busybox_rootfs: Path) -> None:
    hosts = _hosts(tmp_path, busybox_rootfs)
    back = (
        "10.62.0.2\tdb hc-db-1 db-1 database\n10.62.0.3\tweb hc-web-1 web-1\n10.62.0.4\thc-web-2 web-2 web\n"
    )
    front = "10.61.0.2\tweb hc-web-1 web-1\n10.61.0.3\thc-web-2 web-2 web\n"
    assert hosts["hc-db-1"] == HEADER + back
    assert hosts["hc-web-1"] == HEADER + back + front + "10.9.9.9\tx.example\n"
    assert hosts["hc-web-2"] == hosts["hc-web-1"]
    assert hosts["hc-solo-1"] == HEADER + "127.0.1.1\tsolo hc-solo-1\n"


def test_an_address_on_two_networks_is_one_line_with_the_names_of_both() -> None:
    members = {
        "n1": [("a", "10.0.0.5", ["a", "p-a-1"]), ("b", "10.0.0.6", ["b", "p-b-1"])],
        "n2": [("a", "10.0.0.5", ["a", "alias"])],
    }
    blocks = _merged_blocks(members)
    assert blocks["a"] == ["10.0.0.5\ta p-a-1 alias\n10.0.0.6\tb p-b-1"]
    assert blocks["b"] == ["10.0.0.5\ta p-a-1\n10.0.0.6\tb p-b-1"]
