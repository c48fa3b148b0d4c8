"""A live link change: composer's host layer against two ``tc qdisc replace`` commands, per link.

One link is a veth pair between two network namespaces, a TBF on each end.
Each round changes the rate of both ends (10 <-> 2 Mbit/s) and, every other
round, takes one end down and up again, the way ``composer link set`` and
``composer link down/up`` do: composer reads the netns once per end and
changes what differs over netlink (``RealHost.update_interface``), the
baseline forks ``tc qdisc replace`` (and ``ip link set``) once per end, as a
shell script would.  Printed: milliseconds per link change, best and median,
and the ratio.  The goal is under 20 ms per link, no process restarted.

Runs in a throwaway network namespace (the script re-executes itself under
``unshare --net --mount``).

    sudo python bench/live_link.py [ROUNDS]      (default 50)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

_INSIDE = "COMPOSER_BENCH_SANDBOX"


def _reexec_in_sandbox() -> None:
    env = dict(os.environ, **{_INSIDE: "1"})
    argv = ["unshare", "--net", "--mount", "--propagation", "private", sys.executable, *sys.argv]
    sys.exit(subprocess.run(argv, env=env, check=False).returncode)


def _ends(root: Path) -> tuple[object, object]:
    from composer.engine.hosts.real import RealHost
    from composer.kernel.net import netlink, netns
    from composer.model.desired import DesiredInterface
    from composer.model.ids import ResourceId, interface_id

    a, b = str(root / "a"), str(root / "b")
    for path in (a, b):
        netns.create_netns(path)
    netlink.create_p2p_link(
        a, "eth1", b, "eth1", "composer:bench:link:a--b", ["10.9.0.1/30"], ["10.9.0.2/30"]
    )
    carrier = ResourceId("link:a:eth1--b:eth1")
    ends = tuple(
        DesiredInterface(interface_id(name, "eth1"), name, path, "eth1", carrier, (cidr,), rate=10_000_000)
        for name, path, cidr in (("a", a, "10.9.0.1/30"), ("b", b, "10.9.0.2/30"))
    )
    host = RealHost(root / "state", root / "images")
    for end in ends:
        host.update_interface(end)
    return host, ends


def run_composer(rounds: int, root: Path) -> list[float]:
    host, ends = _ends(root)
    times = []
    for i in range(rounds):
        rate = 2_000_000 if i % 2 == 0 else 10_000_000
        wanted = [replace(end, rate=rate, up=not (i % 4 == 1 and n == 0)) for n, end in enumerate(ends)]  # type: ignore[call-overload]
        began = time.perf_counter()
        for end in wanted:
            host.update_interface(end)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - began)
    return times


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True)


def run_tc(rounds: int, root: Path) -> list[float]:
    a, b = str(root / "a"), str(root / "b")
    times = []
    for i in range(rounds):
        rate = "2mbit" if i % 2 == 0 else "10mbit"
        began = time.perf_counter()
        for n, ns in enumerate((a, b)):
            _run("nsenter", f"--net={ns}", "tc", "qdisc", "replace", "dev", "eth1", "root", "handle", "1:",
                 "tbf", "rate", rate, "burst", "64kb", "latency", "100ms")  # fmt: skip
            if n == 0 and i % 4 in (1, 2):
                _run("nsenter", f"--net={ns}", "ip", "link", "set", "eth1", "down" if i % 4 == 1 else "up")
        times.append(time.perf_counter() - began)
    return times


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="composer-bench-") as tmp:
        from composer.kernel.net import netns

        try:
            ours = run_composer(rounds, Path(tmp))
            theirs = run_tc(rounds, Path(tmp))
        finally:
            for name in ("a", "b"):
                netns.delete_netns(str(Path(tmp) / name))
    state_rounds = [i for i in range(rounds) if i % 4 in (1, 2)]
    print(f"{'per link change (ms)':<22} {'best':>7} {'median':>7} {'rate only':>10} {'with state':>11}")
    for name, times in (("composer", ours), ("tc + ip", theirs)):
        rate_only = [t for i, t in enumerate(times) if i not in state_rounds]
        with_state = [times[i] for i in state_rounds]
        best, median = min(times) * 1000, statistics.median(times) * 1000
        rate_ms, state_ms = statistics.median(rate_only) * 1000, statistics.median(with_state) * 1000
        print(f"{name:<22} {best:>7.2f} {median:>7.2f} {rate_ms:>10.2f} {state_ms:>11.2f}")
    median, base_median = statistics.median(ours), statistics.median(theirs)
    print(f"ratio (tc/composer, median): {base_median / median:.1f}x; goal < 20 ms per link: "
          f"{'met' if median * 1000 < 20 else 'missed'}")  # fmt: skip


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("needs root")
    if os.environ.get(_INSIDE) != "1":
        _reexec_in_sandbox()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
