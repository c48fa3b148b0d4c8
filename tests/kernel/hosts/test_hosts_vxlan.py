"""A lab split across two hosts, for real: two network namespaces play the machines.

Each "host" is a network namespace with its own composer state root, joined to
the other by a veth pair (the underlay, 192.0.2.0/24).  The three-router lab is
split r1 | r2 r3; ``composer up --host`` runs in each namespace (through
``nsenter --net``, so mounts stay in the host's mount namespace as with a real
machine), and the link r1 -- r2 becomes a VXLAN tunnel between them.  The tests
check traffic end to end across the tunnel and the routes, the tunnel end's
MTU and rate, and that ``down --host`` leaves nothing on its host, also after a
kill -9 of everything of the project there; and a bridge network with a member
on each host, one VXLAN segment with the gateway on h1.  Project names start
with ``kb-``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.lab import ps_rows

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[3]
ADDRESSES = {"h1": "192.0.2.1", "h2": "192.0.2.2"}

LAB = """
name: {project}
hosts:
  h1: {{address: 192.0.2.1}}
  h2: {{address: 192.0.2.2}}
x-router: &router
  rootfs: {rootfs}
  network_mode: none
  command: ["sleep", "infinity"]
services:
  r1:
    <<: *router
    host: h1
    routes: ["10.0.23.0/30 via 10.0.12.2"]
  r2:
    <<: *router
    host: h2
    sysctls: {{net.ipv4.ip_forward: 1}}
  r3:
    <<: *router
    host: h2
    routes: ["10.0.12.0/30 via 10.0.23.1"]
links:
  - endpoints: ["r1:eth1", "r2:eth1"]
    ipv4: [10.0.12.1/30, 10.0.12.2/30]
    rate: 50mbit
  - endpoints: ["r2:eth2", "r3:eth1"]
    ipv4: [10.0.23.1/30, 10.0.23.2/30]
