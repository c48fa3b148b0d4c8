"""The host interface: every fact and effect that up, down and the verbs need from the machine.

The engine and the verbs see the machine only through :class:`Host`, so the
fake (:mod:`composer.engine.hosts.fake`) covers every branch of them without
root and without depending on the machine the tests run on; the real one
(:mod:`composer.engine.hosts.real`) is the only implementation that calls into
``composer.kernel``, the image store and the supervisor.  It is grouped by use:

* :class:`HostFacts`: the cheap reads ``observe()`` makes on every command;
* :class:`PlanningFacts`: what planning needs beyond the file (routes and
  bridges already there, listening ports, netem), read before anything is made;
* :class:`ImageSource`: images and ``rootfs:`` trees by reference or path;
* the effects: networks, volumes, sandboxes, containers, links, the firewall,
  hosts files, and the project's supervisor.

Every effect is idempotent: after a crash the next command may repeat a step
it cannot know finished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: ps and exec, which take a host, load none of these
    from composer.kernel.procfs import ProcessInfo
    from composer.kernel.stats import Sample
    from composer.model.build import ImageLike
    from composer.model.desired import (
        DesiredContainer,
        DesiredInterface,
        DesiredLink,
        DesiredNetwork,
        DesiredRoute,
        DesiredState,
    )
    from composer.model.netstate import NetnsState
    from composer.model.rootless import LimitSupport
    from composer.store.container import ContainerStatus
    from composer.store.layout import ProjectLayout
    from composer.store.records import ContainerRecord, LinkRecord, NetworkRecord, RouteRecord


class HostFacts(Protocol):
    """Reads ``observe()`` makes on every command: cheap (``/proc``, ``/sys``, status files)."""

    def interface_exists(self, name: str) -> bool: ...

    def netns_exists(self, path: str) -> bool: ...

    def container_status(self, layout: ProjectLayout, name: str) -> ContainerStatus: ...

    def firewall_exists(self, project: str) -> bool: ...

    def container_processes(self, cgroup_paths: Mapping[str, str]) -> list[ProcessInfo]:
        """Every process in a container's cgroup (``composer top``)."""
        ...

    def netns_state(self, netns: str, sysctl_keys: Sequence[str]) -> NetnsState:
        """Links, addresses, routes and root qdiscs of a container's netns, and the sysctls asked for."""
        ...

    def container_sample(self, layout: ProjectLayout, name: str) -> Sample:
        """``composer stats``: the container's counters now; the memory limit is the host's memory when
        the container has none."""
        ...


class PlanningFacts(Protocol):
    """What planning needs from the machine beyond the project file."""

    def routed_subnets(self) -> Sequence[tuple[str, str]]:
        """(interface, network) of the host's routes that are not composer's own bridges."""
        ...

    def interface_addresses(self) -> Mapping[str, Sequence[str]]:
        """Interface -> its CIDRs in the host's network namespace (external networks join these)."""
        ...

    def ports_in_use(self, protocol: str, host_ip: str | None, ports: Sequence[int]) -> Sequence[int]: ...

    def netem_available(self) -> bool: ...

    def is_rootless(self) -> bool:
        """Running without root, in a project's user namespace."""
        ...

    def limit_support(self) -> LimitSupport:
        """Which cgroup limits this host lets composer set (all as root; without root, what is delegated)."""
        ...

    def cgroup_version(self) -> int:
        """1 or 2: the cgroup hierarchy containers are placed in (0: none, rootless on cgroup v1)."""
        ...

    def host_interface(self, name: str) -> tuple[str, str] | None:
        """(kind, ifalias) of the host's interface ``name`` ("" without one), or None when there is none."""
        ...

    def project_leftovers(self, project: str, *, interfaces: bool) -> list[str]:
        """What of ``project`` still exists on the machine (marked interfaces only when ``interfaces``)."""
        ...


class ImageSource(Protocol):
    def ensure_image(self, reference: str, policy: str) -> ImageLike:
        """The image, pulled as ``policy`` (always, missing, never, build, daily ...) says."""
        ...

    def lookup_image(self, reference: str) -> ImageLike | None:
        """The image when it is in the store already; never pulls."""
        ...

    def pin_image(self, project: str, image_id: str) -> None: ...

    def unpin_images(self, project: str) -> None: ...

    def rootfs_layers(self, source: Path) -> tuple[str, ...]:
        """The overlay lower layers for a ``rootfs:`` folder or tarball; FileNotFoundError when missing."""
        ...


@dataclass(frozen=True)
class ExecRequest:
    """``composer exec``: a command to run in a running container."""

    argv: tuple[str, ...]
    user: str | None = None
    working_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    tty: bool = False


@dataclass(frozen=True)
class CopyRequest:
    """``composer cp``: a path in the container, one on the host, and how to copy."""

    container_path: str
    host_path: str  # "-": a tar stream on ``stream``
    archive: bool = False  # -a: keep owners
    follow_link: bool = False  # -L
    stream: IO[bytes] | None = None


