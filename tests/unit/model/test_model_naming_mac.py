"""An attachment's MAC follows its IPv4 address, as Docker's does."""

from __future__ import annotations

import pytest

from composer.model.naming import attachment_mac


@pytest.mark.parametrize(
    ("addresses", "mac"),
    [
        (("172.17.0.3/16",), "02:42:ac:11:00:03"),
        (("fd00::3/64", "10.0.12.255/24"), "02:42:0a:00:0c:ff"),  # the first IPv4, wherever it is
        (("fd00::3/64",), None),  # IPv6 only: the kernel's random MAC
        ((), None),
    ],
)
def test_the_mac_is_02_42_and_the_ipv4_address(addresses: tuple[str, ...], mac: str | None) -> None:
    assert attachment_mac(addresses) == mac


def test_two_addresses_never_share_a_mac() -> None:
    macs = {attachment_mac((f"10.1.{a}.{b}/16",)) for a in range(256) for b in range(0, 256, 17)}
    assert len(macs) == 256 * 16
