"""Networks of whole projects: refusals before creation, external and internal networks, names kept current."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.support.lab import Lab, project_leftovers

pytestmark = pytest.mark.kernel

SLEEPER = """[sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]"""


def _project(name: str, subnet: str, extra: str = "") -> str:
    return f"""\
name: {name}
services:
  app:
    rootfs: ROOTFS
    command: {SLEEPER}
{extra}networks:
  default:
    ipam: {{config: [{{subnet: {subnet}}}]}}
"""


def _nothing_created(lab: Lab, project: str) -> None:
    assert project_leftovers(lab.root, project) == []
    assert not (lab.root / "projects" / project / "containers").exists()


def test_subnet_of_another_project_is_refused_before_creation(lab: Lab) -> None:
    (lab.folder / "a").mkdir()
    (lab.folder / "b").mkdir()
    lab.write(_project("first", "10.88.0.0/24"), "a/compose.yaml")
    lab.write(_project("second", "10.88.0.0/25"), "b/compose.yaml")
    lab.composer("-f", "a/compose.yaml", "up", "-d")
    result = lab.composer("-f", "b/compose.yaml", "up", "-d", check=False)
    assert result.returncode == 2
    assert "10.88.0.0/24" in result.stderr and "first" in result.stderr
    _nothing_created(lab, "second")
    lab.composer("-p", "first", "down")


def test_address_outside_subnet_and_duplicates_are_refused(lab: Lab) -> None:
    lab.write(f"""\
name: bad
services:
  one:
    rootfs: ROOTFS
    command: {SLEEPER}
    networks: {{lan: {{ipv4_address: 10.89.1.5}}}}
  two:
    rootfs: ROOTFS
    command: {SLEEPER}
    networks: {{lan: {{ipv4_address: 10.89.0.9}}}}
  three:
    rootfs: ROOTFS
    command: {SLEEPER}
    networks: {{lan: {{ipv4_address: 10.89.0.9}}}}
networks:
  lan: {{ipam: {{config: [{{subnet: 10.89.0.0/24}}]}}}}
""")
    result = lab.composer("up", "-d", check=False)
    assert result.returncode == 2
    assert "services.one.networks.lan.ipv4_address: 10.89.1.5" in result.stderr
    assert "10.89.0.9" in result.stderr
    _nothing_created(lab, "bad")


def test_published_port_taken_on_the_host_is_refused(lab: Lab) -> None:
    listener = socket.socket()
    listener.bind(("0.0.0.0", 18090))
    listener.listen()
    try:
        lab.write(_project("porty", "10.90.0.0/24", '    ports: ["18090:80"]\n'))
        result = lab.composer("up", "-d", check=False)
        assert result.returncode == 2
        assert "18090" in result.stderr and "already in use" in result.stderr
        _nothing_created(lab, "porty")
    finally:
        listener.close()


def test_link_delay_without_netem_fails_before_creating_anything(lab: Lab) -> None:
    from composer.kernel.net.tc import netem_available

    if netem_available():
        pytest.skip("this kernel has sch_netem: the refusal cannot be shown")
    lab.write(f"""\
name: slow
services:
  a: {{rootfs: ROOTFS, command: {SLEEPER}, network_mode: none}}
  b: {{rootfs: ROOTFS, command: {SLEEPER}, network_mode: none}}
links:
  - {{endpoints: [a:eth1, b:eth1], ipv4: [10.0.0.1/30, 10.0.0.2/30], delay: 20ms}}
""")
    result = lab.composer("up", "-d", check=False)
    assert result.returncode == 2
    assert "lacks the netem qdisc" in result.stderr
    _nothing_created(lab, "slow")


def test_external_network_is_joined_and_never_deleted(lab: Lab) -> None:
    subprocess.run(["ip", "link", "add", "labbr0", "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.91.0.1/24", "dev", "labbr0"], check=True)
    subprocess.run(["ip", "link", "set", "labbr0", "up"], check=True)
    lab.write(f"""\
