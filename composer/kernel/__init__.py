"""The only code that makes syscalls, netlink calls or starts processes.

It imports nothing from the layers above it but ``composer.errors`` and the pure
value types of ``composer.model`` (``tests/unit/test_layering.py`` holds it to that).

::

    syscalls.py       ctypes bindings for what Python 3.11 lacks (unshare, setns, mount, pivot_root...)
    process/          container processes, split by the process that runs the code (see its docstring)
    mounts.py         the mount sequence of a new container; detaching a dead container's mounts
    users.py          ``user:`` resolved against the container's own /etc/passwd and /etc/group
    caps.py           capabilities: Docker's default set, cap_add/cap_drop, applying them
    seccomp.py        seccomp filters as classic BPF, Docker's default profile
    cgroups.py        one driver interface, a v1 and a v2 implementation
    rootless_cgroups.py  without root: a delegated v2 subtree, or no cgroup at all
    userns.py         without root: the keeper of a project's user namespace, and entering it
    logs.py           the log FIFOs and the JSON-lines files behind them
    unpack.py         applying a tar layer, through unpack_child.py chrooted into the target
    tools.py          host programs run for the user (Graphviz's dot)
    privileges.py     the root check
    net/              netlink, network namespaces, tc, nftables, routes, forwarding, ports, pasta
"""
