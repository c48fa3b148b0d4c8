"""Without root: run a command inside its project's user namespace, and serve it from outside.

:func:`enter_project` is called by the CLI before a verb touches the host.  It
checks that the host allows unprivileged user namespaces (nothing is created
otherwise), finds the project's keeper (:mod:`composer.kernel.userns`) or makes
one, and enters it.  From then on the command runs as root of that namespace on
the unchanged engine; the process left outside waits for it and answers one kind
of request that only the outside can do: starting pasta, which must live in
the host's network namespace to open sockets there, with the project's
published ports (:func:`request_ports`, called by the real host's firewall
step).  pasta rather than slirp4netns: it needs no tap-side helper per
namespace, forwards ports without a socket API round-trip, and splices loopback
connections (the published ports) without copying through a TCP stack.

After the command, when the project has no records left (a ``down``), the
outside stops pasta and the keeper (which takes every process of the project
with it) and removes their records: nothing of the project stays.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from composer.engine.options import Roots
from composer.errors import HostError, RootlessError
from composer.kernel import userns
from composer.kernel.net.pasta import start_pasta, stop_process
from composer.model.rootless import (
    Forward,
    IdMapping,
    RootlessPaths,
    default_paths,
    parse_subordinate,
    pasta_argv,
    plan_mapping,
    single_id_warning,
    userns_refusal,
)
from composer.store.layout import StateRoot
from composer.store.locks import root_lock
from composer.store.rootless import (
    KeeperRecord,
    PastaRecord,
    read_keeper,
    read_pasta,
    remove_record,
    write_record,
)

Warn = Callable[[str], None]
_asking = threading.Lock()
IMAGE_VERBS = ".images"  # the namespace of pull/rmi/prune: no project is named so (names start with [a-z0-9])
TUN = Path("/dev/net/tun")


def rootless_paths(env: Mapping[str, str] | None = None) -> RootlessPaths:
    """The caller's default state and image roots without root (the variables override)."""
    env = os.environ if env is None else env
    uid = os.getuid()
    home = env.get("HOME") or pwd.getpwuid(uid).pw_dir
    return default_paths(uid, env, home)


def enter_project(project: str, roots: Roots, *, create: bool, warn: Warn) -> int | None:
    """Go on inside the project's namespaces: None in there; outside, the command's exit status.

    Without a keeper and ``create`` false (a read-only verb), nothing runs inside:
    None is returned in this very process, and the command goes on outside.
    """
    refusal = userns_refusal(userns.read_userns_sysctls())
    if refusal is not None:
        raise RootlessError(refusal, hint="composer without root needs unprivileged user namespaces")
    root = StateRoot(roots.state)
    if not create and _missing(root.path):
        return None  # nothing of ours anywhere: a read-only verb goes on outside
    _own_folder(root.path)
    keeper = _live_keeper(root, project)
    if keeper is None:
        if not create:
            return None
        with root_lock(root.keeper_lock(project), "the project's namespaces"):  # two ups: one keeper
            keeper = _live_keeper(root, project) or _new_keeper(root, project, warn)
    os.environ["COMPOSER_ROOT"] = str(roots.state)  # the supervisor, started inside, finds the same roots
    os.environ["COMPOSER_IMAGE_ROOT"] = str(roots.images)
    code = userns.enter(keeper.pid, lambda channel: _serve(channel, root, project, keeper, warn))
    if code is None:
        return None
    with root_lock(root.keeper_lock(project), "the project's namespaces"):
        if not _has_records(root, project):
            teardown(root, project)
    return code


def _missing(path: Path) -> bool:
    try:
        path.lstat()
    except FileNotFoundError:
        return True
    except OSError:
        return False  # there, but not reachable: _own_folder says so
    return False


def _own_folder(folder: Path) -> None:
    """Make the state root, private; one that exists must be ours (``/tmp`` is everyone's)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.lstat()
    except OSError as error:
        raise RootlessError(
            f"cannot make the state root {folder}: {error.strerror}",
            hint="choose a folder of yours with --root or $COMPOSER_ROOT (the default is"
            " $XDG_RUNTIME_DIR/composer, else /tmp/composer-$UID)",
        ) from error
    if info.st_uid != os.getuid() or not folder.is_dir() or folder.is_symlink():
        raise RootlessError(
            f"the state root {folder} is not a folder of yours",
            hint="remove it, or choose another one with --root or $COMPOSER_ROOT",
        )


def _live_keeper(root: StateRoot, project: str) -> KeeperRecord | None:
    record = read_keeper(root.keeper_record(project))
    if record is not None and userns.keeper_alive(record.pid, record.start_time):
        return record
    return None


def _new_keeper(root: StateRoot, project: str, warn: Warn) -> KeeperRecord:
    _stop_pasta(root, project)  # one left by a keeper that died: its namespace is gone
    mapping = caller_mapping(warn)
    try:
        pid = userns.create_keeper(mapping, network=project != IMAGE_VERBS)
    except HostError as error:
        raise RootlessError(
            f"cannot create the project's user namespace: {error.message}",
            hint="unprivileged user namespaces may be restricted here (sysctl"
            " kernel.unprivileged_userns_clone, user.max_user_namespaces, or AppArmor's"
            " kernel.apparmor_restrict_unprivileged_userns)",
        ) from error
    started = userns.start_time(pid)
    record = KeeperRecord(pid, started or 0, mapping.single)
    write_record(root.keeper_record(project), record)
    return record


def project_proc(root: StateRoot, project: str) -> Path | None:
    """Where, from the host, the PIDs the project's supervisor recorded can be looked up.

    A rootless project's containers run in the project's own pid namespace, so their recorded
    PIDs are that namespace's: from outside they are found under the keeper's root, whose
    ``/proc`` is the project's (an unrelated host process may hold the same number).  No keeper
    record: not a rootless project, the host's ``/proc``.  A keeper that is gone took every
    process of the project with it: None.
    """
    record = read_keeper(root.keeper_record(project))
    if record is None:
        return Path("/proc")
    if not userns.keeper_alive(record.pid, record.start_time):
        return None
    return Path(f"/proc/{record.pid}/root/proc")


def caller_mapping(warn: Warn) -> IdMapping:
    """The caller as root, its subordinate ranges after it; the single-id fallback said once."""
    uid, gid = os.getuid(), os.getgid()
    user = pwd.getpwuid(uid).pw_name
    subuids = parse_subordinate(_read_text(Path("/etc/subuid")), user, uid)
    subgids = parse_subordinate(_read_text(Path("/etc/subgid")), user, uid)
    helpers = userns.helpers_available()
    mapping = plan_mapping(uid, gid, subuids if helpers else [], subgids if helpers else [])
    if mapping.single:
        warn(single_id_warning(user, helpers))
    return mapping


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _has_records(root: StateRoot, project: str) -> bool:
    layout = root.project(project)
    return layout.snapshot.exists() or layout.journal.exists()


def teardown(root: StateRoot, project: str) -> None:
    """Stop the project's pasta and keeper (every process of the project dies with it)."""
    _stop_pasta(root, project)
    record = read_keeper(root.keeper_record(project))
    if record is not None:
        userns.kill_keeper(record.pid, record.start_time)
    remove_record(root.keeper_record(project))
    remove_record(root.keeper_lock(project))  # held by the caller: a waiter notices and opens a fresh one
    for folder in (root.userns, root.projects, root.path):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


