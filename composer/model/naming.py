"""Deterministic names for everything composer puts on the host.

Kernel interface names are at most 15 bytes, so host-side interfaces get a short
name made of composer's prefix and a hash of the project and resource
(``cmp`` + 10 hex digits for a bridge, ``cmv`` for a veth end), plus an ifalias
``composer:<project>:<resource-id>`` that names the owner in full.  Cleanup finds
objects by that marker, never by guessing.

Containers are named ``<project>-<service>-<n>`` as Docker Compose does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

PREFIX = "composer"
IFALIAS_PREFIX = "composer:"
BRIDGE_PREFIX = "cmb"
VETH_PREFIX = "cmv"
NFT_TABLE = "composer"
IFNAME_MAX = 15
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,15}$")
_PROJECT_RE = re.compile(r"[^a-z0-9_-]")


def signal_number(name: str) -> int | None:
    """``SIGTERM``, ``term``, ``15`` -> 15; None for a name that is no signal."""
    import signal

    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    text = text if text.startswith("SIG") else f"SIG{text}"
    try:
        return int(signal.Signals[text])
    except KeyError:
        return None


def short_hash(*parts: str, length: int = 10) -> str:
    """Hex digest of ``parts`` joined with NUL bytes (NUL cannot appear in names)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def normalize_project_name(raw: str) -> str:
    """Compose's rule: lower case, keep ``[a-z0-9_-]``, must start with a letter or digit."""
    name = _PROJECT_RE.sub("", raw.lower())
    return name.lstrip("_-")


def container_name(project: str, service: str, number: int) -> str:
    return f"{project}-{service}-{number}"


def bridge_name(project: str, network: str) -> str:
    return f"{BRIDGE_PREFIX}{short_hash(project, network, length=IFNAME_MAX - len(BRIDGE_PREFIX))}"


def veth_host_name(project: str, resource_id: str, end: str = "") -> str:
    return f"{VETH_PREFIX}{short_hash(project, resource_id, end, length=IFNAME_MAX - len(VETH_PREFIX))}"


def ifalias(project: str, resource_id: str) -> str:
    return f"{IFALIAS_PREFIX}{project}:{resource_id}"


def owner_of_ifalias(alias: str | None) -> tuple[str, str] | None:
    """(project, resource_id) for an alias composer wrote, else None."""
    if not alias or not alias.startswith(IFALIAS_PREFIX):
        return None
    project, _, resource = alias[len(IFALIAS_PREFIX) :].partition(":")
    return (project, resource) if project and resource else None


def is_valid_ifname(name: str) -> bool:
    return bool(_IFNAME_RE.match(name)) and name not in (".", "..") and len(name.encode()) <= IFNAME_MAX


def attachment_mac(addresses: Sequence[str]) -> str | None:
    """The hardware address of a network attachment without ``mac_address``: ``02:42`` and its IPv4
    address, as Docker makes it.  The same address gives the same MAC, so a recreated container is
    reached at once: the bridge's neighbour entry for its address stays right (a random MAC left the
    old one in the cache and published ports timed out until it expired).  None without IPv4."""
    for cidr in addresses:
        address = cidr.split("/", 1)[0]
        parts = address.split(".")
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            return "02:42:" + ":".join(f"{int(p):02x}" for p in parts)
    return None
