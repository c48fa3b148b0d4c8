"""Composer's nftables table per project: egress NAT, published ports, isolation.

Each project owns exactly one table, ``table inet composer_<project>``, with a
comment naming the project.  Composer never lists, flushes or edits any other
table: the host's own ruleset (and Docker's, firewalld's, ...) stays as it is.

The table is rendered as text by :func:`render_table` (pure, unit-tested) and
applied with ONE ``nft -f -`` call whose script first declares, then deletes,
then re-creates the table: nftables runs a whole script as one kernel
transaction, so the project's rules are replaced atomically and the table is
never seen half-built.  A subprocess per change is fine here (a change is a
whole project's rules, not a per-container call); pyroute2's nftables support is
too partial for NAT expressions and would need the same batching done by hand.

What the rules do:

* ``postrouting``: masquerade each non-internal network's subnet leaving through
  any other interface (Docker's ``-s subnet ! -o bridge -j MASQUERADE``), and
  traffic from 127.0.0.0/8 leaving through a bridge, which is what a published
  port reached from the host's own 127.0.0.1 looks like after DNAT;
* ``prerouting`` (other hosts) and ``output`` (the host itself) jump to
  ``publish``: DNAT of each published port, to a local address of the host (or
  the given host IP) -> the container address;
* ``forward``: drop between a project bridge and any other composer bridge (the
  ``cmb`` prefix), so networks are isolated even across projects; an internal
  network's traffic may not leave its bridge at all.

DNAT from 127.0.0.1 also needs ``route_localnet`` on the bridge (the kernel
otherwise refuses to route a 127/8 source out of it): :func:`ensure_project_table`
sets it on the bridges that have published ports; the setting goes with the bridge.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from composer.errors import HostError
from composer.model import naming

TABLE_PREFIX = f"{naming.NFT_TABLE}_"
NFT = "nft"

Protocol = Literal["tcp", "udp"]


@dataclass(frozen=True)
class BridgeNat:
    """One project network as the firewall sees it."""

    bridge: str
    subnets: tuple[str, ...] = ()  # IPv4 and/or IPv6 subnets of the network
    internal: bool = False


@dataclass(frozen=True)
class PortForward:
    """``host_ip:host_port[-end]`` -> ``container_ip:container_port[-end]`` for one protocol."""

    protocol: Protocol
    host_port: int
    container_ip: str
    container_port: int
    bridge: str  # the bridge the container is reached through
    count: int = 1  # a range of ``count`` consecutive ports on both sides
    host_ip: str | None = None  # None: every local address of the host


@dataclass(frozen=True)
class NatPlan:
    """Everything in a project's table."""

    bridges: tuple[BridgeNat, ...] = ()
    ports: tuple[PortForward, ...] = ()


def table_name(project: str) -> str:
    return f"{TABLE_PREFIX}{project}"


def _quote(text: str) -> str:
    return json.dumps(text)  # a double-quoted string nft accepts


def _family_keyword(address: str) -> str:
    return "ip" if ipaddress.ip_address(address).version == 4 else "ip6"


def _masquerade_rules(plan: NatPlan) -> list[str]:
    rules: list[str] = []
    for net in plan.bridges:
        if net.internal:
            continue
        for subnet in net.subnets:
            family = "ip" if ipaddress.ip_network(subnet).version == 4 else "ip6"
            rules.append(f"{family} saddr {subnet} oifname != {_quote(net.bridge)} masquerade")
    for bridge in sorted({port.bridge for port in plan.ports}):
        rules.append(f"ip saddr 127.0.0.0/8 oifname {_quote(bridge)} masquerade")
    return rules


def _publish_rules(plan: NatPlan) -> list[str]:
    rules: list[str] = []
    for port in plan.ports:
        family = _family_keyword(port.container_ip)
        target = port.container_ip if family == "ip" else f"[{port.container_ip}]"
        if port.host_ip:
            match = f"{_family_keyword(port.host_ip)} daddr {port.host_ip}"
        else:
            match = f"fib daddr type local meta nfproto {'ipv4' if family == 'ip' else 'ipv6'}"
        # One rule per port: nft's port-range DNAT does not keep the offset.
        for offset in range(port.count):
            rules.append(
                f"{match} {port.protocol} dport {port.host_port + offset} "
                f"dnat {family} to {target}:{port.container_port + offset}"
            )
    return rules


