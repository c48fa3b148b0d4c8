"""Link ends in the host's namespace and macvlans, against the real kernel (in the sandbox's namespace)."""

from __future__ import annotations

import subprocess

import pytest
from net_sandbox import Sandbox
from pyroute2 import IPRoute

from composer.errors import HostError
from composer.kernel.net import netlink, netns
from composer.model import naming

pytestmark = pytest.mark.kernel


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=10)


def _master(name: str) -> str | None:
    with IPRoute() as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=name)[0])[0]
        master = link.get_attr("IFLA_MASTER")
        return str(ipr.get_links(master)[0].get_attr("IFLA_IFNAME")) if master else None


def test_a_host_end_is_marked_named_up_and_on_the_bridge(sandbox: Sandbox) -> None:
    _ip("link", "add", "br-user", "type", "bridge")  # the user's bridge: never composer's to remove
    ns = sandbox.new_netns("r1")
    rid = "link:host:r1-eth1--r1:eth1"
    alias, temp = naming.ifalias(sandbox.project, rid), naming.veth_host_name(sandbox.project, rid, "h")
    netlink.create_host_end(temp, "r1-eth1", alias, ns, "eth1", 9000, "br-user")
    assert netlink.host_interface("r1-eth1") == ("veth", alias)
    assert not netlink.link_exists(temp)  # renamed once marked
    assert _master("r1-eth1") == "br-user"
    with IPRoute() as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname="r1-eth1")[0])[0]
        assert (link.get_attr("IFLA_MTU"), link.get_attr("IFLA_OPERSTATE") != "DOWN") == (9000, True)
    assert netlink.link_exists("eth1", ns)
    netlink.delete_marked_link("r1-eth1", naming.ifalias("another", rid))
    assert netlink.link_exists("r1-eth1")  # another project's marker: not ours to remove
    netlink.delete_marked_link("r1-eth1", alias)
    assert not netlink.link_exists("r1-eth1") and not netlink.link_exists("eth1", ns)  # the pair goes
    assert netlink.host_interface("br-user") == ("bridge", "")  # the bridge stays
    netlink.delete_link("br-user")
    netns.delete_netns(ns)


def test_a_host_end_never_takes_a_users_interface_of_that_name(sandbox: Sandbox) -> None:
    _ip("link", "add", "r1-eth1", "type", "bridge")
    ns = sandbox.new_netns("r1")
    rid = "link:host:r1-eth1--r1:eth1"
    alias, temp = naming.ifalias(sandbox.project, rid), naming.veth_host_name(sandbox.project, rid, "h")
    with pytest.raises(HostError):
        netlink.create_host_end(temp, "r1-eth1", alias, ns, "eth1")
    assert not netlink.link_exists(temp) and not netlink.link_exists("eth1", ns)  # undone where it failed
    netlink.delete_marked_link("r1-eth1", alias)
    assert netlink.host_interface("r1-eth1") == ("bridge", "")  # unmarked: the user's, untouched
    netlink.delete_link("r1-eth1")
    netns.delete_netns(ns)


def test_a_macvlan_is_born_in_the_node_and_never_in_the_host(sandbox: Sandbox) -> None:
    _ip("link", "add", "uplink", "type", "veth", "peer", "name", "wire")
    ns = sandbox.new_netns("r1")
    alias = naming.ifalias(sandbox.project, "link:macvlan:uplink--r1:eth3")
    netlink.create_macvlan_end("uplink", "private", alias, ns, "eth3")
    with netns.netns_iproute(ns) as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname="eth3")[0])[0]
        info = link.get_attr("IFLA_LINKINFO")
        assert info.get_attr("IFLA_INFO_KIND") == "macvlan"
        assert info.get_attr("IFLA_INFO_DATA").get_attr("IFLA_MACVLAN_MODE") == "private"
        assert link.get_attr("IFLA_IFALIAS") == alias
    assert not netlink.link_exists("eth3")  # nothing of it in the host's namespace
    netns.delete_netns(ns)
    assert netlink.link_exists("uplink")  # the parent stays when the node goes
    netlink.delete_link("uplink")
