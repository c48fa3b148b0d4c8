"""The pure parts of `composer capture`: pcap bytes, tcpdump -ddd parsing, summary lines."""

from __future__ import annotations

import struct

import pytest

from composer.kernel.net import capture

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def _icmp_echo(kind: int) -> bytes:
    ip = bytes.fromhex("4500001c00004000400100000a000c010a000c02")  # 10.0.12.1 -> 10.0.12.2, ICMP
    return MAC_B + MAC_A + b"\x08\x00" + ip + bytes([kind, 0, 0, 0, 0, 1, 0, 1])


def test_the_global_header_is_libpcap_2_4_ethernet_byte_for_byte() -> None:
    assert capture.pcap_header() == (
        b"\xd4\xc3\xb2\xa1" b"\x02\x00\x04\x00" b"\x00\x00\x00\x00" b"\x00\x00\x00\x00"
        b"\x00\x00\x04\x00" b"\x01\x00\x00\x00"
    )  # fmt: skip
    assert capture.pcap_header(snaplen=96, linktype=113)[16:] == b"\x60\x00\x00\x00\x71\x00\x00\x00"


def test_a_record_holds_seconds_microseconds_lengths_and_the_frame() -> None:
    frame = b"\xaa\xbb\xcc"
    record = capture.pcap_record(1700000000.25, frame, original_length=60)
    assert record == struct.pack("<IIII", 1700000000, 250000, 3, 60) + frame
    assert record[:16] == bytes.fromhex("00f1536590d00300030000003c000000")
    # Rounding never gives a microsecond field of a whole second.
    assert capture.pcap_record(5.9999999, b"")[:8] == struct.pack("<II", 5, 999999)
    assert capture.pcap_record(7.0, frame)[8:16] == struct.pack("<II", 3, 3)


def test_tcpdump_ddd_output_becomes_instructions_and_bad_output_is_refused() -> None:
    text = "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n"
    assert capture.parse_bpf(text) == [(40, 0, 0, 12), (21, 0, 1, 2048), (6, 0, 0, 262144), (6, 0, 0, 0)]
    with pytest.raises(ValueError, match="announced 3"):
        capture.parse_bpf("3\n6 0 0 0\n")
    with pytest.raises(ValueError):
        capture.parse_bpf("(000) ldh [12]\n")


def test_summaries_name_addresses_and_protocols() -> None:
    line = capture.summary(0.5, "eth1", _icmp_echo(8), outgoing=True)
    assert line.endswith(".500000 eth1 Out 42 10.0.12.1 -> 10.0.12.2 ICMP echo request")
    assert capture.summary(0, "eth1", _icmp_echo(0)).endswith("In  42 10.0.12.1 -> 10.0.12.2 ICMP echo reply")
    udp = (
        MAC_B
        + MAC_A
        + b"\x08\x00"
        + bytes.fromhex("450000200000400040110000c0a80001c0a80002")
        + struct.pack("!HH", 5353, 53)
    )
    assert capture.summary(0, "eth0", udp).endswith("192.168.0.1.5353 -> 192.168.0.2.53 UDP")
    arp = bytes.fromhex("0001080006040001") + MAC_A + bytes([10, 0, 0, 1]) + bytes(6) + bytes([10, 0, 0, 2])
    assert capture.summary(0, "eth1", b"\xff" * 6 + MAC_A + b"\x08\x06" + arp).endswith(
        "10.0.0.1 -> 10.0.0.2 ARP who-has 10.0.0.2"
    )
    other = capture.summary(0, "eth1", MAC_B + MAC_A + b"\x88\xcc" + bytes(10))
    assert other.endswith("02:00:00:00:00:01 -> 02:00:00:00:00:02 ethertype 0x88cc")
    assert capture.summary(0, "lo", b"\x00" * 5).endswith("truncated frame")