# --- the outside's one service: pasta ---------------------------------------------------------


def _serve(channel: socket.socket, root: StateRoot, project: str, keeper: KeeperRecord, warn: Warn) -> None:
    message = channel.recv(1 << 16)
    if not message:
        raise EOFError
    try:
        request = json.loads(message)
        reply: dict[str, object] = {"ok": True}
        if request.get("op") == "egress":  # any pasta will do (the ports come later, with the firewall)
            if _live_pasta(root, project) is None:
                _ensure_pasta(root, project, keeper.pid, [], False)
        else:
            forwards = [Forward(str(p), int(n), str(a)) for p, n, a in request["forwards"]]
            _ensure_pasta(root, project, keeper.pid, forwards, bool(request.get("ipv6")))
    except HostError as error:
        reply = {"ok": False, "error": error.message, "hint": error.hint or ""}
    except (ValueError, KeyError, TypeError) as error:
        reply = {"ok": False, "error": f"bad request: {error}", "hint": ""}
    channel.send(json.dumps(reply).encode())


def _ensure_pasta(
    root: StateRoot, project: str, keeper: int, forwards: Sequence[Forward], ipv6: bool
) -> None:
    binary = shutil.which("pasta")
    if binary is None:
        raise HostError(
            "pasta is missing: without root, egress and published ports go through it",
            hint="install it: apt-get install passt",
        )
    if not os.access(TUN, os.R_OK | os.W_OK):
        raise HostError(
            f"pasta needs {TUN}, which you may not open",
            hint=f"Debian's default mode is 0666: as root, `chmod 0666 {TUN}`",
        )
    pid_file = root.pasta_pid_file(project)
    argv = pasta_argv(
        binary, f"/proc/{keeper}/ns/net", f"/proc/{keeper}/ns/user", forwards, str(pid_file), ipv6
    )
    current = read_pasta(root.pasta_record(project))
    if (
        current is not None
        and current.argv == tuple(argv)
        and userns.keeper_alive(current.pid, current.start_time)
    ):
        return
    _stop_pasta(root, project)
    pid, started = start_pasta(argv, pid_file)
    write_record(root.pasta_record(project), PastaRecord(pid, started, tuple(argv)))


def _live_pasta(root: StateRoot, project: str) -> PastaRecord | None:
    record = read_pasta(root.pasta_record(project))
    if record is not None and userns.keeper_alive(record.pid, record.start_time):
        return record
    return None


def _stop_pasta(root: StateRoot, project: str) -> None:
    record = read_pasta(root.pasta_record(project))
    if record is not None:
        stop_process(record.pid, record.start_time)
    remove_record(root.pasta_record(project))


# --- the inside's side --------------------------------------------------------------------------


def request_ports(forwards: Sequence[Forward], ipv6: bool) -> None:
    """Ask the outside for pasta with these published ports; raise HostError when it failed."""
    _ask({"op": "ports", "forwards": [[f.protocol, f.port, f.address] for f in forwards], "ipv6": ipv6})


def request_egress() -> None:
    """Ask the outside for a way out (a pasta with whatever ports it has), e.g. to pull an image."""
    _ask({"op": "egress"})


def _ask(message: dict[str, object]) -> None:
    fd = userns.helper_socket()
    if fd is None:
        raise HostError(
            "no outside helper to start pasta (this rootless process was not started by composer's CLI)",
            hint="run the command again with composer",
        )
    with _asking, socket.socket(fileno=os.dup(fd)) as channel:  # one question, one answer, at a time
        channel.send(json.dumps(message).encode())
        reply = json.loads(channel.recv(1 << 16) or b"{}")
    if not reply.get("ok"):
        raise HostError(str(reply.get("error", "the outside did not answer")), hint=reply.get("hint") or None)
