"""`composer capture` on the real kernel: two busybox containers on a link, one pinging the other.

The capture runs from composer's own packet socket inside r1's network namespace
(busybox has no tcpdump); the pcap file is read back by the small reader here.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.lab import BUSYBOX, Lab

pytestmark = pytest.mark.kernel

LAB = """\
name: cp-capture
x-node: &node
  rootfs: ROOTFS
  network_mode: none
  command: [sleep, infinity]
services:
  r1: *node
  r2: *node
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/30, 10.0.12.2/30]
"""


def _read_pcap(path: Path) -> list[bytes]:
    """The frames of a classic pcap file; asserts its header and that no record is cut short."""
    data = path.read_bytes()
    magic, major, minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    frames, offset = [], 24
    while offset < len(data):
        _sec, usec, saved, wire = struct.unpack_from("<IIII", data, offset)
        assert usec < 1_000_000 and saved == wire
        frame = data[offset + 16 : offset + 16 + saved]
        assert len(frame) == saved, "a record is cut short"
        frames.append(frame)
        offset += 16 + saved
    return frames


def _icmp(frames: list[bytes]) -> list[tuple[str, str, int]]:
    """(source, destination, ICMP type) of every IPv4 ICMP frame."""
    found = []
    for frame in frames:
        if frame[12:14] == b"\x08\x00" and frame[23] == 1:
            header = (frame[14] & 0x0F) * 4
            source = ".".join(str(b) for b in frame[26:30])
            destination = ".".join(str(b) for b in frame[30:34])
            found.append((source, destination, frame[14 + header]))
    return found


def _wait_for_line(stream: object, text: str) -> None:
    line = stream.readline()  # type: ignore[attr-defined]
    assert text in line, line


def test_capture_writes_pings_to_a_pcap_and_stops_cleanly_on_sigint(lab: Lab, tmp_path: Path) -> None:
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    try:
        pcap = tmp_path / "r1.pcap"
        proc = lab.popen("capture", "r1:eth1", "-w", str(pcap))
        assert proc.stderr is not None
        _wait_for_line(proc.stderr, "capturing on r1 eth1")
        ping = lab.exec("cp-capture", "r1", BUSYBOX, "ping", "-c", "3", "-W", "1", "10.0.12.2")
        assert ping.returncode == 0, ping.stderr
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        frames = _read_pcap(pcap)
        icmp = _icmp(frames)
        assert icmp.count(("10.0.12.1", "10.0.12.2", 8)) == 3, icmp
        assert icmp.count(("10.0.12.2", "10.0.12.1", 0)) == 3, icmp
        assert f"{len(frames)} packets captured" in err

        # Without -w: one summary line per packet; -c ends it by itself.
        proc = lab.popen("capture", "r2:eth1", "-c", "2")
        assert proc.stderr is not None
        _wait_for_line(proc.stderr, "capturing on r2 eth1")
        lab.exec("cp-capture", "r1", BUSYBOX, "ping", "-c", "2", "-W", "1", "10.0.12.2")
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert len(lines) == 2 and "2 packets captured" in err
        assert any("eth1 In  98 10.0.12.1 -> 10.0.12.2 ICMP echo request" in line for line in lines), lines
    finally:
        lab.composer("down", "--progress", "quiet")


def test_duration_ends_an_idle_capture_and_a_filter_without_tcpdump_is_refused(lab: Lab) -> None:
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    try:
        began = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "composer.cli.main", "capture", "r2", "--duration", "0.5", "-w", "-"],
            cwd=lab.folder, env=lab.env(), capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        assert 0.5 <= time.monotonic() - began < 10
        assert result.returncode == 0, result.stderr
        assert result.stdout[:4] == b"\xd4\xc3\xb2\xa1" and b"packets captured" in result.stderr
        unknown = lab.composer("capture", "r9:eth1", check=False)
        assert unknown.returncode != 0 and "no service 'r9'" in unknown.stderr
        assert "Traceback" not in unknown.stderr
        no_device = lab.composer("capture", "r1:eth9", check=False)
        assert no_device.returncode != 0 and "cannot capture on interface eth9" in no_device.stderr
        if shutil.which("tcpdump") is None:
            refused = lab.composer("capture", "r1:eth1", "icmp", check=False)
            assert refused.returncode != 0
            assert "apt-get install tcpdump" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        lab.composer("down", "--progress", "quiet")


# What `tcpdump -ddd -y EN10MB icmp` prints: IPv4 and protocol 1, else drop.
ICMP_PROGRAM = "6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 1\n6 0 0 262144\n6 0 0 0\n"


def test_a_filter_is_compiled_by_tcpdump_and_attached_to_the_socket(lab: Lab, tmp_path: Path) -> None:
    """A stand-in prints the program the real tcpdump gives for ``icmp`` (so the test runs where
    tcpdump is not installed, and records the arguments); what is tested is the socket: ARP frames of
    the ping never reach the file.  Where tcpdump is installed, its program is checked to be the same."""
    real = shutil.which("tcpdump")
    if real is not None:
        compiled = subprocess.run([real, "-ddd", "-y", "EN10MB", "icmp"], capture_output=True, text=True)
        assert compiled.stdout == ICMP_PROGRAM
    bin_dir, asked = tmp_path / "bin", tmp_path / "asked"
    bin_dir.mkdir()
    stand_in = bin_dir / "tcpdump"
    program = tmp_path / "program"
    program.write_text(ICMP_PROGRAM)
    stand_in.write_text(f'#!/bin/sh\necho "$@" > {asked}\ncat {program}\n')
    stand_in.chmod(0o755)
    lab.write(LAB)
    lab.composer("up", "-d", "--progress", "quiet")
    try:
        pcap = tmp_path / "icmp.pcap"
        # Neighbour entries flushed, so the ping below sends ARP first.
        flushed = lab.exec("cp-capture", "r1", BUSYBOX, "ip", "neigh", "flush", "dev", "eth1")
        assert flushed.returncode == 0, flushed.stderr
        env = {**lab.env(), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "composer.cli.main", "capture", "r1:eth1", "-w", str(pcap), "icmp"],
            cwd=lab.folder, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lab.started.append(proc.pid)
        assert proc.stderr is not None
        _wait_for_line(proc.stderr, "capturing on r1 eth1")
        assert (
            lab.exec("cp-capture", "r1", BUSYBOX, "ping", "-c", "2", "-W", "1", "10.0.12.2").returncode == 0
        )
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert asked.read_text().split() == ["-ddd", "-y", "EN10MB", "icmp"]
        frames = _read_pcap(pcap)
        assert len(frames) == 4 and len(_icmp(frames)) == 4, [f[12:14].hex() for f in frames]
        assert "4 packets captured" in err
    finally:
        lab.composer("down", "--progress", "quiet")