"""


@dataclass
class Machine:
    """One "host": a named network namespace and a state root."""

    name: str
    netns: str
    root: Path
    file: Path
    project: str

    def run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "COMPOSER_ROOT": str(self.root),
            "COMPOSER_IMAGE_ROOT": str(self.root / "images"),
        }
        result = subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.netns}", *argv], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} on {self.name} failed ({result.returncode}):\n{result.stderr}"
            )
        return result

    def composer(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "composer.cli.main", "-f", str(self.file), *args, check=check)

    def exec(self, service: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.composer("exec", "-T", service, *argv, check=False)

    def leftovers(self, shared_by: tuple[str, ...] = ()) -> list[str]:
        """Everything of the project still on this machine.

        Both "machines" share this kernel's cgroup tree, which two real hosts do
        not: while the other one still runs ``shared_by`` (its services), the
        project's cgroup folder stays for them; this host's containers' cgroups
        under it must be gone all the same.
        """
        found = [f for f in self._leftovers() if not (shared_by and f.endswith(f"/composer/{self.project}"))]
        for service in shared_by and self.services():
            found += [c for c in _cgroups_below(self.project) if f"-{service}-" in c]
        return found

    def services(self) -> tuple[str, ...]:
        return ("r1",) if self.name == "h1" else ("r2", "r3")

    def _leftovers(self) -> list[str]:
        from tests.support.lab import _mounts_under, _processes_under

        folder = self.root / "projects" / self.project
        found = [f"mount {m}" for m in _mounts_under(folder)]
        found += [f"process {p}" for p in _processes_under(folder)]
        found += [f"cgroup {c}" for c in _cgroups_of(self.project)]
        if folder.exists():
            found.append(f"state folder {folder}")
        links = self.run("ip", "-o", "link", "show").stdout  # interfaces carry the project in their ifalias
        found += [line for line in links.splitlines() if self.project in line or "vxlan" in line]
        return found

    def container_netns(self, service: str) -> str:
        return str(self.root / "projects" / self.project / "netns" / f"{self.project}-{service}-1")


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


@pytest.fixture
def machines(tmp_path: Path, busybox_rootfs: Path) -> Iterator[dict[str, Machine]]:
    tag = uuid.uuid4().hex[:6]
    project = f"kb-split-{tag}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(LAB.format(project=project, rootfs=busybox_rootfs)))
    made: dict[str, Machine] = {}
    names = {"h1": f"kb-h1-{tag}", "h2": f"kb-h2-{tag}"}
    try:
        for host, netns in names.items():
            _ip("netns", "add", netns)
            made[host] = Machine(host, netns, tmp_path / host, file, project)
            _ip("-n", netns, "link", "set", "lo", "up")
        _ip(
            "-n",
            names["h1"],
            "link",
            "add",
            "kbu1",
            "type",
            "veth",
            "peer",
            "name",
            "kbu2",
            "netns",
            names["h2"],
        )
        for host, device in (("h1", "kbu1"), ("h2", "kbu2")):
            _ip("-n", names[host], "address", "add", f"{ADDRESSES[host]}/24", "dev", device)
            _ip("-n", names[host], "link", "set", device, "up")
        yield made
    finally:
        for machine in made.values():
            machine.composer("down", "-t", "1", check=False)
        for netns in names.values():
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "del", netns)


def _up_both(machines: dict[str, Machine]) -> None:
    for host, machine in machines.items():
        machine.composer("up", "-d", "--host", host)


def test_traffic_crosses_the_tunnel_and_routes_work_end_to_end(machines: dict[str, Machine]) -> None:
    _up_both(machines)
    h1, h2 = machines["h1"], machines["h2"]
    across = h1.exec("r1", "ping", "-c", "3", "-W", "2", "10.0.12.2")
    assert across.returncode == 0, across.stdout + across.stderr
    end_to_end = h1.exec("r1", "ping", "-c", "3", "-W", "2", "10.0.23.2")  # through r2 to r3
    assert end_to_end.returncode == 0, end_to_end.stdout + end_to_end.stderr
    back = h2.exec("r3", "ping", "-c", "2", "-W", "2", "10.0.12.1")
    assert back.returncode == 0, back.stdout + back.stderr
    # Only r1 runs on h1, r2 and r3 on h2; the tunnel end is a VXLAN device in r1.
    assert sorted(r["Service"] for r in ps_rows(h1.composer("ps", "--format", "json").stdout)) == ["r1"]
    assert sorted(r["Service"] for r in ps_rows(h2.composer("ps", "--format", "json").stdout)) == [
        "r2",
        "r3",
    ]
    end = subprocess.run(
        ["nsenter", f"--net={h1.container_netns('r1')}", "ip", "-d", "link", "show", "eth1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "vxlan id" in end and "remote 192.0.2.2" in end and "local 192.0.2.1" in end
    assert "mtu 1450" in end
    qdisc = subprocess.run(
        ["nsenter", f"--net={h1.container_netns('r1')}", "tc", "qdisc", "show", "dev", "eth1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tbf" in qdisc and "50Mbit" in qdisc
    assert 50 * 0.4 < _throughput_mbit(h1, h2, mib=8) < 50 * 1.25  # the rate holds across the tunnel


def _throughput_mbit(client: Machine, server: Machine, mib: int) -> float:
    """``dd | nc`` from r1 to r2's listener, timed inside r1 (busybox nc quits at the end of its stdin,
    so the listener's stdin is a ``sleep``)."""
    env = {
        **os.environ,
        "COMPOSER_ROOT": str(server.root),
        "COMPOSER_IMAGE_ROOT": str(server.root / "images"),
    }
    listen = [
        "nsenter", f"--net=/run/netns/{server.netns}", sys.executable, "-m", "composer.cli.main",
        "-f", str(server.file), "exec", "-T", "r2", "sh", "-c", "sleep 60 | nc -l -p 5001 | wc -c",
    ]  # fmt: skip
    listener = subprocess.Popen(listen, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        script = f"time sh -c 'dd if=/dev/zero bs=65536 count={mib * 16} 2>/dev/null | nc 10.0.12.2 5001'"
        sent = client.exec("r1", "sh", "-c", script)
        assert listener.stdout is not None
        assert int(listener.stdout.readline()) == mib << 20
    finally:
        listener.kill()
        listener.wait()
    found = re.search(r"real\s+(?:(\d+)m\s*)?([\d.]+)s", sent.stderr)
    assert found, sent.stderr
    seconds = int(found.group(1) or 0) * 60 + float(found.group(2))
    return mib * 8 * 1.048576 / seconds


def test_down_on_one_host_removes_only_its_part(machines: dict[str, Machine]) -> None:
    _up_both(machines)
    h1, h2 = machines["h1"], machines["h2"]
    refused = h2.composer("down", "--host", "h1", check=False)
    assert refused.returncode != 0 and "host h2's part" in refused.stderr
    h1.composer("down", "--host", "h1")
    assert h1.leftovers(shared_by=h2.services()) == []
    assert sorted(r["Service"] for r in ps_rows(h2.composer("ps", "--format", "json").stdout)) == [
        "r2",
        "r3",
    ]
    assert h2.exec("r2", "ping", "-c", "1", "-W", "2", "10.0.23.2").returncode == 0
    h2.composer("down", "--host", "h2")
    assert h2.leftovers() == [] and h1.leftovers() == []


def test_kill_9_then_down_leaves_nothing_on_that_host(machines: dict[str, Machine]) -> None:
    _up_both(machines)
    h2 = machines["h2"]
    rows = ps_rows(h2.composer("ps", "--format", "json").stdout)
    pids = [int(r["Pid"]) for r in rows if r.get("Pid")]
    supervisor = [
        int(p.name) for p in Path("/proc").iterdir()
        if p.name.isdigit() and str(h2.root / "projects" / h2.project) in _cmdline(p)
    ]  # fmt: skip
    assert pids
    for pid in pids + supervisor:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    h2.composer("down", "--host", "h2", "-t", "1")
    assert h2.leftovers(shared_by=machines["h1"].services()) == []
    machines["h1"].composer("down", "--host", "h1", "-t", "1")
    assert h2.leftovers() == [] and machines["h1"].leftovers() == []


def _cgroups_of(project: str) -> list[str]:
    """``composer/PROJECT`` folders in every hierarchy (os.walk: others' cgroups come and go meanwhile)."""
    found = []
    for base in Path("/sys/fs/cgroup").iterdir():
        for folder, children, _ in os.walk(base):
            if folder.endswith(f"/composer/{project}"):
                found.append(folder)
                children.clear()
    return found


def _cgroups_below(project: str) -> list[str]:
    return [
        str(child) for folder in _cgroups_of(project) for child in Path(folder).iterdir() if child.is_dir()
    ]


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


LAN = """
name: {project}
hosts:
  h1: {{address: 192.0.2.1}}
  h2: {{address: 192.0.2.2}}
services:
  c1:
    rootfs: {rootfs}
    host: h1
    command: ["sleep", "infinity"]
    networks: {{lan: {{ipv4_address: 10.77.0.10}}}}
  c2:
    rootfs: {rootfs}
    host: h2
    command: ["sleep", "infinity"]
    networks: {{lan: {{ipv4_address: 10.77.0.20}}}}
networks:
  lan:
    internal: true
    ipam: {{config: [{{subnet: 10.77.0.0/24}}]}}
"""


def test_a_network_across_hosts_is_one_segment(
    machines: dict[str, Machine], tmp_path: Path, busybox_rootfs: Path
) -> None:
    project = f"kb-lan-{uuid.uuid4().hex[:6]}"
    file = tmp_path / "lan.yaml"
    file.write_text(textwrap.dedent(LAN.format(project=project, rootfs=busybox_rootfs)))
    lan = {host: Machine(host, m.netns, m.root, file, project) for host, m in machines.items()}
    try:
        for host, machine in lan.items():
            machine.composer("up", "-d", "--host", host)
        across = lan["h1"].exec("c1", "ping", "-c", "3", "-W", "2", "10.77.0.20")
        assert across.returncode == 0, across.stdout + across.stderr
        gateway = lan["h2"].exec("c2", "ping", "-c", "2", "-W", "2", "10.77.0.1")  # on h1's bridge only
        assert gateway.returncode == 0, gateway.stdout + gateway.stderr
        mtu = lan["h2"].exec("c2", "cat", "/sys/class/net/eth0/mtu")
        assert mtu.stdout.strip() == "1450"
    finally:
        for host, machine in lan.items():
            machine.composer("down", "--host", host, "-t", "1", check=False)
    assert lan["h1"].leftovers() == [] and lan["h2"].leftovers() == []
