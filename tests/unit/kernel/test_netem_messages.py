"""The netem qdisc's netlink messages, byte for byte: the kernel here has no sch_netem to send them to.

The expected messages are what iproute2 sends for the same settings, captured once
with ``strace -e trace=sendmsg -e write=3 -xx tc qdisc replace dev lo root handle 1:
netem ...`` (lo is ifindex 1; the sequence number is the only field that differs).
"""

from __future__ import annotations

import struct

import pytest

from composer.kernel.net.netem import decode_netem_options, netem_options, netem_request
from composer.model.netstate import NetemState

SEQ = 0x6B1100F5  # the sequence number tc used in the capture

# tc qdisc replace dev lo root handle 1: netem delay 10ms 2ms loss 1% duplicate 0.5% corrupt 0.1% reorder 25%
TC_EVERYTHING = bytes.fromhex(
    "64000000 24000505 f500116b 00000000"
    "00000000 01000000 00000100 ffffffff"
    "00000000 0a000100 6e657465 6d000000"
    "34000200 5a620200 e8030000 295c8f02"
    "01000000 14ae4701 127a0000 0c000300"
    "00000040 00000000 0c000400 37894100"
    "00000000"
)
# tc qdisc replace dev lo root handle 1: netem delay 50ms
TC_DELAY = bytes.fromhex(
    "4c000000 24000505 f500116b 00000000"
    "00000000 01000000 00000100 ffffffff"
    "00000000 0a000100 6e657465 6d000000"
    "1c000200 c2eb0b00 e8030000 00000000"
    "00000000 00000000 00000000"
)

EVERYTHING = NetemState(delay=0.010, jitter=0.002, loss=1.0, duplicate=0.5, corrupt=0.1, reorder=25.0)


def test_every_netem_setting_is_encoded_as_iproute2_encodes_it() -> None:
    assert netem_request(1, EVERYTHING, seq=SEQ).hex() == TC_EVERYTHING.hex()


def test_a_plain_delay_is_the_bare_qopt_without_nested_attributes() -> None:
    assert netem_request(1, NetemState(delay=0.050), seq=SEQ).hex() == TC_DELAY.hex()


def test_the_request_names_its_interface_handle_and_parent() -> None:
    message = netem_request(7, NetemState(delay=0.001), handle=0x20000, parent=0xFFFFFFFF, seq=9)
    length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", message)
    _family, ifindex, handle, parent, _info = struct.unpack_from("=BxxxiIII", message, 16)
    assert (length, kind, seq) == (len(message), 36, 9)  # RTM_NEWQDISC
    assert flags == 0x1 | 0x4 | 0x100 | 0x400  # request, ack, replace, create: tc qdisc replace
    assert (ifindex, handle, parent) == (7, 0x20000, 0xFFFFFFFF)


def test_a_reorder_sets_the_gap_to_one_as_iproute2_does() -> None:
    options = netem_options(NetemState(delay=0.01, reorder=10.0))
    _latency, _limit, _loss, gap, _duplicate, _jitter = struct.unpack_from("=IIIIII", options)
    assert gap == 1
    assert struct.unpack_from("=HHII", options, 24) == (12, 3, round(0.1 * 0xFFFFFFFF), 0)


@pytest.mark.parametrize(
    "netem",
    [
        EVERYTHING,
        NetemState(delay=0.05),
        NetemState(loss=100.0),
        NetemState(delay=300.0, jitter=290.0),  # beyond 32-bit ticks: the 64-bit nanosecond attributes
        NetemState(duplicate=0.001, corrupt=99.5, limit=50),
    ],
)
def test_what_a_dump_returns_decodes_to_the_settings_sent(netem: NetemState) -> None:
    decoded = decode_netem_options(netem_options(netem))
    assert decoded.limit == netem.limit
    for name, sent in netem.values().items():
        got = decoded.values()[name]
        assert (got is None) == (sent is None), name
        if sent is not None and got is not None:
            assert got == pytest.approx(sent, rel=1e-6), name


def test_long_delays_carry_the_exact_nanoseconds() -> None:
    options = netem_options(NetemState(delay=300.0))
    latency_ticks = struct.unpack_from("=I", options)[0]
    assert latency_ticks == 0xFFFFFFFF  # saturated, the kernel reads TCA_NETEM_LATENCY64 instead
    assert struct.unpack_from("=HHq", options, 24) == (12, 10, 300_000_000_000)
