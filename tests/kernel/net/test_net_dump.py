"""The raw netlink reader that ``observe`` uses, against what ``ip`` and ``tc`` set up.

Runs in the sandbox's throwaway namespace (see conftest.py).
"""

from __future__ import annotations

import subprocess

from composer.kernel.net.dump import read_netns
from composer.model.netstate import RouteState


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def test_it_reads_links_addresses_main_routes_and_shaping() -> None:
    _ip("link", "add", "dmpa", "mtu", "1400", "type", "veth", "peer", "name", "dmpb")
    _ip("link", "set", "dmpa", "up")
    _ip("link", "set", "dmpb", "up")
    _ip("addr", "add", "10.77.0.1/24", "dev", "dmpa")
    _ip("-6", "addr", "add", "fd77::1/64", "dev", "dmpa", "nodad")
    _ip("route", "add", "10.78.0.0/16", "via", "10.77.0.2", "dev", "dmpa")
    _ip("route", "add", "10.79.0.0/16", "via", "10.77.0.2", "dev", "dmpa", "table", "100")
    subprocess.run(
        [
            "tc",
            "qdisc",
            "add",
            "dev",
            "dmpa",
            "root",
            "tbf",
            "rate",
            "8mbit",
            "burst",
            "32kb",
            "latency",
            "50ms",
        ],
        check=True,
        capture_output=True,
    )

    state = read_netns(None, ["net.ipv4.conf.dmpa.forwarding", "net.ipv4.conf.nosuch.forwarding"])

    a, b = state.links["dmpa"], state.links["dmpb"]
    assert (a.mtu, a.up, a.qdisc, a.rate_bps) == (1400, True, "tbf", 8_000_000)
    assert b.rate_bps is None and b.qdisc != "tbf"
    assert set(state.addresses["dmpa"]) >= {"10.77.0.1/24", "fd77::1/64"}
    assert RouteState("10.78.0.0/16", "10.77.0.2", "dmpa") in state.routes
    assert RouteState("10.77.0.0/24", "", "dmpa") in state.routes  # the connected route
    assert not [r for r in state.routes if r.destination == "10.79.0.0/16"]  # table 100 is not main
    assert not [r for r in state.routes if r.destination.startswith("10.77.0.1")]  # local table
    assert state.sysctls == {"net.ipv4.conf.dmpa.forwarding": "0"}  # a missing key is left out
    _ip("link", "del", "dmpa")
