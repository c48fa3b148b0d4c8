"""RTT and TCP throughput across a lab link stitched between two hosts over VXLAN, next to the same
link local (a veth), measured in the same run.

Two network namespaces play two hosts joined by a veth underlay (192.0.2.0/24), each with its own
composer state root; the two-router lab ``a -- b`` runs split (a on h1, b on h2: the link is a VXLAN
tunnel) and then whole on h1 (the link is a veth).  RTT: ``ping -c COUNT -i 0.01`` from a to b, the
average.  Throughput: ``dd | nc`` of SIZE MiB from a to b's ``nc -l``, timed inside the container.
Needs root, busybox (examples/rootfs/build.sh) and the kernel's vxlan.  Usage:
sudo python bench/vxlan_link.py [--count 200] [--size 200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOTFS = ROOT / "examples" / "rootfs" / "busybox"
LAB = """
name: {project}
hosts:
  h1: {{address: 192.0.2.1}}
  h2: {{address: 192.0.2.2}}
x-node: &node
  rootfs: {rootfs}
  network_mode: none
  command: [sleep, infinity]
services:
  a: {{<<: *node, host: h1}}
  b: {{<<: *node, host: h2}}
links:
  - endpoints: ["a:eth1", "b:eth1"]
    ipv4: [10.9.0.1/30, 10.9.0.2/30]
"""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


Host = tuple[str, Path]  # (network namespace, state root)


def command(host: Host, file: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    netns, root = host
    env = {**os.environ, "COMPOSER_ROOT": str(root), "COMPOSER_IMAGE_ROOT": str(root / "images")}
    argv = [
        "nsenter",
        f"--net=/run/netns/{netns}",
        sys.executable,
        "-m",
        "composer.cli.main",
        "-f",
        str(file),
    ]
    return [*argv, *args], env


def composer(netns: str, root: Path, file: Path, *args: str, check: bool = True) -> str:
    argv, env = command((netns, root), file, *args)
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"composer {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@contextlib.contextmanager
def hosts(tag: str) -> Iterator[tuple[str, str]]:
    h1, h2 = f"kb-bench1-{tag}", f"kb-bench2-{tag}"
    try:
        for netns in (h1, h2):
            sh("ip", "netns", "add", netns)
            sh("ip", "-n", netns, "link", "set", "lo", "up")
        sh("ip", "-n", h1, "link", "add", "kbu1", "type", "veth", "peer", "name", "kbu2", "netns", h2)
        for netns, device, address in ((h1, "kbu1", "192.0.2.1/24"), (h2, "kbu2", "192.0.2.2/24")):
            sh("ip", "-n", netns, "address", "add", address, "dev", device)
            sh("ip", "-n", netns, "link", "set", device, "up")
        yield h1, h2
    finally:
        for netns in (h1, h2):
            sh("ip", "netns", "del", netns, check=False)


def measure(client: Host, server: Host, file: Path, count: int, size_mib: int) -> tuple[float, float]:
    """(average RTT in ms, throughput in Mbit/s) from a (on ``client``) to b (on ``server``)."""
    ping = composer(
        *client, file, "exec", "-T", "a", "ping", "-q", "-c", str(count), "-i", "0.01", "10.9.0.2"
    )
    rtt = float(re.search(r"= [\d.]+/([\d.]+)/", ping).group(1))  # type: ignore[union-attr]
    listen, server_env = command(
        server, file, "exec", "-T", "b", "sh", "-c", "sleep 60 | nc -l -p 5001 | wc -c"
    )
    listener = subprocess.Popen(listen, cwd=ROOT, env=server_env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    script = f"time sh -c 'dd if=/dev/zero bs=65536 count={size_mib * 16} 2>/dev/null | nc 10.9.0.2 5001'"
    send, client_env = command(client, file, "exec", "-T", "a", "sh", "-c", script)
    result = subprocess.run(send, cwd=ROOT, env=client_env, capture_output=True, text=True, check=False)
    assert listener.stdout is not None
    received = int(listener.stdout.readline().strip() or 0)  # wc prints once nc has seen the end
    listener.kill()  # our composer exec, by its PID; the container's sleep goes with the down
    listener.wait()
    if received != size_mib << 20:
        raise SystemExit(f"b received {received} bytes of {size_mib << 20}: {result.stderr!r}")
    found = re.search(r"real\s+(?:(\d+)m\s*)?([\d.]+)s", result.stderr)
    if not found:
        raise SystemExit(f"no timing in: {result.stderr!r}")
    seconds = int(found.group(1) or 0) * 60 + float(found.group(2))
    return rtt, size_mib * 8 * 1.048576 / seconds


def run(count: int, size_mib: int) -> None:
    if not (ROOTFS / "bin" / "busybox").exists():
        raise SystemExit("run examples/rootfs/build.sh first")
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as folder, hosts(tag) as (h1, h2):
        file = Path(folder) / "compose.yaml"
        file.write_text(LAB.format(project=f"kb-bench-{tag}", rootfs=ROOTFS))
        r1, r2 = Path(folder) / "h1", Path(folder) / "h2"
        try:
            composer(h1, r1, file, "up", "-d", "--host", "h1")
            composer(h2, r2, file, "up", "-d", "--host", "h2")
            tunnel = measure((h1, r1), (h2, r2), file, count, size_mib)
        finally:
            composer(h1, r1, file, "down", "-t", "1", check=False)
            composer(h2, r2, file, "down", "-t", "1", check=False)
        try:
            composer(h1, r1, file, "up", "-d")  # the whole lab on h1: the link is a veth
            local = measure((h1, r1), (h1, r1), file, count, size_mib)
        finally:
            composer(h1, r1, file, "down", "-t", "1", check=False)
    (rtt, rate), (local_rtt, local_rate) = tunnel, local
    print(f"RTT        tunnel {rtt:.3f} ms   local veth {local_rtt:.3f} ms   ratio {rtt / local_rtt:.2f}x")
    ratio = rate / local_rate
    print(f"throughput tunnel {rate:.0f} Mbit/s   local veth {local_rate:.0f} Mbit/s   ratio {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="pings per measure")
    parser.add_argument("--size", type=int, default=200, help="MiB sent per measure")
    options = parser.parse_args()
    run(options.count, options.size)
