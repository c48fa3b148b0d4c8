"""Take an interface up or down with one plain netlink message (no pyroute2): the live link verbs' path.

``RTM_NEWLINK`` with ``ifi_change = IFF_UP`` changes only that flag.  A veth end
taken down leaves its peer up without carrier (``NO-CARRIER``), as a pulled
cable does.
"""

from __future__ import annotations

import errno
import socket
import struct

from composer.errors import HostError
from composer.kernel.net.netns import in_netns

RTM_NEWLINK = 16
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
IFF_UP = 0x1
_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")


def admin_state_request(ifindex: int, up: bool, seq: int = 1) -> bytes:
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, ifindex, IFF_UP if up else 0, IFF_UP)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def set_admin_state(netns: str | None, ifname: str, up: bool) -> None:
    with in_netns(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        try:
            index = socket.if_nametoindex(ifname)
        except OSError:
            sock.close()
            raise HostError(f"interface {ifname} does not exist", errno=errno.ENODEV) from None
    with sock:
        sock.bind((0, 0))
        sock.send(admin_state_request(index, up))
        reply = sock.recv(4096)
    (error,) = struct.unpack_from("=i", reply, _NLMSGHDR.size)
    if error:
        raise HostError(f"setting {ifname} {'up' if up else 'down'}", errno=-error)
