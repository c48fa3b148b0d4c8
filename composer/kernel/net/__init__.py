"""Networking on the kernel: netlink, network namespaces, tc, nftables, routes, forwarding, ports."""
