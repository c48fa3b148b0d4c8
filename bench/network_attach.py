"""Attach N endpoints to one bridge: composer's netlink calls vs the same work with `ip`.

Per endpoint, both sides do: create a named network namespace (loopback up),
create a veth pair, put one end on the bridge with an alias and up, get the
other end into the namespace named eth0, add its address, set it up, add the
default route via the bridge's address.  Composer does it in one process
(:func:`composer.kernel.net.netns.create_netns` + :func:`composer.kernel.net.netlink.attach_to_bridge`);
the baseline runs one ``ip`` command per step, the way shell scripts do.

The whole run happens in a throwaway network AND mount namespace (the script
re-executes itself under ``unshare --net --mount`` with a private tmpfs on /run),
so neither the bridge, the veths, nor ``ip netns add``'s files and mounts under
/run/netns can outlive it, even on a crash.

    sudo python bench/network_attach.py [N ...]      (default: 10 100)
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_INSIDE = "COMPOSER_BENCH_SANDBOX"


def _reexec_in_sandbox() -> None:
    env = dict(os.environ, **{_INSIDE: "1"})
    argv = ["unshare", "--net", "--mount", "--propagation", "private", sys.executable, *sys.argv]
    sys.exit(subprocess.run(argv, env=env, check=False).returncode)


def _address(i: int) -> str:
    return str(ipaddress.ip_address("10.200.0.2") + i)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def run_composer(n: int, root: Path) -> float:
    from composer.kernel.net import netlink, netns
    from composer.model import naming

    host = netns.netns_iproute(None)  # one host socket for the whole loop, as the executor would

    bridge = naming.bridge_name("bench", "composer")
    netlink.ensure_bridge(bridge, naming.ifalias("bench", "network:composer"), None, ["10.200.0.1/16"])
    start = time.perf_counter()
    for i in range(n):
        path = str(root / f"c{i}")
        netns.create_netns(path)
        resource = f"endpoint:c{i}:composer"
        netlink.attach_to_bridge(
            bridge,
            naming.veth_host_name("bench", resource),
            naming.ifalias("bench", resource),
            path,
            "eth0",
            [f"{_address(i)}/16"],
            gateway4="10.200.0.1",
            host_ipr=host,
        )
    elapsed = time.perf_counter() - start
    host.close()
    for i in range(n):
        netlink.delete_link(naming.veth_host_name("bench", f"endpoint:c{i}:composer"))
        netns.delete_netns(root / f"c{i}")
    netlink.delete_link(bridge)
    return elapsed


def run_ip(n: int) -> float:
    bridge = "ipbench0"
    _ip("link", "add", bridge, "type", "bridge")
    _ip("addr", "add", "10.200.0.1/16", "dev", bridge)
    _ip("link", "set", bridge, "up")
    start = time.perf_counter()
    for i in range(n):
        ns, host, peer = f"ipb{i}", f"ipbh{i}", f"ipbp{i}"
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", host, "type", "veth", "peer", "name", peer)
        _ip("link", "set", host, "master", bridge, "alias", f"composer:bench:endpoint:{i}", "up")
        _ip("link", "set", peer, "netns", ns)
        _ip("-n", ns, "link", "set", peer, "name", "eth0")
        _ip("-n", ns, "addr", "add", f"{_address(i)}/16", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "route", "add", "default", "via", "10.200.0.1")
    elapsed = time.perf_counter() - start
    for i in range(n):
        _ip("link", "del", f"ipbh{i}")
        _ip("netns", "del", f"ipb{i}")
    _ip("link", "del", bridge)
    return elapsed


def main(sizes: list[int]) -> None:
    print(f"{'N':>5} {'composer s':>11} {'ip s':>9} {'ip/composer':>12} {'ms/endpoint':>12}")
    with tempfile.TemporaryDirectory(prefix="composer-bench-") as tmp:
        for n in sizes:
            ours = run_composer(n, Path(tmp))
            theirs = run_ip(n)
            print(f"{n:>5} {ours:>11.3f} {theirs:>9.3f} {theirs / ours:>11.1f}x {ours / n * 1000:>12.2f}")


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("needs root")
    if os.environ.get(_INSIDE) != "1":
        _reexec_in_sandbox()
    # ip netns add writes under /run/netns: give it a private /run of its own.
    subprocess.run(["mount", "-t", "tmpfs", "bench-run", "/run"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    main([int(arg) for arg in sys.argv[1:]] or [10, 100])
