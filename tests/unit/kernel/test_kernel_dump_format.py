"""The netlink reader writes addresses exactly as ``ipaddress`` does (desired state uses ipaddress)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from composer.kernel.net.dump import _address

ADDRESSES = [
    "0.0.0.0", "10.1.2.3", "255.255.255.255",
    "::", "::1", "fd77::1", "2001:db8::", "1:0:0:1::1", "fe80::c460:37ff:fe2e:f98a",
    "::ffff:1.2.3.4", "::1.2.3.4", "0:0:0:0:1::",  # where inet_ntop and ipaddress differ
]  # fmt: skip


@pytest.mark.parametrize("text", ADDRESSES)
def test_address_text_matches_ipaddress(text: str) -> None:
    address = ipaddress.ip_address(text)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    assert _address(family, address.packed) == str(address)
