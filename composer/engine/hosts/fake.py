"""A fake host: an in-memory machine that records every call and can fail at call N.

It keeps a picture of the kernel objects (bridges, namespaces, sandboxes,
processes, links, firewall tables) and of the machine's facts (routes, bridge
addresses, listening ports, images, netem) so that ``observe()`` sees what a
previous, interrupted run left behind, exactly as it would on the real host.
Its facts are its own: the tests that use it behave the same on any machine,
whatever routes or ports that machine has.  Used by the golden-plan and
fault-injection tests: fail at step N, then check that the next ``up``
converges and that ``down`` leaves nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.engine.hosts.base import CopyRequest, ExecRequest, Host
from composer.errors import HostError, ImageError
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
from composer.model.netstate import LinkState, NetemState, NetnsState, RouteState
from composer.model.rootless import FULL_SUPPORT, LimitSupport
from composer.store.container import ContainerStatus
from composer.store.layout import ProjectLayout
from composer.store.records import ContainerRecord, LinkRecord, NetworkRecord, RouteRecord


class InjectedFault(HostError):
    """The failure a FakeHost raises at the chosen call."""


@dataclass
class FakeInterface:
    addresses: set[str] = field(default_factory=set)
    mtu: int = 1500
    up: bool = True
    qdisc: str = "noqueue"
    rate: int | None = None
    sysctls: dict[str, str] = field(default_factory=dict)
    netem: NetemState | None = None

    @classmethod
    def of(cls, interface: DesiredInterface) -> FakeInterface:
        qdisc = "netem" if interface.needs_netem else "tbf" if interface.rate is not None else "noqueue"
        netem = NetemState.of(interface) if interface.needs_netem else None
        return cls(set(interface.addresses), interface.mtu or 1500, interface.up, qdisc, interface.rate,
                   dict(interface.sysctls), netem)  # fmt: skip


@dataclass
class FakeNetns:
    """A network namespace: its interfaces and its routes as (destination, gateway, device)."""

    interfaces: dict[str, FakeInterface] = field(default_factory=dict)
    routes: set[tuple[str, str, str]] = field(default_factory=set)

    def state(self, sysctl_keys: Sequence[str]) -> NetnsState:
        links = {"lo": LinkState("lo", 1, 65536, True)}
        for index, (name, i) in enumerate(sorted(self.interfaces.items()), start=2):
            links[name] = LinkState(name, index, i.mtu, i.up, i.qdisc, i.rate, i.netem)
        sysctls = {k: v for i in self.interfaces.values() for k, v in i.sysctls.items() if k in sysctl_keys}
        routes = tuple(RouteState(d, g, dev) for d, g, dev in sorted(self.routes))
        addresses = {name: tuple(sorted(i.addresses)) for name, i in self.interfaces.items()}
        return NetnsState(links, addresses, routes, sysctls)


@dataclass(frozen=True)
class FakeImage:
    image_id: str
    layer_dirs: tuple[Path, ...]
    config: Any = None


@dataclass
class FakeHost:
    fail_at: int | None = None  # 1-based number of the mutating call that fails
    calls: list[str] = field(default_factory=list)
    # kernel objects
    bridges: set[str] = field(default_factory=set)
    netns: set[str] = field(default_factory=set)
    sandboxes: dict[str, dict[str, Any]] = field(default_factory=dict)  # container name -> facts
    processes: dict[str, int] = field(default_factory=dict)  # container name -> pid
    links: set[str] = field(default_factory=set)
    firewalls: set[str] = field(default_factory=set)
    volumes: set[str] = field(default_factory=set)
    hosts_files: dict[str, str] = field(default_factory=dict)
    supervisors: set[str] = field(default_factory=set)  # project folders with a running supervisor
    namespaces: dict[str, FakeNetns] = field(default_factory=dict)  # netns path -> what it holds
    host_interfaces: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, alias)
    # behaviour and machine facts
    healthy: bool = True
    exited: dict[str, int] = field(default_factory=dict)  # container name -> exit code (one-shots)
    routes: list[tuple[str, str]] = field(default_factory=list)  # (interface, network)
    addresses: dict[str, list[str]] = field(default_factory=dict)  # interface -> CIDRs
    listening: set[tuple[str, int]] = field(default_factory=set)  # (protocol, port)
    has_netem: bool = True
    limits: LimitSupport = FULL_SUPPORT
    cgroups: int = 1  # the cgroup version the fake machine reports
    rootless: bool = False
    images: dict[str, FakeImage] = field(default_factory=dict)  # reference -> image
    pins: set[tuple[str, str]] = field(default_factory=set)  # (project, image id)
    exec_exit_code: int = 0
    paused: set[str] = field(default_factory=set)  # container names frozen by pause
    samples: dict[str, list[Sample]] = field(default_factory=dict)  # name -> what stats reads, in turn
    file_batches: list[list[str]] = field(default_factory=list)  # what watch_files reports, in turn
    exec_output: tuple[str, str] = ("", "")
    http_answer: int = 200
    stdin_given: dict[str, int] = field(default_factory=dict)  # container -> fd, from give_stdin
    _next_pid: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- bookkeeping -------------------------------------------------------------------
    def _step(self, call: str) -> None:
        with self._lock:
            self.calls.append(call)
            if self.fail_at is not None and len(self.calls) == self.fail_at:
                raise InjectedFault(f"injected failure at call {len(self.calls)}: {call}")

    def leftovers(self) -> list[str]:
        """Every object still on the fake host."""
        return sorted(
            [f"bridge {b}" for b in self.bridges]
            + [f"netns {n}" for n in self.netns]
            + [f"sandbox {s}" for s in self.sandboxes]
            + [f"process {p}" for p in self.processes]
            + [f"link {link}" for link in self.links]
            + [f"firewall {f}" for f in self.firewalls]
            + [f"supervisor {s}" for s in self.supervisors]
            + [f"host interface {n}" for n, (_kind, alias) in self.host_interfaces.items() if alias]
        )

    # -- facts ---------------------------------------------------------------------------
    def interface_exists(self, name: str) -> bool:
        return name in self.bridges or name in self.addresses

    def netns_exists(self, path: str) -> bool:
        return path in self.netns

    def container_status(self, layout: ProjectLayout, name: str) -> ContainerStatus:
        pid = self.processes.get(name)
        if name in self.exited:
            return ContainerStatus(name=name, state="exited", exit_code=self.exited[name])
        if pid is None:
            return ContainerStatus(name=name, state="exited" if name in self.sandboxes else "created")
        if name in self.paused:
            return ContainerStatus(name=name, state="paused", pid=pid)
        return ContainerStatus(
            name=name, state="running", pid=pid, health="healthy" if self.healthy else "starting"
        )

    def firewall_exists(self, project: str) -> bool:
        return project in self.firewalls

    def container_processes(self, cgroup_paths: Mapping[str, str]) -> list[ProcessInfo]:
        names = [name for name, pid in self.processes.items() if f"/fake/{name}" in cgroup_paths.values()]
        return [ProcessInfo("root", self.processes[n], 0, "00:00:00", n) for n in names]

    def container_sample(self, layout: ProjectLayout, name: str) -> Sample:
        queue = self.samples.get(name)
        if not queue:
            return Sample(memory_limit=8 << 30)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def routed_subnets(self) -> Sequence[tuple[str, str]]:
        return list(self.routes)

    def interface_addresses(self) -> Mapping[str, Sequence[str]]:
        return dict(self.addresses)

    def ports_in_use(self, protocol: str, host_ip: str | None, ports: Sequence[int]) -> Sequence[int]:
        return [port for port in ports if (protocol, port) in self.listening]

    def netem_available(self) -> bool:
        return self.has_netem

    def is_rootless(self) -> bool:
        return self.rootless

    def limit_support(self) -> LimitSupport:
        return self.limits

    def cgroup_version(self) -> int:
        return self.cgroups

    def host_interface(self, name: str) -> tuple[str, str] | None:
        if name in self.bridges:
            return ("bridge", "")
        return self.host_interfaces.get(name)

    def project_leftovers(self, project: str, *, interfaces: bool) -> list[str]:
        found = [f"nftables table of project {project}"] if project in self.firewalls else []
        return found

    # -- images --------------------------------------------------------------------------
    def ensure_image(self, reference: str, policy: str) -> ImageLike:
        image = self.images.get(reference)
        if image is None:
            raise ImageError(f"fake: no image {reference}")
        return image

    def lookup_image(self, reference: str) -> ImageLike | None:
        return self.images.get(reference)

    def pin_image(self, project: str, image_id: str) -> None:
        self.pins.add((project, image_id))

    def unpin_images(self, project: str) -> None:
        self.pins = {pin for pin in self.pins if pin[0] != project}

    def rootfs_layers(self, source: Path) -> tuple[str, ...]:
        if not source.exists():
            raise FileNotFoundError(str(source))
        return (str(source),)

    # -- networks and volumes ----------------------------------------------------------
    def preload(self, *, netlink: bool) -> None:
        """Nothing to load."""

    def create_network(self, project: str, network: DesiredNetwork) -> None:
        self._step(f"create_network {network.name}")
        if not network.external:
            self.bridges.add(network.bridge)

    def remove_network(self, record: NetworkRecord) -> None:
        self._step(f"remove_network {record.bridge}")
        if not record.external:
            self.bridges.discard(record.bridge)

    def create_volume(self, path: Path) -> None:
        self._step(f"create_volume {path.name}")
        self.volumes.add(str(path))

    def remove_volume(self, path: Path) -> None:
        self._step(f"remove_volume {path.name}")
        self.volumes.discard(str(path))

    # -- containers ----------------------------------------------------------------------
    def create_sandbox(
        self,
        layout: ProjectLayout,
        container: DesiredContainer,
        networks: Mapping[str, DesiredNetwork],
        veths: Mapping[str, str],
        *,
        keep_network: bool = False,
    ) -> Mapping[str, str]:
        self._step(f"create_sandbox {container.name}" + (" (network kept)" if keep_network else ""))
        netns = container.config.netns_path
        if container.owns_netns and netns and not keep_network:
            self.netns.add(netns)
            space = self.namespaces.setdefault(netns, FakeNetns())
            for attachment in container.attachments:
                prefixes = (f"net.ipv4.conf.{attachment.ifname}.", f"net.ipv6.conf.{attachment.ifname}.")
                sysctls = {k: v for k, v in container.config.sysctls if k.startswith(prefixes)}
                mtu = networks[attachment.network].mtu or 1500
                space.interfaces[attachment.ifname] = FakeInterface(
                    set(attachment.addresses), mtu, sysctls=sysctls
                )
                for gateway in (attachment.gateway4, attachment.gateway6):
                    if gateway:
                        space.routes.add(
                            ("::/0" if ":" in gateway else "0.0.0.0/0", gateway, attachment.ifname)
                        )
        self.sandboxes[container.name] = {"veths": sorted(veths.values())}
        return {"memory": f"/fake/{container.name}"}

    def remove_sandbox(
        self, layout: ProjectLayout, name: str, record: ContainerRecord, *, keep_network: bool = False
    ) -> None:
        self._step(f"remove_sandbox {name}" + (" (network kept)" if keep_network else ""))
        self.paused.discard(name)
        self.processes.pop(name, None)
        self.exited.pop(name, None)
        self.sandboxes.pop(name, None)
        netns = record.sandbox.netns
        if record.sandbox.owns_netns and netns and not keep_network:
            self.netns.discard(netns)
            self.namespaces.pop(netns, None)
            self.links = {link for link in self.links if netns not in link}

    def give_stdin(self, name: str, fd: int, *, terminal: tuple[int, int] | None = None) -> None:
        self.stdin_given[name] = fd

    def take_terminal(self, name: str) -> int:
        return -1  # the fake makes no terminals

    def start_container(self, layout: ProjectLayout, container: DesiredContainer) -> int:
        self._step(f"start_container {container.name}")
        if container.name not in self.sandboxes:
            raise HostError(f"fake: container {container.name} has no sandbox")
        self.supervisors.add(str(layout.dir))
        with self._lock:
            self._next_pid += 1
            if container.config.argv in (("true",), ("false",)):  # a one-shot: it has run and exited
                self.exited[container.name] = 0 if container.config.argv == ("true",) else 1
                return self._next_pid
            self.exited.pop(container.name, None)
            self.processes[container.name] = self._next_pid
            return self._next_pid

    def start_existing(self, layout: ProjectLayout, name: str) -> int:
        self._step(f"start_existing {name}")
        if name not in self.sandboxes:
            raise HostError(f"fake: container {name} has no sandbox")
        with self._lock:
            self._next_pid += 1
            self.exited.pop(name, None)
            self.processes[name] = self._next_pid
            return self._next_pid

    def stop_container(self, layout: ProjectLayout, name: str, timeout: float | None) -> None:
        if name not in self.processes:
            return
        self._step(f"stop_container {name}")
        self.paused.discard(name)  # thawed first, as the real host does
        self.processes.pop(name, None)

    def pause_container(self, layout: ProjectLayout, name: str) -> None:
        self._step(f"pause_container {name}")
        if name not in self.processes:
            raise HostError(f"fake: container {name} is not running")
        self.paused.add(name)

    def unpause_container(self, layout: ProjectLayout, name: str) -> None:
        self._step(f"unpause_container {name}")
        self.paused.discard(name)

    def copy_from_container(self, layout: ProjectLayout, name: str, request: CopyRequest) -> None:
        self._step(f"copy_from_container {name}:{request.container_path} {request.host_path}")
        if name not in self.processes:
            raise HostError(f"fake: container {name} is not running")

    def copy_to_container(self, layout: ProjectLayout, name: str, request: CopyRequest) -> None:
        self._step(f"copy_to_container {request.host_path} {name}:{request.container_path}")
        if name not in self.processes:
            raise HostError(f"fake: container {name} is not running")

    def watch_files(
        self, paths: Sequence[str], *, debounce: float, stop: Callable[[], bool]
    ) -> Iterator[list[str]]:
        while self.file_batches and not stop():
            yield self.file_batches.pop(0)

    def kill_container(self, layout: ProjectLayout, name: str, signal: int) -> None:
        self._step(f"kill_container {name} {signal}")
        self.processes.pop(name, None)

    def exec_in_container(self, layout: ProjectLayout, name: str, request: ExecRequest) -> int:
        self._step(f"exec_in_container {name} {' '.join(request.argv)}")
        if name not in self.processes:
            raise HostError(f"fake: container {name} is not running")
        return self.exec_exit_code

    def exec_captured(self, layout: ProjectLayout, name: str, request: ExecRequest) -> tuple[int, str, str]:
        return self.exec_in_container(layout, name, request), *self.exec_output

    def http_status(self, netns: str, address: str, port: int, path: str, timeout: float) -> int | None:
        return self.http_answer if self.reach(netns, address, port, timeout) is not None else None

    def throughput(self, source: str, target: str, address: str, size: int, timeout: float) -> float | None:
        """The rate of the source's interface toward ``target`` when shaped, else 10 Gbit/s."""
        if self.reach(source, address, None, timeout) is None:
            return None
        rates = [i.rate for i in self.namespaces[source].interfaces.values() if i.rate]
        return float(min(rates)) if rates else 10e9

    def reach(
        self, netns: str, address: str, port: int | None, timeout: float, protocol: str = "tcp"
    ) -> float | None:
        """Reached when an up interface of another namespace holds the address and the source has one up.

        No routing is modelled: enough for the runner's logic, the kernel tests do the rest.
        """
        source = self.namespaces.get(netns)
        if source is None or not any(i.up for i in source.interfaces.values()):
            return None
        for path, space in self.namespaces.items():
            for interface in space.interfaces.values():
                if (
                    path != netns
                    and interface.up
                    and any(a.split("/")[0] == address for a in interface.addresses)
                ):
                    return 0.001
        return None

    def write_hosts_file(self, path: Path, text: str) -> None:
        self.hosts_files[str(path)] = text

    # -- links and firewall --------------------------------------------------------------
    def create_link(
        self, project: str, link: DesiredLink, a_end: DesiredInterface, b_end: DesiredInterface
    ) -> None:
        self._step(f"create_link {link.rid}")
        self.links.add(f"{a_end.netns}|{b_end.netns}|{link.rid}")
        for end in (a_end, b_end):
            self.namespaces.setdefault(end.netns, FakeNetns()).interfaces[end.ifname] = FakeInterface.of(end)

    def create_tunnel(self, project: str, link: DesiredLink, end: DesiredInterface, temp_name: str) -> None:
        self._step(f"create_tunnel {link.rid}")
        self.links.add(f"{end.netns}||{link.rid}")
        self.namespaces.setdefault(end.netns, FakeNetns()).interfaces[end.ifname] = FakeInterface.of(end)

    def create_outside_end(
        self, project: str, link: DesiredLink, end: DesiredInterface, temp_name: str
    ) -> None:
        from composer.model.naming import ifalias

        assert link.outside is not None
        self._step(f"create_outside_end {link.rid}")
        self.links.add(f"{end.netns}||{link.rid}")
        self.namespaces.setdefault(end.netns, FakeNetns()).interfaces[end.ifname] = FakeInterface.of(end)
        if link.outside.host_ifname:
            self.host_interfaces[link.outside.host_ifname] = ("veth", ifalias(project, link.rid))

    def remove_link(self, record: LinkRecord) -> None:
        self._step("remove_link")
        if record.host_ifname and self.host_interfaces.get(record.host_ifname, ("", ""))[1] == record.alias:
            del self.host_interfaces[record.host_ifname]  # only while it carries our marker
        prefix = f"{record.a_netns}|{record.b_netns}|"
        self.links = {link for link in self.links if not link.startswith(prefix)}
        for netns, ifname in ((record.a_netns, record.a_ifname), (record.b_netns, record.b_ifname)):
            self.drop_interface(netns, ifname)

    def drop_interface(self, netns: str, ifname: str) -> None:
        """The interface goes, and with it the routes through it (as the kernel does)."""
        space = self.namespaces.get(netns)
        if space is not None:
            space.interfaces.pop(ifname, None)
            space.routes = {r for r in space.routes if r[2] != ifname}

    def update_interface(self, interface: DesiredInterface) -> None:
        self._step(f"update_interface {interface.rid}")
        space = self.namespaces[interface.netns]
        old = space.interfaces.get(interface.ifname)
        space.interfaces[interface.ifname] = FakeInterface.of(interface)
        if old is not None and not interface.addresses_managed:  # the node's own addresses stay
            space.interfaces[interface.ifname].addresses = old.addresses
        if not interface.up:  # as the kernel does, the routes through a downed interface go with it
            space.routes = {r for r in space.routes if r[2] != interface.ifname}

    def create_route(self, route: DesiredRoute) -> None:
        self._step(f"create_route {route.rid}")
        space = self.namespaces.setdefault(route.netns, FakeNetns())
        space.routes = {r for r in space.routes if r[0] != route.destination}  # replace
        space.routes.add((route.destination, route.gateway, route.device))

    def remove_route(self, record: RouteRecord) -> None:
        self._step(f"remove_route {record.destination}")
        space = self.namespaces.get(record.netns)
        if space is not None:
            space.routes.discard((record.destination, record.gateway, record.device))

    def netns_state(self, netns: str, sysctl_keys: Sequence[str]) -> NetnsState:
        return self.namespaces.get(netns, FakeNetns()).state(sysctl_keys)

    def apply_firewall(self, project: str, desired: DesiredState) -> None:
        self._step(f"apply_firewall {project}")
        self.firewalls.add(project)

    def remove_firewall(self, project: str) -> None:
        self._step(f"remove_firewall {project}")
        self.firewalls.discard(project)

    # -- supervisor ----------------------------------------------------------------------
    def revive_supervisor(self, layout: ProjectLayout) -> bool:
        if str(layout.dir) in self.supervisors or not any(name in self.processes for name in self.sandboxes):
            return False
        self.supervisors.add(str(layout.dir))
        return True

    def shutdown_supervisor(self, layout: ProjectLayout) -> None:
        self.supervisors.discard(str(layout.dir))

    def prune_project_cgroups(self, project: str) -> None:
        return None  # the fake's cgroups are its sandboxes, which remove_sandbox drops


if TYPE_CHECKING:  # mypy proves that the class implements the whole host interface
    _CONFORMS: Host = FakeHost()
