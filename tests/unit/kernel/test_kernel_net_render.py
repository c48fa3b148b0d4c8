"""Pure parts of the network host layer: nft rendering, rate parsing, /proc decoding."""

from __future__ import annotations

import ipaddress

import pytest

from composer.kernel.net import nft, ports, tc
from composer.kernel.net.nft import BridgeNat, NatPlan, PortForward
from composer.model.units import parse_rate


def test_render_table_for_a_public_and_an_internal_network_with_ports() -> None:
    plan = NatPlan(
        bridges=(
            BridgeNat("cmbpub", ("172.18.0.0/16", "fd00:1::/64")),
            BridgeNat("cmbint", ("172.19.0.0/16",), internal=True),
        ),
        ports=(
            PortForward("tcp", 8080, "172.18.0.2", 80, "cmbpub"),
            PortForward("udp", 5000, "172.18.0.3", 6000, "cmbpub", count=2, host_ip="192.0.2.7"),
        ),
    )
    assert nft.render_table("shop", plan) == (
        "table inet composer_shop {\n"
        '\tcomment "composer:shop"\n'
        "\tchain publish {\n"
        "\t\tfib daddr type local meta nfproto ipv4 tcp dport 8080 dnat ip to 172.18.0.2:80\n"
        "\t\tip daddr 192.0.2.7 udp dport 5000 dnat ip to 172.18.0.3:6000\n"
        "\t\tip daddr 192.0.2.7 udp dport 5001 dnat ip to 172.18.0.3:6001\n"
        "\t}\n"
        "\tchain prerouting {\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tjump publish\n"
        "\t}\n"
        "\tchain output {\n"
        "\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tjump publish\n"
        "\t}\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        '\t\tip saddr 172.18.0.0/16 oifname != "cmbpub" masquerade\n'
        '\t\tip6 saddr fd00:1::/64 oifname != "cmbpub" masquerade\n'
        '\t\tip saddr 127.0.0.0/8 oifname "cmbpub" masquerade\n'
        "\t}\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        '\t\tiifname "cmbpub" oifname "cmb*" oifname != "cmbpub" drop\n'
        '\t\toifname "cmbpub" iifname "cmb*" iifname != "cmbpub" drop\n'
        '\t\tiifname "cmbint" oifname != "cmbint" drop\n'
        '\t\toifname "cmbint" iifname != "cmbint" drop\n'
        "\t}\n"
        "}\n"
    )


def test_replace_script_declares_then_deletes_then_recreates() -> None:
    script = nft.render_replace("p", NatPlan())
    assert script.startswith("table inet composer_p\ndelete table inet composer_p\ntable inet composer_p {\n")


def test_ipv6_port_forward_uses_brackets() -> None:
    plan = NatPlan(ports=(PortForward("tcp", 80, "fd00::2", 8080, "cmbx"),))
    assert (
        "fib daddr type local meta nfproto ipv6 tcp dport 80 dnat ip6 to [fd00::2]:8080"
        in nft.render_table("p", plan)
    )


@pytest.mark.parametrize(
    ("text", "bits"),
    [("2mbit", 2_000_000), ("500kbit", 500_000), ("1gbit", 10**9), ("1.5mbit", 1_500_000), ("100", 100),
     ("1mbps", 8_000_000), ("2Mbit", 2_000_000)],
)  # fmt: skip
def test_parse_rate_uses_tc_units(text: str, bits: int) -> None:
    assert parse_rate(text) == bits


@pytest.mark.parametrize("text", ["", "fast", "2 parsecs", "0mbit", "-1mbit"])
def test_parse_rate_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_tbf_bucket_holds_a_gso_packet_and_grows_with_the_rate() -> None:
    assert tc.tbf_parameters(2_000_000) == {"rate": 250_000, "burst": 65536, "latency": "100ms"}
    assert tc.tbf_parameters(10**10)["burst"] == 12_500_000


def test_proc_net_addresses_are_decoded_from_host_byte_order() -> None:
    assert str(ports._decode_address("0100007F")) == "127.0.0.1"
    assert str(ports._decode_address("00000000000000000000000001000000")) == "::1"
    mapped = ports._decode_address("0000000000000000FFFF00000100007F")
    assert isinstance(mapped, ipaddress.IPv6Address)
    assert str(mapped.ipv4_mapped) == "127.0.0.1"
