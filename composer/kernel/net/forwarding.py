"""IP forwarding on the host, turned on for composer's networks and given back.

Bridged containers reach the outside only when the host forwards packets.  When
forwarding is off, :func:`enable_forwarding` turns it on and records that fact in
the record file the caller names (``forwarding.json`` under the state root)
*before* writing the sysctl (a crash in between leaves a record, never an
unexplained change).  :func:`release_forwarding` turns
back off only what composer turned on, and only once no composer network needs it.
A host that had forwarding on keeps it, whatever composer does.

IPv6 forwarding is asked for separately: switching it on makes Linux stop
accepting router advertisements on host interfaces that use the default
``accept_ra=1``, so it is done only for projects with IPv6 networks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from composer.errors import HostError
from composer.kernel.net.netns import get_sysctl, set_sysctl

_KEYS = {4: "net/ipv4/ip_forward", 6: "net/ipv6/conf/all/forwarding"}


def _read_record(record: Path) -> set[int]:
    try:
        data = json.loads(record.read_text())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        raise HostError(f"cannot read {record}: {exc}") from exc
    return {int(version) for version in data.get("enabled_by_composer", [])}


def _write_record(path: Path, versions: set[int]) -> None:
    if not versions:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"enabled_by_composer": sorted(versions)}) + "\n")
    os.replace(temporary, path)  # atomic: a reader sees the old or the new record


def enable_forwarding(record: Path, ipv6: bool = False) -> None:
    """Make sure the host forwards IPv4 (and IPv6 when asked), recording what we changed."""
    enabled = _read_record(record)
    for version in (4, 6) if ipv6 else (4,):
        if get_sysctl(None, _KEYS[version]) != "0":
            continue
        enabled.add(version)
        _write_record(record, enabled)
        set_sysctl(None, _KEYS[version], "1")


def release_forwarding(record: Path, still_needed: bool) -> None:
    """Turn off the forwarding composer turned on, once no composer network needs it."""
    if still_needed:
        return
    enabled = _read_record(record)
    for version in sorted(enabled):
        set_sysctl(None, _KEYS[version], "0")
        enabled.discard(version)
        _write_record(record, enabled)


def forwarding_enabled_by_composer(record: Path) -> list[int]:
    """IP versions whose forwarding composer turned on and has not given back."""
    return sorted(_read_record(record))
