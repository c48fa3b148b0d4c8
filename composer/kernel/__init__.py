"""The only code that makes syscalls, netlink calls or starts processes.

It imports nothing from the layers above it but ``composer.errors`` and the pure
value types of ``composer.model``.
"""
