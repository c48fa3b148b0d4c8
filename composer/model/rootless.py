"""Rootless decisions, all pure: which id mapping, which paths, which limits, which helper command.

composer without root makes one user namespace per project (see
:mod:`composer.kernel.userns`): the caller becomes root inside, and the
caller's subordinate ranges (``/etc/subuid``, ``/etc/subgid``) are mapped
after it, through the setuid helpers ``newuidmap``/``newgidmap``, so that an
image's other users own their files.  Everything that *decides* lives here and
is unit-tested; reading the files and running the helpers is the kernel's.

Id mapping (inside -> outside)::

    0            -> the caller's uid              (1 id)
    1 .. N       -> the first subordinate range   (N = its count, at most 65536 used)

Without a subordinate range the namespace maps only the caller (the single-id
fallback): every file is root's inside and a container may not switch users.

Per project rather than per user: a project's namespaces (user, mount, network,
pid) then go with its ``down``, projects cannot see each other's networks, and
two projects never share a failure.  The cost is one tiny process per project
(the keeper, PID 1 of the project's pid namespace).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from composer.model.container import LIMIT_KEYS, CgroupLimits

MAX_SUBORDINATE = 65536  # ids an image may use: 0..65535, as Docker's and podman's defaults


@dataclass(frozen=True)
class IdRange:
    """``inside`` .. ``inside+count-1`` in the namespace is ``outside`` .. in the parent."""

    inside: int
    outside: int
    count: int

    def line(self) -> str:
        return f"{self.inside} {self.outside} {self.count}"


@dataclass(frozen=True)
class IdMapping:
    """The uid and gid maps of a project's user namespace."""

    uids: tuple[IdRange, ...]
    gids: tuple[IdRange, ...]

    @property
    def single(self) -> bool:
        """Only the caller is mapped (no subordinate range)."""
        return len(self.uids) == 1 and len(self.gids) == 1

    def uid_argv(self, pid: int) -> list[str]:
        return _helper_argv("newuidmap", pid, self.uids)

    def gid_argv(self, pid: int) -> list[str]:
        return _helper_argv("newgidmap", pid, self.gids)

    def uid_map_text(self) -> str:
        return "".join(r.line() + "\n" for r in self.uids)

    def gid_map_text(self) -> str:
        return "".join(r.line() + "\n" for r in self.gids)


def _helper_argv(helper: str, pid: int, ranges: Sequence[IdRange]) -> list[str]:
    argv = [helper, str(pid)]
    for r in ranges:
        argv += [str(r.inside), str(r.outside), str(r.count)]
    return argv


