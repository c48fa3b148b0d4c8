"""The netem qdisc's netlink messages, byte for byte: the kernel here has no sch_netem to send them to.

The expected messages are what iproute2 sends for the same settings, captured once
with ``strace -e trace=sendmsg -e write=3 -xx tc qdisc replace dev lo root handle 1:
netem ...`` (lo is ifindex 1; the sequence number is the only field that differs).
"""

from __future__ import annotations

import struct

import pytest

from composer.kernel.net.qdiscmsg import decode_netem_options, netem_options, netem_request
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


# tc qdisc replace dev lo root handle 1: tbf rate 10mbit burst 65536 latency 100ms, without the
# 1024-byte rate table (TCA_TBF_RTAB) that tc appends: the rate spec's link layer makes the kernel skip it.
TC_TBF_OPTIONS = bytes.fromhex(
    "28000100 03010000 ffff0000 d0121300"  # PARMS: cell_log 3, ethernet, cell_align -1, 1250000 B/s
    "00000000 00000000 00000000"  # no peak rate
    "48e80200 f37f0c00 00000000"  # limit 190536 B, buffer 819187 ticks, mtu 0
    "08000600 00000100"  # BURST 65536
)


def test_a_tbf_is_encoded_as_iproute2_encodes_it_less_the_rate_table() -> None:
    from composer.kernel.net.qdiscmsg import tbf_options, tbf_request

    assert tbf_options(1_250_000, 65536, 190536).hex() == TC_TBF_OPTIONS.hex()
    message = tbf_request(1, 1_250_000, 65536, 190536, seq=7)
    length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", message)
    assert (length, kind, flags, seq) == (len(message), 36, 0x505, 7)
    assert message[16:36] == bytes.fromhex("00000000 01000000 00000100 ffffffff 00000000")
    assert message[36:44] == bytes.fromhex("08000100 74626600")  # TCA_KIND "tbf"


def test_a_delete_names_handle_and_parent() -> None:
    from composer.kernel.net.qdiscmsg import delete_request

    message = delete_request(3, handle=0x100000, parent=0x10001, seq=2)
    assert struct.unpack_from("=IHHII", message) == (36, 37, 0x5, 2, 0)  # RTM_DELQDISC, request + ack
    assert struct.unpack_from("=BxxxiIII", message, 16) == (0, 3, 0x100000, 0x10001, 0)


def test_an_admin_state_change_touches_only_the_up_flag() -> None:
    from composer.kernel.net.linkstate import admin_state_request

    down, up = admin_state_request(5, False, seq=3), admin_state_request(5, True, seq=4)
    assert struct.unpack_from("=IHHII", down) == (32, 16, 0x5, 3, 0)  # RTM_NEWLINK, request + ack
    assert struct.unpack_from("=BxHiII", down, 16) == (0, 0, 5, 0, 0x1)  # flags 0, change IFF_UP
    assert struct.unpack_from("=BxHiII", up, 16) == (0, 0, 5, 0x1, 0x1)
