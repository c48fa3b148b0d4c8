"""stats through the CLI on the real kernel: CPU, memory, pids, network and block I/O of busy containers."""

from __future__ import annotations

import json

import pytest

from tests.support.lab import Lab

pytestmark = pytest.mark.kernel

PROJECT = """\
name: vb-stats
services:
  busy:
    rootfs: ROOTFS
    command: [sh, -c, "timeout 20 dd if=/dev/zero of=/dev/null bs=1M & sleep 21 & trap 'exit 0' TERM; sleep 3600 & wait"]
    mem_limit: 64m
  chatty:
    rootfs: ROOTFS
    command: [sh, -c, "ping -c 20 -i 0.2 -s 1000 peer >/dev/null; dd if=/dev/urandom of=/tmp/blob bs=64k count=32 conv=fsync; sleep 3600"]
  peer:
    rootfs: ROOTFS
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
"""


def _size(text: str) -> float:
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise AssertionError(text)


def test_stats_no_stream_json(lab: Lab) -> None:
    lab.write(PROJECT)
    lab.composer("up", "-d")
    import time

    deadline = time.monotonic() + 60
    while lab.exec("vb-stats", "chatty", "test", "-s", "/tmp/blob").returncode != 0:  # pings done, then dd
        assert time.monotonic() < deadline
        time.sleep(0.3)
    out = lab.composer("-p", "vb-stats", "stats", "--no-stream", "--format", "json").stdout
    rows = {row["Service"]: row for row in map(json.loads, out.splitlines())}
    assert set(rows) == {"busy", "chatty", "peer"}
    busy = rows["busy"]
    assert float(busy["CPUPerc"].rstrip("%")) > 0.5  # dd spins (on a machine shared with others)
    used, limit = busy["MemUsage"].split(" / ")
    assert limit == "64MiB" and 0 < _size(used) < 64 << 20
    assert int(busy["PIDs"]) >= 4  # sh, timeout, dd, sleep
    received, sent = (_size(part) for part in rows["chatty"]["NetIO"].split(" / "))
    assert sent > 20 * 1000 and received > 20 * 1000  # 20 pings of 1000 bytes, answered
    read, written = (_size(part) for part in rows["chatty"]["BlockIO"].split(" / "))  # both parse
    del read, written  # the state root is on tmpfs here: no block device sees these writes
    assert rows["peer"]["CPUPerc"] == "0.00%"
    table = lab.composer("-p", "vb-stats", "stats", "--no-stream", "--total", "peer").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "SERVICE", "CPU"] and "(project)" in table[-1]
    lab.composer("down", "-t", "1")
