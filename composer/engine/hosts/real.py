"""The real host: :class:`~composer.engine.hosts.base.Host` on the kernel, the image store and the supervisor.

Each effect is idempotent (creating what exists, or removing what is gone, is
fine) because after a crash the next command may repeat a step it cannot know
finished.  Heavy modules (pyroute2, httpx) are imported on first use so that a
no-op ``up`` never loads them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from composer.engine.hosts.base import CopyRequest, ExecRequest, Host
from composer.errors import ContainerError, HostError, PlanError
from composer.kernel.procfs import cgroup_processes
from composer.model.naming import BRIDGE_PREFIX, attachment_mac, ifalias
from composer.store.container import (
    PROC,
    ContainerFolder,
    ContainerStatus,
    SupervisedContainer,
    is_alive,
    live_status,
)
from composer.store.layout import ProjectLayout, StateRoot
from composer.store.locks import forwarding_lock
from composer.supervisor.client import SupervisorClient

if TYPE_CHECKING:  # annotations only: ps, exec and the no-op up load none of these
    from composer.kernel.procfs import ProcessInfo
    from composer.kernel.stats import Sample
    from composer.model.build import ImageLike
    from composer.model.container import ContainerConfig, HookConfig
    from composer.model.desired import (
        Attachment,
        DesiredContainer,
        DesiredInterface,
        DesiredLink,
        DesiredNetwork,
        DesiredRoute,
        DesiredState,
    )
    from composer.model.netstate import NetnsState
    from composer.model.rootless import LimitSupport
    from composer.store.records import ContainerRecord, LinkRecord, NetworkRecord, RouteRecord


def segment_port_name(bridge: str) -> str:
    """The VXLAN port of a bridge whose network spans hosts: the bridge's name, another prefix."""
    return "cmx" + bridge.removeprefix(BRIDGE_PREFIX)


