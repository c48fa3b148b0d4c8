"""The ICMP echo request the reach probe sends: a valid checksum, the identifier and sequence it matches on."""

from __future__ import annotations

import struct

import pytest

from composer.kernel.net.probe import echo_request


@pytest.mark.parametrize(
    ("identifier", "sequence", "payload"), [(1, 1, b"composer"), (0xFFFF, 0x1234, b"odd")]
)
def test_an_echo_request_sums_to_all_ones(identifier: int, sequence: int, payload: bytes) -> None:
    packet = echo_request(identifier, sequence, payload)
    padded = packet + (b"\0" if len(packet) % 2 else b"")
    total = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF  # the receiver's check: the one's-complement sum including the checksum
    assert struct.unpack_from("!BBxxHH", packet) == (8, 0, identifier, sequence)
    assert packet[8:] == payload