class Host(HostFacts, PlanningFacts, ImageSource, Protocol):
    """Everything the engine and the verbs ask of the machine."""

    def preload(self, *, netlink: bool) -> None:
        """Get ready for a plan that will run in worker threads (load what they would all load at once)."""
        ...

    # networks and volumes
    def create_network(self, project: str, network: DesiredNetwork) -> None: ...

    def remove_network(self, record: NetworkRecord) -> None: ...

    def create_volume(self, path: Path) -> None: ...

    def remove_volume(self, path: Path) -> None: ...

    # containers
    def create_sandbox(
        self,
        layout: ProjectLayout,
        container: DesiredContainer,
        networks: Mapping[str, DesiredNetwork],
        veths: Mapping[str, str],
        *,
        keep_network: bool = False,
    ) -> Mapping[str, str]:
        """Make the container's folder, netns, veths and cgroup; returns the cgroup folders.

        ``keep_network``: the netns and its interfaces are there already (a recreate that keeps them).
        """
        ...

    def remove_sandbox(
        self, layout: ProjectLayout, name: str, record: ContainerRecord, *, keep_network: bool = False
    ) -> None:
        """Remove the container's cgroup and folder, and its netns and veths unless ``keep_network``."""
        ...

    def start_container(self, layout: ProjectLayout, container: DesiredContainer) -> int:
        """Start a container the plan just made or keeps; returns its PID once it runs."""
        ...

    def give_stdin(self, name: str, fd: int, *, terminal: tuple[int, int] | None = None) -> None:
        """The next start of container ``name`` makes ``fd`` (of this process, -1: none) its stdin
        (run -i); with ``terminal`` (rows, columns) its pseudo-terminal's master comes back here."""
        ...

    def take_terminal(self, name: str) -> int:
        """The master of the terminal the last start of ``name`` handed back (-1: none); the caller's."""
        ...

    def start_existing(self, layout: ProjectLayout, name: str) -> int:
        """Start a stopped container from its stored description (``composer start``)."""
        ...

    def stop_container(self, layout: ProjectLayout, name: str, timeout: float | None) -> None:
        """Its ``pre_stop`` hooks, the stop signal, the grace period (``timeout`` or its own), SIGKILL."""
        ...

    def kill_container(self, layout: ProjectLayout, name: str, signal: int) -> None: ...

    def pause_container(self, layout: ProjectLayout, name: str) -> None:
        """Freeze every process of the container (cgroup freezer); it then shows as paused."""
        ...

    def unpause_container(self, layout: ProjectLayout, name: str) -> None: ...

    def copy_from_container(self, layout: ProjectLayout, name: str, request: CopyRequest) -> None:
        """``cp SERVICE:SRC DEST``: DEST ``-`` writes a tar stream to ``request.stream``."""
        ...

    def copy_to_container(self, layout: ProjectLayout, name: str, request: CopyRequest) -> None:
        """``cp SRC SERVICE:DEST``: SRC ``-`` reads a tar stream from ``request.stream``."""
        ...

    def watch_files(
        self, paths: Sequence[str], *, debounce: float, stop: Callable[[], bool]
    ) -> Iterator[list[str]]:
        """Batches of changed paths beneath ``paths`` (``watch``), each after ``debounce`` quiet seconds."""
        ...

    def exec_in_container(self, layout: ProjectLayout, name: str, request: ExecRequest) -> int: ...

    def exec_captured(self, layout: ProjectLayout, name: str, request: ExecRequest) -> tuple[int, str, str]:
        """Run a command in a running container; (exit status, stdout, stderr)."""
        ...

    def reach(
        self, netns: str, address: str, port: int | None, timeout: float, protocol: str = "tcp"
    ) -> float | None:
        """From inside ``netns``: seconds to an ICMP echo reply (``port`` None), a TCP handshake or a
        UDP answer (``protocol`` "udp"); None when nothing came."""
        ...

    def http_status(self, netns: str, address: str, port: int, path: str, timeout: float) -> int | None:
        """From inside ``netns``: the status of ``GET path``, or None."""
        ...

    def throughput(self, source: str, target: str, address: str, size: int, timeout: float) -> float | None:
        """Bits per second of a bulk TCP transfer from the ``source`` netns to ``address`` in ``target``."""
        ...

    def write_hosts_file(self, path: Path, text: str) -> None:
        """Rewrite a container's /etc/hosts in place (it is bind-mounted: a rename would not show)."""
        ...

    # links, interfaces, routes and the firewall
    def create_link(
        self, project: str, link: DesiredLink, a_end: DesiredInterface, b_end: DesiredInterface
    ) -> None:
        """Make the veth pair with both ends configured as their DesiredInterface says."""
        ...

    def create_tunnel(self, project: str, link: DesiredLink, end: DesiredInterface, temp_name: str) -> None:
        """Make the local end of a link to another host: a VXLAN device as ``end`` says (``link.tunnel``)."""
        ...

    def create_outside_end(
        self, project: str, link: DesiredLink, end: DesiredInterface, temp_name: str
    ) -> None:
        """Make a link whose other end is outside the project (``link.outside``): a veth pair with its
        host end in the host's namespace (born as ``temp_name``, marked, then named), or a macvlan."""
        ...

    def update_interface(self, interface: DesiredInterface) -> None:
        """Change what differs on an existing interface: addresses, MTU, state, qdisc, sysctls."""
        ...

    def create_route(self, route: DesiredRoute) -> None:
        """Add (or replace) the route in its container's netns."""
        ...

    def remove_route(self, record: RouteRecord) -> None: ...

    def remove_link(self, record: LinkRecord) -> None: ...

    def apply_firewall(self, project: str, desired: DesiredState) -> None: ...

    def remove_firewall(self, project: str) -> None: ...

    # the project's supervisor
    def revive_supervisor(self, layout: ProjectLayout) -> bool:
        """Start a supervisor when containers run without one (it adopts them); True when started."""
        ...

    def shutdown_supervisor(self, layout: ProjectLayout) -> None: ...

    def prune_project_cgroups(self, project: str) -> None:
        """Remove the project's cgroup folders that hold no task (left by a removal cut short)."""
