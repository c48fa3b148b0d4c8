"""The thin OS layer: the only code that makes syscalls, netlink calls or starts processes."""