def parse_subordinate(text: str, user: str, uid: int) -> list[tuple[int, int]]:
    """The ``(start, count)`` ranges of ``/etc/subuid``-format ``text`` for this user (by name or uid)."""
    ranges: list[tuple[int, int]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 3 or fields[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if start > 0 and count > 0:
            ranges.append((start, count))
    return ranges


def plan_mapping(
    uid: int, gid: int, subuids: Sequence[tuple[int, int]], subgids: Sequence[tuple[int, int]]
) -> IdMapping:
    """The caller as root and, when both files give it a range, the first range after it."""
    if not subuids or not subgids:
        return IdMapping((IdRange(0, uid, 1),), (IdRange(0, gid, 1),))
    ustart, ucount = subuids[0]
    gstart, gcount = subgids[0]
    return IdMapping(
        (IdRange(0, uid, 1), IdRange(1, ustart, min(ucount, MAX_SUBORDINATE))),
        (IdRange(0, gid, 1), IdRange(1, gstart, min(gcount, MAX_SUBORDINATE))),
    )


def single_id_warning(user: str, have_helpers: bool) -> str:
    """The one message of the fallback: what is lost, and the lines that fix it."""
    if not have_helpers:
        return (
            "rootless: newuidmap/newgidmap are missing (Debian package uidmap), so only your own id"
            " is mapped: every file in the containers is root's and `user:` other than root fails;"
            " install them with `apt-get install uidmap`"
        )
    return (
        f"rootless: {user} has no subordinate ids, so only your own id is mapped: every file in the"
        f" containers is root's and `user:` other than root fails; add `{user}:100000:65536` to"
        f" /etc/subuid and /etc/subgid (as root: usermod --add-subuids 100000-165535"
        f" --add-subgids 100000-165535 {user})"
    )


# --- where things live ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RootlessPaths:
    state: Path
    images: Path


def default_paths(uid: int, env: Mapping[str, str], home: str) -> RootlessPaths:
    """State in the user's runtime folder, images in the user's data folder; the variables override."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    state = Path(runtime) / "composer" if runtime.startswith("/") else Path(f"/tmp/composer-{uid}")
    data = env.get("XDG_DATA_HOME", "")
    images = Path(data) / "composer" if data.startswith("/") else Path(home) / ".local/share/composer"
    return RootlessPaths(
        Path(env["COMPOSER_ROOT"]) if env.get("COMPOSER_ROOT") else state,
        Path(env["COMPOSER_IMAGE_ROOT"]) if env.get("COMPOSER_IMAGE_ROOT") else images,
    )


# --- can this host make user namespaces at all ----------------------------------------------------


def userns_refusal(sysctls: Mapping[str, str | None]) -> str | None:
    """Why an unprivileged user namespace cannot be made, with the fix; None when nothing forbids it.

    ``sysctls`` holds the values read from /proc/sys (None: the knob does not exist on this kernel).
    """
    if sysctls.get("kernel/unprivileged_userns_clone") == "0":
        return (
            "this kernel forbids unprivileged user namespaces (kernel.unprivileged_userns_clone=0):"
            " as root, run `sysctl -w kernel.unprivileged_userns_clone=1`"
        )
    if sysctls.get("user/max_user_namespaces") == "0":
        return (
            "user namespaces are switched off (user.max_user_namespaces=0): as root, run"
            " `sysctl -w user.max_user_namespaces=15000`"
        )
    if sysctls.get("kernel/apparmor_restrict_unprivileged_userns") == "1":
        return (
            "AppArmor restricts unprivileged user namespaces"
            " (kernel.apparmor_restrict_unprivileged_userns=1): as root, run"
            " `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or give composer's"
            " Python an AppArmor profile with `userns,`"
        )
    return None


USERNS_SYSCTLS = (
    "kernel/unprivileged_userns_clone",
    "user/max_user_namespaces",
    "kernel/apparmor_restrict_unprivileged_userns",
)


# --- limits ---------------------------------------------------------------------------------------

LIMIT_CONTROLLERS = {  # a limit field -> the cgroup v2 controller that enforces it
    "memory": "memory",
    "memory_swap": "memory",
    "memory_reservation": "memory",
    "memory_swappiness": "memory",
    "oom_kill_disable": "memory",
    "cpus": "cpu",
    "cpu_shares": "cpu",
    "cpuset": "cpuset",
    "pids": "pids",
    "blkio_weight": "io",
    "blkio_devices": "io",
}


@dataclass(frozen=True)
class LimitSupport:
    """Which cgroup controllers composer may use, and why the others are out of reach."""

    controllers: frozenset[str]
    reason: str = ""  # why the missing ones are missing (empty: all are there)
    use_cgroups: bool = True  # False: make no cgroup at all (nothing is writable)


FULL_SUPPORT = LimitSupport(frozenset(LIMIT_CONTROLLERS.values()))


def rootless_limit_support(
    version: int, delegated: Iterable[str], writable: bool, own: str = ""
) -> LimitSupport:
    """What a user may limit: only a writable, delegated cgroup v2 subtree holds limits."""
    if version == 1:
        return LimitSupport(
            frozenset(),
            "cgroup v1 is never delegated to unprivileged users",
            use_cgroups=False,
        )
    if not writable:
        return LimitSupport(
            frozenset(),
            f"cgroup v2 is not delegated to you (your cgroup {own or '?'} is not writable; a systemd"
            " user session with Delegate=yes gives one)",
            use_cgroups=False,
        )
    have = frozenset(delegated) & frozenset(LIMIT_CONTROLLERS.values())
    missing = sorted(set(LIMIT_CONTROLLERS.values()) - have)
    reason = f"the controllers {', '.join(missing)} are not delegated to your cgroup {own}" if missing else ""
    return LimitSupport(have, reason)


def unsupported_limits(limits: CgroupLimits, support: LimitSupport) -> list[str]:
    """The limit fields set in ``limits`` that ``support`` cannot enforce, in field order."""
    return [
        name
        for name, controller in LIMIT_CONTROLLERS.items()
        if getattr(limits, name) is not None and controller not in support.controllers
    ]


def enforceable_limits(limits: CgroupLimits, support: LimitSupport) -> CgroupLimits:
    """``limits`` without what ``support`` cannot enforce (never written, never pretended)."""
    dropped = {name: None for name in unsupported_limits(limits, support)}
    return replace(limits, **dropped) if dropped else limits


def lost_limits(
    by_service: Mapping[str, CgroupLimits],
    support: LimitSupport,
    keys: Mapping[str, Mapping[str, str]] | None = None,
) -> str | None:
    """Every limit that will not hold, named by its key in the file
    (``services.a.mem_limit, services.b.cpus``), or None.

    ``keys``: each service's key for each limit field (:func:`composer.model.build.limit_keys`,
    which names a ``deploy`` twin when that is what set it); a field it lacks is named by its
    plain compose key.
    """
    named = keys or {}
    lost = [
        f"services.{service}.{named.get(service, {}).get(field) or LIMIT_KEYS.get(field, field)}"
        for service in sorted(by_service)
        for field in unsupported_limits(by_service[service], support)
    ]
    return ", ".join(lost) if lost else None


def limits_note(
    by_service: Mapping[str, CgroupLimits],
    support: LimitSupport,
    keys: Mapping[str, Mapping[str, str]] | None = None,
) -> str | None:
    """The one warning about limits that will not hold, or None when all hold."""
    lost = lost_limits(by_service, support, keys)
    if lost is None:
        return None
    return (
        f"rootless: these limits cannot be applied, the containers run without them: {lost}"
        f" ({support.reason}); {STRICT_LIMITS_ENV}=1 or --strict-limits makes this an error"
    )


STRICT_LIMITS_ENV = "COMPOSER_STRICT_LIMITS"


# --- pasta ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """A published port as pasta forwards it: host ``address:port`` -> the same port in the namespace."""

    protocol: str  # "tcp" | "udp"
    port: int
    address: str = ""  # empty: every host address


def pasta_argv(
    pasta: str, netns: str, userns: str, forwards: Sequence[Forward], pid_file: str, ipv6: bool
) -> list[str]:
    """pasta attached to the project's network namespace: egress, and the published ports.

    ``--no-map-gw`` and ``-T none -U none`` keep the host's loopback out of the
    containers' reach, as with root; pasta's own port scanning is off.
    """
    argv = [pasta, "--config-net", "--no-map-gw", "--quiet", "-P", pid_file]
    argv += ["--userns", userns, "--netns", netns]
    if not ipv6:
        argv.append("--ipv4-only")
    for protocol, flag in (("tcp", "-t"), ("udp", "-u")):
        by_address: dict[str, set[int]] = {}
        for forward in forwards:
            if forward.protocol == protocol:
                by_address.setdefault(forward.address, set()).add(forward.port)
        if not by_address:
            argv += [flag, "none"]
        for address in sorted(by_address):  # pasta binds one address per option
            ports = ",".join(str(p) for p in sorted(by_address[address]))
            argv += [flag, f"{address}/{ports}" if address else ports]
    argv += ["-T", "none", "-U", "none"]
    return argv