class RealHost:
    """Host operations for projects under one state root and one image store."""

    def __init__(self, state_root: Path, image_root: Path, *, rootless: bool = False) -> None:
        self.root = StateRoot(state_root)
        self.image_root = image_root
        self.rootless = rootless  # inside a project's user namespace (composer.engine.hosts.rootless)
        self.rootless_network = rootless and _has_outside_helper()
        self._limits: LimitSupport | None = None
        self._cgroups: Any = None
        self._stdin: dict[str, tuple[int, tuple[int, int] | None]] = {}  # container -> (stdin, terminal size)
        self._terminals: dict[str, int] = {}  # container -> the master of its terminal (run -t)
        self._images: Any = None
        self._local = threading.local()
        self._bridges: dict[str, int] = {}
        self._supervisors: dict[Path, SupervisorClient] = {}
        self._lock = threading.Lock()

    def _supervisor(self, layout: ProjectLayout) -> SupervisorClient:
        """One client per project and command: it remembers that the supervisor answered."""
        with self._lock:
            client = self._supervisors.get(layout.dir)
            if client is None:
                client = self._supervisors[layout.dir] = SupervisorClient(layout.dir)
            return client

    # -- facts (cheap reads only) -------------------------------------------------------
    def interface_exists(self, name: str) -> bool:
        # /proc/thread-self/net is the calling thread's netns (sysfs shows the one it was mounted in).
        try:
            with open("/proc/thread-self/net/dev") as handle:
                return any(line.split(":")[0].strip() == name for line in handle)
        except FileNotFoundError:
            return False

    def netns_exists(self, path: str) -> bool:
        # A bind-mounted namespace sits on nsfs: its device differs from its folder's.
        # (Checked with stat, not by importing the netlink layer: observe() must stay cheap.)
        try:
            return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
        except FileNotFoundError:
            return False

    def container_status(self, layout: ProjectLayout, name: str) -> ContainerStatus:
        return live_status(ContainerFolder(layout.container(name)), self._proc(layout))

    def _proc(self, layout: ProjectLayout) -> Path | None:
        """The procfs of the pid namespace the project's PIDs are recorded in (None: it is gone)."""
        if self.rootless:
            return PROC  # inside the project's namespaces (the CLI entered them): its own /proc
        from composer.engine.hosts.rootless import project_proc

        return project_proc(layout.state_root, layout.name)  # outside: ls, stats, or a dead keeper

    def firewall_exists(self, project: str) -> bool:
        from composer.kernel.net.nft import table_text

        return table_text(project) is not None

    def container_processes(self, cgroup_paths: Mapping[str, str]) -> list[ProcessInfo]:
        return cgroup_processes(cgroup_paths)

    def container_sample(self, layout: ProjectLayout, name: str) -> Sample:
        from composer.kernel.stats import Sample, host_memory, read_sample

        folder = ContainerFolder(layout.container(name))
        proc = self._proc(layout)
        status = live_status(folder, proc)
        try:
            paths = folder.read_supervised().cgroup_paths
        except (FileNotFoundError, ValueError, KeyError):
            return Sample(memory_limit=host_memory())
        live = status.state in ("running", "paused")  # never so when the project's pid namespace is gone
        sample = read_sample(paths, status.pid if live else 0, proc or PROC)
        return sample if sample.memory_limit else dataclasses.replace(sample, memory_limit=host_memory())

    def routed_subnets(self) -> Sequence[tuple[str, str]]:
        from composer.kernel.net.routes import host_routed_networks

        return host_routed_networks()

    def interface_addresses(self) -> Mapping[str, Sequence[str]]:
        from composer.kernel.net.netlink import interface_addresses

        return interface_addresses(None)

    def ports_in_use(self, protocol: str, host_ip: str | None, ports: Sequence[int]) -> Sequence[int]:
        from composer.kernel.net.ports import ports_in_use

        return ports_in_use("udp" if protocol == "udp" else "tcp", host_ip, ports)

    def is_rootless(self) -> bool:
        return self.rootless

    def limit_support(self) -> LimitSupport:
        """Root sets every limit; without root only a delegated cgroup v2 subtree holds any."""
        from composer.model.rootless import FULL_SUPPORT

        if not self.rootless:
            return FULL_SUPPORT
        if self._limits is None:
            from composer.kernel.rootless_cgroups import limit_support

            self._limits = limit_support()
        return self._limits

    def cgroup_version(self) -> int:
        return int(self._cgroup_driver().version)

    def netem_available(self) -> bool:
        from composer.kernel.net.tc import netem_available

        return netem_available()

    def host_interface(self, name: str) -> tuple[str, str] | None:
        from composer.kernel.net.netlink import host_interface

        return host_interface(name)

    def project_leftovers(self, project: str, *, interfaces: bool) -> list[str]:
        from composer.kernel.net.nft import table_text

        found: list[str] = []
        if interfaces:
            from composer.kernel.net.netlink import list_owned_links

            found += [f"interface {link.name}" for link in list_owned_links(project)]
        if table_text(project) is not None:
            found.append(f"nftables table of project {project}")
        return found

    # -- images ------------------------------------------------------------------------
    def _image_store(self) -> Any:
        if self._images is None:
            from composer.images.store import ImageStore

            self._images = ImageStore(self.image_root)
        return self._images

    def ensure_image(self, reference: str, policy: str) -> ImageLike:
        if (
            self.rootless
            and self.rootless_network
            and (policy == "always" or self.lookup_image(reference) is None)
        ):
            from composer.engine.hosts.rootless import request_egress

            request_egress()  # the project's namespace reaches registries through pasta
        image: ImageLike = self._image_store().ensure(reference, policy=policy)
        return image

    def lookup_image(self, reference: str) -> ImageLike | None:
        image: ImageLike | None = self._image_store().lookup(reference)
        return image

    def pin_image(self, project: str, image_id: str) -> None:
        self._image_store().pin(project, image_id)

    def unpin_images(self, project: str) -> None:
        if self.image_root.is_dir():  # no store yet: nothing is pinned (and none is made for that)
            with contextlib.suppress(OSError):
                self._image_store().unpin_project(project)

    def rootfs_layers(self, source: Path) -> tuple[str, ...]:
        from composer.images.rootfs import foreign_folder_copy, is_foreign, is_tarball, resolve_rootfs

        if not source.exists():
            raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(source))
        if is_tarball(source):
            return resolve_rootfs(source, self.image_root)
        if self.rootless and is_foreign(source):  # e.g. built by root: a copy our namespace owns
            return (str(foreign_folder_copy(source, self.image_root)),)
        return (str(source),)

    # -- networks ----------------------------------------------------------------------
    def preload(self, *, netlink: bool) -> None:
        """Import pyroute2 here, once, rather than in eight worker threads queueing on the import lock.

        The qdisc and link-state code has no heavy import: it loads here either way.
        """
        import composer.kernel.net.linkstate
        import composer.kernel.net.tc

        if netlink:
            import composer.kernel.net.netlink  # noqa: F401

    def create_network(self, project: str, network: DesiredNetwork) -> None:
        if network.external:
            if not self.interface_exists(network.bridge):
                raise PlanError(
                    f"external network {network.name}: no bridge named {network.bridge} exists",
                    hint="create it first, or drop external: true so that composer makes it",
                )
            return
        from composer.kernel.net.netlink import ensure_bridge

        self._bridges.pop(network.bridge, None)  # made again: a new index
        ensure_bridge(network.bridge, ifalias(project, network.rid), network.mtu, network.bridge_addresses)
        if network.segment is not None:
            from composer.kernel.net.netlink import create_segment_port

            segment = network.segment
            create_segment_port(
                network.bridge, segment_port_name(network.bridge), ifalias(project, network.rid), segment.vni,
                segment.local, segment.remotes, segment.port, network.mtu,
            )  # fmt: skip
        with contextlib.suppress(OSError):  # published ports reach containers from 127.0.0.1 through it
            Path(f"/proc/sys/net/ipv4/conf/{network.bridge}/route_localnet").write_text("1")
        if not network.internal:
            from composer.kernel.net.forwarding import enable_forwarding

            with forwarding_lock(self.root):
                enable_forwarding(self.root.forwarding_record, ipv6=any(":" in s for s in network.subnets))

    def remove_network(self, record: NetworkRecord) -> None:
        if record.external:
            return
        if record.bridge:
            from composer.kernel.net.netlink import delete_link

            if record.bridge.startswith(BRIDGE_PREFIX):  # a split lab's VXLAN port, when there is one
                delete_link(segment_port_name(record.bridge))
            delete_link(record.bridge)
        self._release_forwarding()

    def _release_forwarding(self) -> None:
        from composer.kernel.net.forwarding import release_forwarding
        from composer.kernel.net.netlink import list_owned_links

        with forwarding_lock(self.root):
            still = any(link.kind == "bridge" for link in list_owned_links(None))
            release_forwarding(self.root.forwarding_record, still_needed=still)

    # -- volumes -----------------------------------------------------------------------
    def create_volume(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def remove_volume(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    # -- containers --------------------------------------------------------------------
    def _cgroup_driver(self) -> Any:
        if self._cgroups is None:
            if self.rootless:
                from composer.kernel.rootless_cgroups import rootless_driver

                self._cgroups = rootless_driver(self.limit_support())
            else:
                from composer.kernel.cgroups import detect_cgroup_driver

                self._cgroups = detect_cgroup_driver()
        return self._cgroups

    def create_sandbox(
        self,
        layout: ProjectLayout,
        container: DesiredContainer,
        networks: Mapping[str, DesiredNetwork],
        veths: Mapping[str, str],
        *,
        keep_network: bool = False,
    ) -> Mapping[str, str]:
        config = container.config
        folder = ContainerFolder(layout.container(container.name))
        folder.files.folder.mkdir(parents=True, exist_ok=True)
        if config.projected_files:
            from composer.kernel.projected import write_projected_files

            write_projected_files(config.projected_files)
        for mount in config.mounts:
            if mount.kind == "volume":
                Path(mount.source).mkdir(parents=True, exist_ok=True)
        if container.owns_netns and config.netns_path:
            self._make_netns(config.netns_path)  # idempotent: a kept netns stays as it is
        for attachment in () if keep_network else container.attachments:
            self._attach(container, networks[attachment.network], attachment, veths[attachment.network])
        handle = _create_cgroup(self._cgroup_driver(), config)
        supervised = SupervisedContainer(
            config=config, cgroup_paths=dict(handle.paths), restart=container.restart, health=container.health
        )
        folder.write_supervised(supervised)
        return dict(handle.paths)

    def _host_iproute(self) -> Any:
        """One netlink socket of the host netns per worker thread, reused for every attachment."""
        ipr = getattr(self._local, "ipr", None)
        if ipr is None:
            from composer.kernel.net.netns import netns_iproute

            ipr = self._local.ipr = netns_iproute(None)
        return ipr

    def _bridge_index(self, bridge: str) -> int | None:
        """Looked up once per command: every container of a network attaches to the same bridge."""
        index = self._bridges.get(bridge)
        if index is None:
            from composer.kernel.net.netlink import link_index

            index = link_index(bridge, self._host_iproute())
            if index is not None:
                self._bridges[bridge] = index
        return index

    def _attach(
        self, container: DesiredContainer, network: DesiredNetwork, attachment: Attachment, veth: str
    ) -> None:
        from composer.kernel.net.netlink import attach_to_bridge, delete_link

        def attach() -> None:
            attach_to_bridge(
                network.bridge, veth, ifalias(container.config.project, container.rid),
                str(container.config.netns_path), attachment.ifname, attachment.addresses, network.mtu,
                attachment.gateway4, attachment.gateway6, host_ipr=self._host_iproute(),
                bridge_index=self._bridge_index(network.bridge),
                mac_address=attachment.mac_address or attachment_mac(attachment.addresses),
            )  # fmt: skip

        try:
            attach()
        except HostError as error:
            if error.errno != errno.EEXIST:
                raise
            delete_link(veth)  # a leftover of an interrupted run holds the name
            attach()

    def _make_netns(self, path: str) -> None:
        from composer.kernel.net.netns import create_netns, is_netns_mount

        if not is_netns_mount(path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            create_netns(path)

    def give_stdin(self, name: str, fd: int, *, terminal: tuple[int, int] | None = None) -> None:
        self._stdin[name] = (fd, terminal)

    def take_terminal(self, name: str) -> int:
        return self._terminals.pop(name, -1)

    def start_container(self, layout: ProjectLayout, container: DesiredContainer) -> int:
        name = container.config.name
        stdin, terminal = self._stdin.pop(name, (-1, None))
        master: list[int] | None = [] if terminal is not None and container.config.tty else None
        pid = self._supervisor(layout).start(name, stdin=stdin, terminal=master, size=terminal or (0, 0))
        if master:
            self._terminals[name] = master[0]
        if container.config.post_start:
            self._post_start(layout, container.config, pid)
        return pid

    def _post_start(self, layout: ProjectLayout, config: ContainerConfig, pid: int) -> None:
        """Each hook must succeed, else the container is stopped (the next ``up`` starts it, hooks again)."""
        for index, hook in enumerate(config.post_start):
            code, output = self._run_hook(layout, config, pid, hook)
            if code != 0:
                self.stop_container(layout, config.name, 0.0, hooks=False)
                tail = " | ".join(output.strip().splitlines()[-3:])
                raise ContainerError(
                    f"post_start hook {index} of {config.name} ({' '.join(hook.argv)}) exited {code}"
                    + (f": {tail}" if tail else ""),
                    hint=f"the container was stopped; hook output: {layout.container(config.name).hooks_log}",
                )

    def _run_hook(
        self, layout: ProjectLayout, config: ContainerConfig, pid: int, hook: HookConfig
    ) -> tuple[int, str]:
        from composer.kernel.cgroups import open_handle
        from composer.kernel.process.exec import exec_to_file

        folder = ContainerFolder(layout.container(config.name))
        log = folder.files.hooks_log
        start = log.stat().st_size if log.exists() else 0
        code = exec_to_file(
            pid, list(hook.argv), str(log), user=hook.user or config.user,
            working_dir=hook.working_dir or None, env=dict(hook.env),
            cgroup=open_handle(folder.read_supervised().cgroup_paths), cfg=config,
        )  # fmt: skip
        with open(log, "rb") as handle:
            handle.seek(start)
            return code, handle.read().decode(errors="replace")

    def start_existing(self, layout: ProjectLayout, name: str) -> int:
        return self._supervisor(layout).start(name)

    def stop_container(
        self, layout: ProjectLayout, name: str, timeout: float | None, *, hooks: bool = True
    ) -> None:
        folder = ContainerFolder(layout.container(name))
        status = folder.read_status()
        if not is_alive(status):
            return
        if folder.files.paused.exists():  # a frozen process cannot act on its stop signal
            self.unpause_container(layout, name)
        if hooks:
            self._pre_stop(layout, folder, status.pid)
        grace = timeout if timeout is not None else _grace(folder)
        supervisor = self._supervisor(layout)
        if supervisor.ping():
            with contextlib.suppress(ConnectionError, OSError):
                supervisor.stop(name, grace)
                return
        self._stop_directly(folder, status, grace)

    def _pre_stop(self, layout: ProjectLayout, folder: ContainerFolder, pid: int) -> None:
        """``pre_stop`` hooks, best effort: a failing or vanished hook never keeps the container running."""
        if not folder.has_supervised():
            return
        config = folder.read_supervised().config
        for hook in config.pre_stop:
            with contextlib.suppress(ContainerError, OSError):
                self._run_hook(layout, config, pid, hook)

    def _stop_directly(self, folder: ContainerFolder, status: ContainerStatus, grace: float) -> None:
        """No supervisor to ask (it died): signal, wait, then kill the whole cgroup."""
        from composer.kernel.process.stop import GraceKill

        supervised = folder.read_supervised()
        handle = self._cgroup_driver().open(supervised.cgroup_paths)
        GraceKill(status.pid, supervised.config.stop_signal, grace, handle).stop_and_wait()  # on a pidfd
        status.state = "exited"
        status.stopped_by_user = True
        status.exit_code = 128 + signal.SIGKILL
        folder.write_status(status)

    def kill_container(self, layout: ProjectLayout, name: str, signal_number: int) -> None:
        status = ContainerFolder(layout.container(name)).read_status()
        if not is_alive(status):
            return
        supervisor = self._supervisor(layout)
        if supervisor.ping():
            supervisor.kill(name, signal_number)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.pid, signal_number)

    def pause_container(self, layout: ProjectLayout, name: str) -> None:
        from composer.kernel.freezer import Freezer

        folder = ContainerFolder(layout.container(name))
        if not is_alive(folder.read_status()):
            raise ContainerError(f"container {name} is not running", hint="start it with composer start")
        folder.files.paused.touch()  # first: a pause cut short is undone by unpause or down
        Freezer().freeze(folder.read_supervised().cgroup_paths, layout.name, name)

    def unpause_container(self, layout: ProjectLayout, name: str) -> None:
        from composer.kernel.freezer import Freezer

        folder = ContainerFolder(layout.container(name))
        with contextlib.suppress(FileNotFoundError):
            Freezer().thaw(folder.read_supervised().cgroup_paths, layout.name, name)
        folder.files.paused.unlink(missing_ok=True)

    def copy_from_container(self, layout: ProjectLayout, name: str, request: CopyRequest) -> None:
        from composer.kernel.tarcopy import CopyOptions, copy_out

        options = CopyOptions(archive=request.archive, follow_link=request.follow_link)
        copy_out(
            self._running_pid(layout, name),
            request.container_path,
            request.host_path,
            options,
            request.stream,
        )

    def copy_to_container(self, layout: ProjectLayout, name: str, request: CopyRequest) -> None:
        from composer.kernel.tarcopy import CopyOptions, copy_in

        options = CopyOptions(archive=request.archive, follow_link=request.follow_link)
        copy_in(
            self._running_pid(layout, name),
            request.host_path,
            request.container_path,
            options,
            request.stream,
        )

    def watch_files(
        self, paths: Sequence[str], *, debounce: float, stop: Callable[[], bool]
    ) -> Iterator[list[str]]:
        from composer.kernel.inotify import TreeWatcher

        watcher = TreeWatcher(paths)
        try:
            yield from watcher.batches(debounce=debounce, stop=stop)
        finally:
            watcher.close()

    @staticmethod
    def _running_pid(layout: ProjectLayout, name: str) -> int:
        status = ContainerFolder(layout.container(name)).read_status()
        if not is_alive(status):
            raise ContainerError(
                f"container {name} is not running: cp needs it running", hint="composer start"
            )
        return status.pid

    def exec_in_container(self, layout: ProjectLayout, name: str, request: ExecRequest) -> int:
        from composer.kernel.cgroups import open_handle
        from composer.kernel.process import exec_in_container

        folder = ContainerFolder(layout.container(name))
        status = folder.read_status()
        if not is_alive(status):
            raise ContainerError(f"container {name} is not running", hint="start it with composer start")
        supervised = folder.read_supervised()
        return exec_in_container(
            status.pid, list(request.argv),
            user=request.user if request.user is not None else supervised.config.user,
            working_dir=request.working_dir, env=dict(request.env), tty=request.tty,
            cgroup=open_handle(supervised.cgroup_paths), cfg=supervised.config,
        )  # fmt: skip

    def exec_captured(self, layout: ProjectLayout, name: str, request: ExecRequest) -> tuple[int, str, str]:
        from composer.kernel.capture import captured_stdio

        with captured_stdio() as output:
            status = self.exec_in_container(layout, name, request)
        return status, output.stdout, output.stderr

    def reach(
        self, netns: str, address: str, port: int | None, timeout: float, protocol: str = "tcp"
    ) -> float | None:
        from composer.kernel.net.probe import icmp_echo, tcp_connect, udp_echo

        if port is None:
            return icmp_echo(netns, address, timeout)
        if protocol == "udp":
            return udp_echo(netns, address, port, timeout)
        return tcp_connect(netns, address, port, timeout)

    def http_status(self, netns: str, address: str, port: int, path: str, timeout: float) -> int | None:
        from composer.kernel.net.probe import http_status

        return http_status(netns, address, port, path, timeout)

    def throughput(self, source: str, target: str, address: str, size: int, timeout: float) -> float | None:
        from composer.kernel.net.probe import throughput

        return throughput(source, target, address, size, timeout)

    def write_hosts_file(self, path: Path, text: str) -> None:
        with contextlib.suppress(OSError), open(path, "r+") as handle:
            if handle.read() != text:
                handle.seek(0)
                handle.write(text)
                handle.truncate()

    def remove_sandbox(
        self, layout: ProjectLayout, name: str, record: ContainerRecord, *, keep_network: bool = False
    ) -> None:
        supervisor = self._supervisor(layout)
        if supervisor.ping():
            with contextlib.suppress(ConnectionError, OSError):
                supervisor.forget(name)
        self._remove_cgroup(layout.name, name, record)
        if not keep_network:  # kept: the netns (composer's bind mount, not the container's) and its veths
            self._remove_network_of(record)
        folder = Path(record.folder) if record.folder else layout.container_dir(name)
        if folder.is_dir():
            _remove_tree(folder)

    @staticmethod
    def _remove_network_of(record: ContainerRecord) -> None:
        sandbox = record.sandbox
        if sandbox.veths:
            from composer.kernel.net.netlink import delete_link

            for veth in sandbox.veths:
                delete_link(veth)
        if sandbox.netns and sandbox.owns_netns:
            from composer.kernel.net.netns import delete_netns

            delete_netns(sandbox.netns)

    def _remove_cgroup(self, project: str, name: str, record: ContainerRecord) -> None:
        from composer.kernel.freezer import Freezer

        paths: Mapping[str, str] = record.sandbox.cgroup_paths
        with contextlib.suppress(HostError):  # frozen tasks would not die (v1); nor may the cgroup stay
            Freezer().thaw(paths, project, name)
        driver = self._cgroup_driver()
        if not paths:
            # Killed between making the cgroup and recording it: it sits beneath our own cgroup.
            paths = _unrecorded_cgroup_paths(driver, project, name)
        if not paths:
            return
        handle = driver.open(paths)
        handle.kill_all(signal.SIGKILL)
        handle.remove()  # also drops composer/<project> and composer once empty

    # -- links -------------------------------------------------------------------------
    def create_link(
        self, project: str, link: DesiredLink, a_end: DesiredInterface, b_end: DesiredInterface
    ) -> None:
        from composer.kernel.net.netlink import create_p2p_link, delete_link

        delete_link(link.a_ifname, a_end.netns)  # a leftover of an interrupted run
        delete_link(link.b_ifname, b_end.netns)
        create_p2p_link(
            a_end.netns, link.a_ifname, b_end.netns, link.b_ifname, ifalias(project, link.rid),
            a_end.addresses, b_end.addresses, a_end.mtu,
        )  # fmt: skip
        for end in (a_end, b_end):  # what else lives on the ends: they are born as the file says
            if end.shaped:
                self._shape(end)
            self._set_sysctls(end, end.sysctls)
            if not end.up:
                from composer.kernel.net.netlink import set_interface

                set_interface(end.netns, end.ifname, up=False)

    def create_tunnel(self, project: str, link: DesiredLink, end: DesiredInterface, temp_name: str) -> None:
        from composer.kernel.net.netlink import create_vxlan_end, delete_link, underlay_mtu
        from composer.model.desired import VXLAN_OVERHEAD

        tunnel = link.tunnel
        assert tunnel is not None
        mtu = end.mtu or 1500 - VXLAN_OVERHEAD
        outer = underlay_mtu(tunnel.local)
        if outer is None:
            raise PlanError(
                f"{link.rid}: no interface of this host has the address {tunnel.local}",
                hint="run up --host on the machine the file gives that address, or fix hosts:",
            )
        if mtu + VXLAN_OVERHEAD > outer:
            raise PlanError(
                f"{link.rid}: MTU {mtu} and VXLAN overhead {VXLAN_OVERHEAD} exceed the underlay MTU {outer}",
                hint=f"give the link mtu: {outer - VXLAN_OVERHEAD} or less",
            )
        for name, netns in ((temp_name, None), (temp_name, end.netns), (end.ifname, end.netns)):
            delete_link(name, netns)  # leftovers of an interrupted run, moved or not
        create_vxlan_end(
            temp_name, tunnel.vni, tunnel.local, tunnel.remote, tunnel.port, end.netns, end.ifname,
            ifalias(project, link.rid), end.addresses, mtu,
        )  # fmt: skip
        self._shape(end)
        self._set_sysctls(end, end.sysctls)

    def create_outside_end(
        self, project: str, link: DesiredLink, end: DesiredInterface, temp_name: str
    ) -> None:
        from composer.kernel.net.netlink import (
            create_host_end,
            create_macvlan_end,
            delete_link,
            delete_marked_link,
        )

        outside = link.outside
        assert outside is not None
        alias = ifalias(project, link.rid)
        delete_link(end.ifname, end.netns)  # a leftover of an interrupted run (the netns is ours)
        if outside.macvlan:
            create_macvlan_end(outside.macvlan, outside.mode, alias, end.netns, end.ifname, end.mtu)
        else:
            delete_link(temp_name)  # a host end not yet named: composer's prefix, ours by its name
            delete_marked_link(outside.host_ifname, alias)  # one named: only while it carries our marker
            create_host_end(
                temp_name, outside.host_ifname, alias, end.netns, end.ifname, end.mtu, outside.bridge or None
            )
        if end.shaped:
            self._shape(end)
        self._set_sysctls(end, end.sysctls)
        if not end.up:
            from composer.kernel.net.netlink import set_interface

            set_interface(end.netns, end.ifname, up=False)

    def _shape(self, interface: DesiredInterface, root: Any = None) -> None:
        """Replace the root qdisc as the interface asks; ``root`` is the current one (None: default)."""
        from composer.kernel.net.tc import Shaping, apply_shaping
        from composer.model.netstate import NetemState

        shaping = Shaping(
            rate_bps=interface.rate,
            delay_ms=(interface.delay or 0.0) * 1000,
            jitter_ms=(interface.jitter or 0.0) * 1000,
            loss_percent=interface.loss or 0.0,
            more=NetemState(
                corrupt=interface.corrupt, duplicate=interface.duplicate, reorder=interface.reorder
            ),
        )
        apply_shaping(interface.netns, interface.ifname, shaping, root)

    @staticmethod
    def _set_sysctls(interface: DesiredInterface, sysctls: Sequence[tuple[str, str]]) -> None:
        from composer.kernel.net.netns import set_sysctl

        for key, value in sysctls:
            set_sysctl(interface.netns, key, value)

    def update_interface(self, interface: DesiredInterface) -> None:
        from composer.kernel.net.dump import read_netns
        from composer.model.netstate import interface_changes, shaping_changes  # the plan's own rules

        state = read_netns(interface.netns, [key for key, _ in interface.sysctls])
        if interface.ifname not in state.links or not interface_changes(interface, state):
            return
        link = state.links[interface.ifname]
        have = {
            a
            for a in state.addresses.get(interface.ifname, ())
            if not ipaddress.ip_interface(a).ip.is_link_local
        }
        want = (
            {str(ipaddress.ip_interface(a)) for a in interface.addresses}
            if interface.addresses_managed
            else have
        )
        mtu = interface.mtu if interface.mtu is not None and interface.mtu != link.mtu else None
        up = interface.up if interface.up != link.up else None
        if want == have and mtu is None and up is not None:  # a link verb's down/up: one small message
            from composer.kernel.net.linkstate import set_admin_state

            set_admin_state(interface.netns, interface.ifname, up)
        elif want != have or mtu is not None or up is not None:
            from composer.kernel.net.netlink import set_interface

            set_interface(
                interface.netns, interface.ifname, add=sorted(want - have), remove=sorted(have - want),
                mtu=mtu, up=up,
            )  # fmt: skip
        if shaping_changes(interface, link.qdisc, link.rate_bps, link.netem):
            self._shape(interface, (link.root_handle, link.qdisc) if link.root_handle else None)
        self._set_sysctls(interface, [(k, v) for k, v in interface.sysctls if state.sysctls.get(k) != v])

    def create_route(self, route: DesiredRoute) -> None:
        from composer.kernel.net.netlink import add_route

        add_route(route.netns, route.destination, route.gateway)

    def remove_route(self, record: RouteRecord) -> None:
        from composer.kernel.net.netlink import delete_route
        from composer.kernel.net.netns import is_netns_mount

        if record.netns and is_netns_mount(record.netns):
            delete_route(record.netns, record.destination, record.gateway)

    def netns_state(self, netns: str, sysctl_keys: Sequence[str]) -> NetnsState:
        from composer.kernel.net.dump import read_netns

        return read_netns(netns, sysctl_keys)

    def remove_link(self, record: LinkRecord) -> None:
        from composer.kernel.net.netlink import delete_link, delete_marked_link
        from composer.kernel.net.netns import is_netns_mount

        if not record.b_netns:  # a one-ended link: it may still be in the host under its first name
            for name in record.temp_names:
                delete_link(name)
        if record.host_ifname:  # the host end, while it is ours (a user's interface of that name stays)
            delete_marked_link(record.host_ifname, record.alias)
        for netns, ifname in ((record.a_netns, record.a_ifname), (record.b_netns, record.b_ifname)):
            if netns and ifname and is_netns_mount(netns):
                delete_link(ifname, netns)
                return  # a veth takes its peer along

    # -- firewall ----------------------------------------------------------------------
    def apply_firewall(self, project: str, desired: DesiredState) -> None:
        from composer.kernel.net.nft import BridgeNat, NatPlan, PortForward, ensure_project_table

        desired = desired.firewall_view
        bridges = tuple(
            BridgeNat(n.bridge, tuple(n.subnets), n.internal)
            for n in sorted(desired.networks.values(), key=lambda n: n.name)
            if not n.external
        )
        ports: list[PortForward] = []
        for container in sorted(desired.containers.values(), key=lambda c: c.name):
            bridge = _bridge_of(container, desired)
            for port in container.ports:
                host_ip = None if port.host_ip in ("", "0.0.0.0", "::") else port.host_ip
                protocol: Literal["tcp", "udp"] = "udp" if port.protocol == "udp" else "tcp"
                ports.append(
                    PortForward(
                        protocol,
                        port.host_port,
                        port.container_address,
                        port.container_port,
                        bridge,
                        1,
                        host_ip,
                    )
                )
        ensure_project_table(project, NatPlan(bridges, tuple(ports)))
        if self.rootless and (ports or any(not b.internal for b in bridges)):
            from composer.engine.hosts.rootless import request_ports
            from composer.model.rootless import Forward

            # The namespace's way out, and the host end of the published ports (pasta, from outside).
            forwards = [Forward(p.protocol, p.host_port, p.host_ip or "") for p in ports]
            request_ports(forwards, ipv6=any(":" in s for b in bridges for s in b.subnets))

    def remove_firewall(self, project: str) -> None:
        from composer.kernel.net.nft import delete_project_table

        delete_project_table(project)

    # -- supervisor --------------------------------------------------------------------
    def revive_supervisor(self, layout: ProjectLayout) -> bool:
        return self._supervisor(layout).revive()

    def shutdown_supervisor(self, layout: ProjectLayout) -> None:
        self._supervisor(layout).shutdown(force=True)
        for path in layout.supervisor_files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def prune_project_cgroups(self, project: str) -> None:
        self._cgroup_driver().prune_project(project)


def _has_outside_helper() -> bool:
    """Started by composer's rootless entry, whose outside process starts pasta on request."""
    from composer.kernel.userns import helper_socket

    return helper_socket() is not None


def _create_cgroup(driver: Any, config: ContainerConfig) -> Any:
    """Create the container's cgroup; retry when a parallel removal dropped the empty project level."""
    from composer.kernel.devices import policy as device_policy

    for attempt in range(5):
        try:
            return driver.create(config.project, config.name, config.cgroup, device_policy(config))
        except HostError as error:
            if error.errno != errno.ENOENT or attempt == 4:
                raise
    raise AssertionError("unreachable")


def _unrecorded_cgroup_paths(driver: Any, project: str, name: str) -> dict[str, str]:
    """Where the driver would have made the container's cgroup, for the folders that exist."""
    if getattr(driver, "version", 1) == 2:
        folder = driver.base() / project / name
        return {"unified": str(folder)} if folder.is_dir() else {}
    found: dict[str, str] = {}
    for controller in getattr(driver, "mounts", {}):
        folder = driver.base(controller) / project / name
        if folder.is_dir():
            found[controller] = str(folder)
    return found


def _bridge_of(container: DesiredContainer, desired: DesiredState) -> str:
    for attachment in container.attachments:
        network = desired.network_named(attachment.network)
        if network is not None and attachment.addresses:
            return network.bridge
    return ""


def _grace(folder: ContainerFolder) -> float:
    try:
        return folder.read_supervised().config.stop_grace_period
    except (FileNotFoundError, ValueError, KeyError):
        return 10.0


def _remove_tree(directory: Path) -> None:
    """Remove a container folder; an overlay left mounted by a crash is unmounted first."""
    try:
        shutil.rmtree(directory)
        return
    except OSError:
        pass
    from composer.kernel.mounts import detach_mounts_under

    with contextlib.suppress(HostError):  # what cannot be detached stays; rmtree then skips it
        detach_mounts_under(str(directory))
    shutil.rmtree(directory, ignore_errors=True)


if TYPE_CHECKING:  # mypy proves that the class implements the whole host interface
    _CONFORMS: Host = RealHost(Path(), Path())
