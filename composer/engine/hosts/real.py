"""The real host: :class:`~composer.engine.hosts.base.Host` on the kernel, the image store and the supervisor.

Each effect is idempotent (creating what exists, or removing what is gone, is
fine) because after a crash the next command may repeat a step it cannot know
finished.  Heavy modules (pyroute2, httpx) are imported on first use so that a
no-op ``up`` never loads them.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import shutil
import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from composer.engine.hosts.base import ExecRequest, Host
from composer.errors import ContainerError, HostError, PlanError
from composer.kernel.procfs import cgroup_processes
from composer.model.naming import ifalias
from composer.store.container import (
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
    from composer.model.build import ImageLike
    from composer.model.container import ContainerConfig
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
    from composer.store.records import ContainerRecord, LinkRecord, NetworkRecord, RouteRecord


class RealHost:
    """Host operations for projects under one state root and one image store."""

    def __init__(self, state_root: Path, image_root: Path) -> None:
        self.root = StateRoot(state_root)
        self.image_root = image_root
        self._cgroups: Any = None
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
        return live_status(ContainerFolder(layout.container(name)))

    def firewall_exists(self, project: str) -> bool:
        from composer.kernel.net.nft import table_text

        return table_text(project) is not None

    def container_processes(self, cgroup_paths: Mapping[str, str]) -> list[ProcessInfo]:
        return cgroup_processes(cgroup_paths)

    def routed_subnets(self) -> Sequence[tuple[str, str]]:
        from composer.kernel.net.routes import host_routed_networks

        return host_routed_networks()

    def interface_addresses(self) -> Mapping[str, Sequence[str]]:
        from composer.kernel.net.netlink import interface_addresses

        return interface_addresses(None)

    def ports_in_use(self, protocol: str, host_ip: str | None, ports: Sequence[int]) -> Sequence[int]:
        from composer.kernel.net.ports import ports_in_use

        return ports_in_use("udp" if protocol == "udp" else "tcp", host_ip, ports)

    def netem_available(self) -> bool:
        from composer.kernel.net.tc import netem_available

        return netem_available()

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
        from composer.images.rootfs import is_tarball, resolve_rootfs

        if not source.exists():
            raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(source))
        return resolve_rootfs(source, self.image_root) if is_tarball(source) else (str(source),)

    # -- networks ----------------------------------------------------------------------
    def preload(self, *, netlink: bool) -> None:
        """Import pyroute2 here, once, rather than in eight worker threads queueing on the import lock."""
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
        ensure_bridge(network.bridge, ifalias(project, network.rid), network.mtu, network.gateways)
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
            from composer.kernel.cgroups import detect_cgroup_driver

            self._cgroups = detect_cgroup_driver()
        return self._cgroups

    def create_sandbox(
        self,
        layout: ProjectLayout,
        container: DesiredContainer,
        networks: Mapping[str, DesiredNetwork],
        veths: Mapping[str, str],
    ) -> Mapping[str, str]:
        config = container.config
        folder = ContainerFolder(layout.container(container.name))
        folder.files.folder.mkdir(parents=True, exist_ok=True)
        for mount in config.mounts:
            if mount.kind == "volume":
                Path(mount.source).mkdir(parents=True, exist_ok=True)
        if container.owns_netns and config.netns_path:
            self._make_netns(config.netns_path)
        for attachment in container.attachments:
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

    def start_container(self, layout: ProjectLayout, container: DesiredContainer) -> int:
        return self._supervisor(layout).start(container.config.name)

    def start_existing(self, layout: ProjectLayout, name: str) -> int:
        return self._supervisor(layout).start(name)

    def stop_container(self, layout: ProjectLayout, name: str, timeout: float | None) -> None:
        folder = ContainerFolder(layout.container(name))
        status = folder.read_status()
        if not is_alive(status):
            return
        grace = timeout if timeout is not None else _grace(folder)
        supervisor = self._supervisor(layout)
        if supervisor.ping():
            with contextlib.suppress(ConnectionError, OSError):
                supervisor.stop(name, grace)
                return
        self._stop_directly(folder, status, grace)

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

    def write_hosts_file(self, path: Path, text: str) -> None:
        with contextlib.suppress(OSError), open(path, "r+") as handle:
            if handle.read() != text:
                handle.seek(0)
                handle.write(text)
                handle.truncate()

    def remove_sandbox(self, layout: ProjectLayout, name: str, record: ContainerRecord) -> None:
        supervisor = self._supervisor(layout)
        if supervisor.ping():
            with contextlib.suppress(ConnectionError, OSError):
                supervisor.forget(name)
        self._remove_cgroup(layout.name, name, record)
        sandbox = record.sandbox
        if sandbox.veths:
            from composer.kernel.net.netlink import delete_link

            for veth in sandbox.veths:
                delete_link(veth)
        if sandbox.netns and sandbox.owns_netns:
            from composer.kernel.net.netns import delete_netns

            delete_netns(sandbox.netns)
        folder = Path(record.folder) if record.folder else layout.container_dir(name)
        if folder.is_dir():
            _remove_tree(folder)

    def _remove_cgroup(self, project: str, name: str, record: ContainerRecord) -> None:
        paths: Mapping[str, str] = record.sandbox.cgroup_paths
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
            self._shape(end)
            self._set_sysctls(end, end.sysctls)
            if not end.up:
                from composer.kernel.net.netlink import set_interface

                set_interface(end.netns, end.ifname, up=False)

    def _shape(self, interface: DesiredInterface) -> None:
        if not interface.shaped:
            return
        from composer.kernel.net.tc import Shaping, apply_shaping

        shaping = Shaping(
            rate_bps=interface.rate,
            delay_ms=(interface.delay or 0.0) * 1000,
            jitter_ms=(interface.jitter or 0.0) * 1000,
            loss_percent=interface.loss or 0.0,
        )
        apply_shaping(interface.netns, interface.ifname, shaping)

    @staticmethod
    def _set_sysctls(interface: DesiredInterface, sysctls: Sequence[tuple[str, str]]) -> None:
        from composer.kernel.net.netns import set_sysctl

        for key, value in sysctls:
            set_sysctl(interface.netns, key, value)

    def update_interface(self, interface: DesiredInterface) -> None:
        from composer.kernel.net.dump import read_netns
        from composer.kernel.net.netlink import set_interface
        from composer.kernel.net.tc import clear_shaping
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
        want = {str(ipaddress.ip_interface(a)) for a in interface.addresses}
        set_interface(
            interface.netns, interface.ifname, add=sorted(want - have), remove=sorted(have - want),
            mtu=interface.mtu if interface.mtu is not None and interface.mtu != link.mtu else None,
            up=interface.up if interface.up != link.up else None,
        )  # fmt: skip
        if shaping_changes(interface, link.qdisc, link.rate_bps):
            if interface.shaped:
                self._shape(interface)
            else:
                clear_shaping(interface.netns, interface.ifname)
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
        from composer.kernel.net.netlink import delete_link
        from composer.kernel.net.netns import is_netns_mount

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
