"""Container processes: start, enter, stop, split by which process runs the code.

::

    parent.py    the caller: fork into a new pid namespace, id maps, PendingContainer, spawn/start
    child.py     the forked set-up child, from fork() to execve() (and the steps exec shares)
    init.py      composer's own init, which the set-up child becomes with ``init: true``
    security.py  Security: computed in the caller (security_for), applied in a child (confine)
    exec.py      exec_in_container / run_in_container: the caller's side, its child, the terminal
    stop.py      GraceKill: the stop signal, the grace period, SIGKILL to the cgroup
    daemon.py    start_detached: a background process in its own session (the supervisor)
    helpers.py   the small rules every side shares (sysctls, rlimits, PATH lookup, host init)

Starting a container
    The command must be PID 1 of a new pid namespace *and* a direct child of the
    caller (a long-lived supervisor that waitpid()s it), with no helper process
    per container.  So the caller itself does ``unshare(CLONE_NEWPID)`` (which
    only changes where its *next* child goes), forks, and immediately goes back
    with ``setns`` on its own pid namespace, kept open once per process.

    The set-up child then takes these steps and execs, in this order (each step
    needs the previous one):

    1. signals back to their defaults, nothing blocked; a new session;
    2. join the cgroup (before the cgroup namespace, so that the namespace is
       rooted at the container's cgroup);
    3. stdio: /dev/null and the log FIFOs (or the caller's descriptors);
    4. the network namespace of ``netns_path``;
    5. unshare the mount, uts, ipc and cgroup namespaces;
    6. the mounts (:mod:`composer.kernel.mounts`): ``/`` made a recursive
       slave, the rootfs overlay, /proc, /dev, /sys, /etc files, volumes, /dev/init; then
       pivot_root;
    7. hostname and domain name; namespaced sysctls; masked and read-only paths;
    8. rlimits (lowered only: no CAP_SYS_RESOURCE here);
    9. the user and its groups resolved from the container's /etc;
    10. the user namespace when asked (the parent writes its id maps);
    11. bounding set, user and groups, capabilities, working dir,
        no_new_privs, seccomp (:func:`security.confine`; without no_new_privs
        the filter is loaded first, while CAP_SYS_ADMIN is still held);
    12. close every fd but 0-2 (and the CLOEXEC error pipe); execve.

    Failures travel back on a CLOEXEC pipe: the child writes one JSON object
    ``{"stage", "errno", "message"}`` and exits; end-of-file without data means
    execve succeeded.  ``spawn_container`` returns only once the command runs;
    ``start_container`` returns at once with a :class:`PendingContainer` so that
    a caller starting many containers lets their set-ups overlap.

    ``init: true`` runs a static host init (tini, catatonit) bound at /dev/init,
    or, when there is none, keeps the set-up child as PID 1 running
    :func:`composer.kernel.process.init.run_init` around a forked command.

Nothing may be imported inside a forked child (the import lock may be held by
another thread at fork time): every module a child uses is imported at the top
of the module that forks it, and what can be computed before the fork
(capabilities, the packed seccomp program, the signals to reset) is.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from composer.kernel.process.daemon import start_detached as start_detached
    from composer.kernel.process.exec import exec_in_container as exec_in_container
    from composer.kernel.process.exec import run_in_container as run_in_container
    from composer.kernel.process.helpers import check_sysctls as check_sysctls
    from composer.kernel.process.helpers import container_env as container_env
    from composer.kernel.process.helpers import decode_wait_status as decode_wait_status
    from composer.kernel.process.helpers import find_executable as find_executable
    from composer.kernel.process.helpers import find_host_init as find_host_init
    from composer.kernel.process.helpers import is_static_elf as is_static_elf
    from composer.kernel.process.helpers import lowered_rlimit as lowered_rlimit
    from composer.kernel.process.parent import PendingContainer as PendingContainer
    from composer.kernel.process.parent import spawn_container as spawn_container
    from composer.kernel.process.parent import start_container as start_container
    from composer.kernel.process.security import Security as Security
    from composer.kernel.process.security import security_for as security_for
    from composer.kernel.process.stop import GraceKill as GraceKill
    from composer.kernel.process.stop import stop_container as stop_container

# Which submodule holds each public name.  Importing one submodule must not import the others:
# a command that only starts the supervisor (daemon) or stops a container (stop) would otherwise
# pay for the capability, seccomp and mount code it never runs.
_HOME = {
    "start_detached": "daemon",
    "exec_in_container": "exec",
    "run_in_container": "exec",
    "check_sysctls": "helpers",
    "container_env": "helpers",
    "decode_wait_status": "helpers",
    "find_executable": "helpers",
    "find_host_init": "helpers",
    "is_static_elf": "helpers",
    "lowered_rlimit": "helpers",
    "PendingContainer": "parent",
    "spawn_container": "parent",
    "start_container": "parent",
    "Security": "security",
    "security_for": "security",
    "GraceKill": "stop",
    "stop_container": "stop",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> object:
    """Import the submodule of a public name on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
