"""Composer's networking logic that needs no host access: address management.

The host side (bridges, veths, routes, nftables, tc) lives in ``composer.host``
(``netns``, ``netlink``, ``nft``, ``tc``, ``ports``, ``forwarding``).
"""