name: joiner
services:
  app:
    rootfs: ROOTFS
    command: {SLEEPER}
    networks: {{outside: {{ipv4_address: 10.91.0.20}}}}
networks:
  outside: {{external: true, name: labbr0}}
""")
    lab.composer("up", "-d")
    ping = subprocess.run(["ping", "-c", "1", "-W", "2", "10.91.0.20"], capture_output=True, check=False)
    assert ping.returncode == 0
    lab.composer("down")
    assert subprocess.run(["ip", "link", "show", "labbr0"], capture_output=True, check=False).returncode == 0
    subprocess.run(["ip", "link", "del", "labbr0"], check=True)


def test_internal_network_has_no_way_out(lab: Lab) -> None:
    lab.write(f"""\
name: vault
services:
  app:
    rootfs: ROOTFS
    command: {SLEEPER}
    networks: [inside]
networks:
  inside: {{internal: true}}
""")
    lab.composer("up", "-d")
    routes = lab.exec("vault", "app", "ip", "route").stdout
    assert "default" not in routes
    assert "inside" in lab.composer("network", "ls").stdout
    lab.composer("down")
    assert project_leftovers(lab.root, "vault") == []


def test_hosts_files_follow_scaling(lab: Lab) -> None:
    lab.write(f"""\
name: flock
services:
  app:
    rootfs: ROOTFS
    command: {SLEEPER}
  peer:
    rootfs: ROOTFS
    command: {SLEEPER}
""")
    lab.composer("up", "-d")
    assert "flock-peer-2" not in lab.exec("flock", "app", "cat", "/etc/hosts").stdout
    lab.composer("up", "-d", "--scale", "peer=2")
    hosts = lab.exec("flock", "app", "cat", "/etc/hosts").stdout
    assert "flock-peer-2" in hosts
    assert lab.exec("flock", "app", "ping", "-c", "1", "-W", "2", "flock-peer-2").returncode == 0
    lab.composer("up", "-d", "--scale", "peer=1")
    assert "flock-peer-2" not in lab.exec("flock", "app", "cat", "/etc/hosts").stdout
    lab.composer("down")
    assert project_leftovers(lab.root, "flock") == []


def test_memory_hog_is_oom_killed_and_reported(lab: Lab) -> None:
    lab.write("""\
name: hog
services:
  hog:
    rootfs: ROOTFS
    command: [sh, -c, "x=0123456789; while :; do x=$$x$$x; done"]
    mem_limit: 16m
    memswap_limit: 16m
""")
    lab.composer("up", "-d")
    import time

    deadline = time.monotonic() + 30
    row: dict[str, object] = {}
    while time.monotonic() < deadline:
        row = lab.ps("hog")[0]
        if row["State"] == "exited":
            break
        time.sleep(0.2)
    assert row["State"] == "exited"
    assert row["ExitCode"] == 137 and row["OOMKilled"] is True
    lab.composer("down")


def test_a_recreated_container_keeps_the_mac_of_its_address(lab: Lab) -> None:
    """Docker's rule (02:42 + the IPv4 address): the bridge's neighbour entry stays right when a
    container is recreated at the same address, so its published ports answer at once."""
    lab.write(_project("macs", "10.89.0.0/24"))
    lab.composer("up", "-d", "--progress", "quiet")
    try:
        first = lab.exec("macs", "app", "cat", "/sys/class/net/eth0/address").stdout.strip()
        address = lab.exec("macs", "app", "ip", "-4", "-o", "addr", "show", "eth0").stdout.split()[3]
        octets = address.split("/")[0].split(".")
        assert first == "02:42:" + ":".join(f"{int(o):02x}" for o in octets)
        lab.composer("up", "-d", "--force-recreate", "--progress", "quiet")
        again = lab.exec("macs", "app", "cat", "/sys/class/net/eth0/address").stdout.strip()
        assert again == first
    finally:
        lab.composer("down", "--progress", "quiet")
