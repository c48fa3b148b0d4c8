"""The real host: :class:`~composer.engine.applier.HostOps` on the kernel.

Each method is idempotent (creating what exists, or removing what is gone, is
fine) because after a crash the next command may repeat a step it cannot know
finished.  Heavy modules (pyroute2) are imported on first use so that a no-op
``up`` never loads them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from composer.errors import HostError, PlanError
from composer.model.desired import DesiredContainer, DesiredLink, DesiredNetwork, DesiredState
from composer.model.naming import ifalias
from composer.store.container import ContainerDir, ContainerStatus, SupervisedSpec, is_alive, live_status
from composer.store.journal import root_lock


class RealHost:
    """Host operations for projects under one state root."""

    def __init__(self, state_root: Path, cache_root: Path) -> None:
        self.state_root = state_root
        self.cache_root = cache_root
        self._cgroups: Any = None
        self._local = threading.local()
        self._bridges: dict[str, int] = {}

    # -- probes (cheap reads only) ---------------------------------------------------
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

    def container_status(self, project_dir: str, name: str) -> ContainerStatus:
        return live_status(ContainerDir(Path(project_dir) / "containers" / name))

    def firewall_exists(self, project: str) -> bool:
        from composer.kernel.net.nft import table_text

        return table_text(project) is not None

    # -- networks --------------------------------------------------------------------
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

            with _forwarding_lock(self.state_root):
                enable_forwarding(self.state_root, ipv6=any(":" in s for s in network.subnets))

    def remove_network(self, data: Mapping[str, Any]) -> None:
        if data.get("external"):
            return
        bridge = str(data.get("bridge", ""))
        if bridge:
            from composer.kernel.net.netlink import delete_link

            delete_link(bridge)
        self._release_forwarding()

    def _release_forwarding(self) -> None:
        from composer.kernel.net.forwarding import release_forwarding
        from composer.kernel.net.netlink import list_owned_links

        with _forwarding_lock(self.state_root):
            still = any(link.kind == "bridge" for link in list_owned_links(None))
            release_forwarding(self.state_root, still_needed=still)

    # -- volumes ---------------------------------------------------------------------
    def create_volume(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def remove_volume(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    # -- containers ------------------------------------------------------------------
    def _cgroup_driver(self) -> Any:
        if self._cgroups is None:
            from composer.kernel.cgroups import detect_cgroup_driver

            self._cgroups = detect_cgroup_driver()
        return self._cgroups

    def create_sandbox(
        self,
        project_dir: Path,
        container: DesiredContainer,
        networks: Mapping[str, DesiredNetwork],
        veths: Mapping[str, str],
    ) -> dict[str, Any]:
        config = container.config
        cdir = ContainerDir(Path(config.state_dir))
        cdir.path.mkdir(parents=True, exist_ok=True)
        for mount in config.mounts:
            if mount.kind == "volume":
                Path(mount.source).mkdir(parents=True, exist_ok=True)
        if container.owns_netns and config.netns_path:
            self._make_netns(config.netns_path, container)
        for attachment in container.attachments:
            self._attach(container, networks[attachment.network], attachment, veths[attachment.network])
        handle = _create_cgroup(self._cgroup_driver(), config)
        spec = SupervisedSpec(
            config=config,
            cgroup_paths=dict(handle.paths),
            restart=container.restart,
            health=container.health,
        )
        cdir.write_spec(spec)
        return {"cgroup_paths": dict(handle.paths)}

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
        self, container: DesiredContainer, network: DesiredNetwork, attachment: Any, veth: str
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

    def _make_netns(self, path: str, container: DesiredContainer) -> None:
        from composer.kernel.net.netns import create_netns, is_netns_mount

        if not is_netns_mount(path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            create_netns(path)

    def start_container(self, project_dir: Path, container: DesiredContainer) -> int:
        from composer.supervisor import client as supervisor_client

        config = container.config
        if container.routes and config.netns_path:
            from composer.kernel.net.netlink import add_route

            for to, via in container.routes:
                family_default = "::/0" if ":" in via else "0.0.0.0/0"
                add_route(config.netns_path, family_default if to == "default" else to, via)
        return supervisor_client.start(project_dir, config.name)

    def stop_container(self, project_dir: Path, name: str, timeout: float | None) -> None:
        from composer.supervisor import client as supervisor_client

        cdir = ContainerDir(project_dir / "containers" / name)
        status = cdir.read_status()
        if not is_alive(status):
            return
        grace = timeout if timeout is not None else _grace(cdir)
        if supervisor_client.is_running(project_dir):
            request = {"op": "stop", "name": name, "timeout": grace}
            with contextlib.suppress(ConnectionError, OSError):
                supervisor_client.request(project_dir, request, timeout=grace + 15.0)
                return
        self._stop_directly(cdir, status, grace)

    def _stop_directly(self, cdir: ContainerDir, status: ContainerStatus, grace: float) -> None:
        """No supervisor to ask (it died): signal, wait, then kill the whole cgroup."""
        from composer.kernel.process.stop import GraceKill

        spec = cdir.read_spec()
        handle = self._cgroup_driver().open(spec.cgroup_paths)
        GraceKill(status.pid, spec.config.stop_signal, grace, handle).stop_and_wait()  # waits on a pidfd
        status.state = "exited"
        status.stopped_by_user = True
        status.exit_code = 128 + signal.SIGKILL
        cdir.write_status(status)

    def remove_sandbox(self, project: str, data: Mapping[str, Any]) -> None:
        from composer.supervisor import client as supervisor_client

        directory = Path(str(data.get("dir", "")))
        name = directory.name
        project_dir = directory.parent.parent if name else None
        if project_dir is not None and supervisor_client.is_running(project_dir):
            with contextlib.suppress(ConnectionError, OSError):
                supervisor_client.request(project_dir, {"op": "forget", "name": name})
        self._remove_cgroup(project, name, data)
        if data.get("veths"):
            from composer.kernel.net.netlink import delete_link

            for veth in data["veths"]:
                delete_link(str(veth))
        netns = data.get("netns")
        if netns and data.get("owns_netns"):
            from composer.kernel.net.netns import delete_netns

            delete_netns(str(netns))
        if name and directory.is_dir():
            _remove_tree(directory)

    def _remove_cgroup(self, project: str, name: str, data: Mapping[str, Any]) -> None:
        paths = data.get("cgroup_paths")
        driver = self._cgroup_driver()
        if not paths and name:
            # Killed between making the cgroup and recording it: it sits beneath our own cgroup.
            paths = _unrecorded_cgroup_paths(driver, project, name)
        if not paths:
            return
        handle = driver.open(paths)
        handle.kill_all(signal.SIGKILL)
        handle.remove()  # also drops composer/<project> and composer once empty

    # -- links -----------------------------------------------------------------------
    def create_link(self, project: str, link: DesiredLink, a_netns: str, b_netns: str) -> None:
        from composer.kernel.net.netlink import create_p2p_link, delete_link

        delete_link(link.a_ifname, a_netns)  # a leftover of an interrupted run
        delete_link(link.b_ifname, b_netns)
        create_p2p_link(
            a_netns, link.a_ifname, b_netns, link.b_ifname, ifalias(project, link.rid),
            link.a_addresses, link.b_addresses, link.mtu,
        )  # fmt: skip
        if link.rate is not None or link.needs_netem:
            from composer.kernel.net.tc import Shaping, apply_shaping

            shaping = Shaping(
                rate_bps=link.rate,
                delay_ms=(link.delay or 0.0) * 1000,
                jitter_ms=(link.jitter or 0.0) * 1000,
                loss_percent=link.loss or 0.0,
            )
            apply_shaping(a_netns, link.a_ifname, shaping)
            apply_shaping(b_netns, link.b_ifname, shaping)

    def remove_link(self, data: Mapping[str, Any]) -> None:
        from composer.kernel.net.netlink import delete_link
        from composer.kernel.net.netns import is_netns_mount

        for side in ("a", "b"):
            netns = data.get(f"{side}_netns")
            ifname = data.get(f"{side}_ifname")
            if netns and ifname and is_netns_mount(str(netns)):
                delete_link(str(ifname), str(netns))
                return  # a veth takes its peer along

    # -- firewall --------------------------------------------------------------------
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
                ports.append(
                    PortForward(
                        "udp" if port.protocol == "udp" else "tcp",
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


def _forwarding_lock(state_root: Path) -> contextlib.AbstractContextManager[None]:
    """The forwarding record is shared by all projects (and by this command's threads)."""
    return root_lock(state_root / "forwarding.lock", "the forwarding record")


def _create_cgroup(driver: Any, config: Any) -> Any:
    """Create the container's cgroup; retry when a parallel removal dropped the empty project level."""
    for attempt in range(5):
        try:
            return driver.create(config.project, config.name, config.cgroup)
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
        network = desired.networks.get(f"network:{attachment.network}")
        if network is not None and attachment.addresses:
            return network.bridge
    return ""


def _grace(cdir: ContainerDir) -> float:
    try:
        return cdir.read_spec().config.stop_grace_period
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