def _forward_rules(plan: NatPlan) -> list[str]:
    rules: list[str] = []
    others = _quote(f"{naming.BRIDGE_PREFIX}*")
    for net in plan.bridges:
        bridge = _quote(net.bridge)
        if net.internal:
            rules.append(f"iifname {bridge} oifname != {bridge} drop")
            rules.append(f"oifname {bridge} iifname != {bridge} drop")
            continue
        rules.append(f"iifname {bridge} oifname {others} oifname != {bridge} drop")
        rules.append(f"oifname {bridge} iifname {others} iifname != {bridge} drop")
    return rules


def _chain(name: str, header: str, rules: Sequence[str]) -> list[str]:
    lines = [f"\tchain {name} {{"]
    if header:
        lines.append(f"\t\t{header}")
    lines.extend(f"\t\t{rule}" for rule in rules)
    lines.append("\t}")
    return lines


def render_table(project: str, plan: NatPlan) -> str:
    """The body of ``table inet composer_<project>`` as nft source (without delete)."""
    lines = [f"table inet {table_name(project)} {{", f"\tcomment {_quote(naming.PREFIX + ':' + project)}"]
    lines += _chain("publish", "", _publish_rules(plan))
    lines += _chain(
        "prerouting", "type nat hook prerouting priority dstnat; policy accept;", ["jump publish"]
    )
    lines += _chain("output", "type nat hook output priority -100; policy accept;", ["jump publish"])
    lines += _chain(
        "postrouting", "type nat hook postrouting priority srcnat; policy accept;", _masquerade_rules(plan)
    )
    lines += _chain(
        "forward", "type filter hook forward priority filter; policy accept;", _forward_rules(plan)
    )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_replace(project: str, plan: NatPlan) -> str:
    """One transaction: make sure the table exists, delete it, create it anew."""
    name = table_name(project)
    return f"table inet {name}\ndelete table inet {name}\n" + render_table(project, plan)


def _run_nft(args: Sequence[str], script: str | None = None) -> str:
    try:
        done = subprocess.run(
            [NFT, *args], input=script, capture_output=True, text=True, check=False, close_fds=True
        )
    except OSError as exc:
        raise HostError("cannot run nft", errno=exc.errno, hint="install nftables") from exc
    if done.returncode != 0:
        raise HostError(f"nft {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def ensure_project_table(project: str, rules: NatPlan) -> None:
    """Replace the project's table with ``rules`` atomically (creating it if needed)."""
    for bridge in sorted({port.bridge for port in rules.ports}):
        from composer.kernel.net.netns import set_sysctl  # lazily: pyroute2 is costly to import

        set_sysctl(None, f"net/ipv4/conf/{bridge}/route_localnet", "1")
    _run_nft(["-f", "-"], render_replace(project, rules))


def delete_project_table(project: str) -> None:
    """Remove the project's table; nothing happens when there is none."""
    name = table_name(project)
    # "table X" then "delete table X" in one script: deleting is then never an error.
    _run_nft(["-f", "-"], f"table inet {name}\ndelete table inet {name}\n")


def list_project_tables() -> list[str]:
    """Projects that have a composer table in the current network namespace."""
    listing = json.loads(_run_nft(["-j", "list", "tables"]))
    projects: list[str] = []
    for item in listing.get("nftables", []):
        table = item.get("table")
        if not table or table.get("family") != "inet":
            continue
        name = str(table.get("name", ""))
        if name.startswith(TABLE_PREFIX):
            projects.append(name[len(TABLE_PREFIX) :])
    return sorted(projects)


def table_text(project: str) -> str | None:
    """The project's table as nft lists it (for ``ps``/debugging), None when absent."""
    tables = list_project_tables()
    if project not in tables:
        return None
    return _run_nft(["list", "table", "inet", table_name(project)])
