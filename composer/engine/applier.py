"""Turns each action of a plan into host operations, recording intent and outcome.

For every object it makes, the applier first appends an *intent* to the
project's journal (the resource's typed record, naming the objects: bridge,
veths, netns path, folder), then asks the host to make them, then appends
*created*.  Removal is the mirror image.  The host is the
:class:`~composer.engine.hosts.base.Host` interface, so the same applier runs
against the real kernel or the fake that records calls and injects failures.

Dispatch is two exhaustive ``match`` statements, on the verb and then on the
resource kind: mypy proves that every verb and kind is handled.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, assert_never

from composer.engine.hosts.base import Host
from composer.engine.observe import ObservedState
from composer.engine.plan import Action, Verb
from composer.engine.reconcile import firewall_hash
from composer.engine.wait import SupervisorWatch
from composer.errors import ContainerError, PlanError
from composer.events import Event, EventSink, Status
from composer.model.desired import DesiredContainer, DesiredLink, DesiredRoute, DesiredState
from composer.model.ids import ResourceId, container_id
from composer.model.naming import ifalias, veth_host_name
from composer.store.journal import ProjectStore
from composer.store.records import (
    ContainerRecord,
    FirewallRecord,
    LinkRecord,
    NetworkRecord,
    PortRecord,
    Record,
    RouteRecord,
    SandboxRecord,
    VolumeRecord,
)


class Applier:
    """The executor's action handler for one project."""

    def __init__(
        self,
        store: ProjectStore,
        host: Host,
        desired: DesiredState,
        observed: ObservedState,
        events: EventSink,
        *,
        stop_timeout: float | None = None,
        wait_timeout: float = 300.0,
    ) -> None:
        self.store = store
        self.layout = store.layout
        self.host = host
        self.desired = desired
        self.observed = observed
        self.events = events
        self.stop_timeout = stop_timeout
        self.wait_timeout = wait_timeout
        self._lock = threading.Lock()  # the journal is appended from several worker threads

    def __call__(self, action: Action) -> None:
        match action.verb:
            case Verb.CREATE:
                self._create(action)
            case Verb.REMOVE:
                self._remove(action)
            case Verb.APPLY:
                self._apply_firewall(action)
            case Verb.UPDATE:
                self._update_interface(action)
            case Verb.START:
                self._start_container(action.rid)
            case Verb.STOP:
                self._stop_container(action.rid)
            case Verb.RESTART:
                self._restart_container(action)
            case Verb.RECREATE:
                self._recreate_container(action)
            case Verb.WAIT_HEALTHY:
                self._wait_healthy(action.rid)
            case Verb.WAIT_COMPLETED:
                self._wait_completed(action.rid)
            case _:
                assert_never(action.verb)

    def _create(self, action: Action) -> None:
        match action.rid.kind:
            case "network":
                self._create_network(action.rid)
            case "volume":
                self._create_volume(action.rid)
            case "container":
                self._create_container(action.rid)
            case "link":
                self._create_link(action.rid)
            case "route":
                self._create_route(action.rid)
            case "firewall" | "interface":
                raise PlanError(f"{action.rid} is applied or updated, never created")
            case kind:
                assert_never(kind)

    def _remove(self, action: Action) -> None:
        rid = action.rid
        self._event(rid, "Removing")
        record = self._begin_removal(rid)
        if record is not None:
            self._remove_record(rid, record)
        self._removed(rid)
        self._event(rid, "Removed")

    def _remove_record(self, rid: ResourceId, record: Record) -> None:
        match record:
            case NetworkRecord():
                self.host.remove_network(record)
            case VolumeRecord():
                if record.path:
                    self.host.remove_volume(Path(record.path))
            case ContainerRecord():
                self.host.stop_container(self.layout, rid.name, 0.0)  # idempotent: a leftover goes too
                self.host.remove_sandbox(self.layout, rid.name, record)
                self._forget_routes_of(rid.name)  # they went with its network namespace
            case LinkRecord():
                self.host.remove_link(record)
            case FirewallRecord():
                self.host.remove_firewall(self.desired.project)
            case RouteRecord():
                self.host.remove_route(record)
            case _:
                assert_never(record)

    # -- journal helpers -----------------------------------------------------------
    def _intend(self, rid: ResourceId, record: Record, config_hash: str = "") -> None:
        with self._lock:
            self.store.intend(rid, record, config_hash)

    def _confirm(self, rid: ResourceId, record: Record | None = None) -> None:
        with self._lock:
            self.store.confirm(rid, record)

    def _begin_removal(self, rid: ResourceId) -> Record | None:
        with self._lock:
            stored = self.store.get(rid)
            self.store.begin_removal(rid)
            return stored.record if stored is not None else None

    def _removed(self, rid: ResourceId) -> None:
        with self._lock:
            self.store.removed(rid)

    def _event(self, rid: ResourceId, status: Status, text: str = "") -> None:
        self.events(Event(rid, status, text))

    # -- networks and volumes ------------------------------------------------------
    def _create_network(self, rid: ResourceId) -> None:
        network = self.desired.networks[rid]
        self._event(rid, "Creating")
        record = NetworkRecord(network.bridge, network.external, tuple(network.subnets), network.addressing)
        self._intend(rid, record, network.config_hash)
        self.host.create_network(self.desired.project, network)
        self._confirm(rid)
        self._event(rid, "Created")

    def _create_volume(self, rid: ResourceId) -> None:
        volume = self.desired.volumes[rid]
        self._intend(rid, VolumeRecord(str(volume.path)))
        self.host.create_volume(volume.path)
        self._confirm(rid)
        self._event(rid, "Created")

    # -- containers ------------------------------------------------------------------
    def _create_container(self, rid: ResourceId) -> None:
        container = self.desired.containers[rid]
        self._event(rid, "Creating")
        veths = {
            a.network: veth_host_name(self.desired.project, container.rid, a.network)
            for a in container.attachments
        }
        record = _container_record(container, tuple(sorted(veths.values())))
        self._intend(rid, record, container.config_hash)
        networks = {n.name: n for n in self.desired.networks.values()}
        cgroups = self.host.create_sandbox(self.layout, container, networks, veths)
        self._confirm(rid, record.with_cgroups(cgroups))
        for interface in self.desired.interfaces.values():  # an impaired attachment is born impaired
            if interface.carrier == rid and interface.shaped:
                self.host.update_interface(interface)
        for route in self.desired.routes_of(container.name):
            if route.made_by_carrier and route.carrier == rid:  # the attachment installed it
                self._intend(route.rid, _route_record(route), route.config_hash)
                self._confirm(route.rid)
        self._event(rid, "Created")

    def _recreate_container(self, action: Action) -> None:
        """Stop, remove and create the container again inside the network namespace it has."""
        rid = action.rid
        container = self.desired.containers[rid]
        self._event(rid, "Recreate", action.cause)
        self.host.stop_container(self.layout, container.name, self.stop_timeout)
        stored = self.store.get(rid)
        if stored is not None:
            self.host.remove_sandbox(self.layout, container.name, stored.record, keep_network=True)
        veths = {
            a.network: veth_host_name(self.desired.project, container.rid, a.network)
            for a in container.attachments
        }
        record = _container_record(container, tuple(sorted(veths.values())))
        # A crash from here on leaves the record half-made: the next up makes it afresh, netns and all.
        self._intend(rid, record, container.config_hash)
        networks = {n.name: n for n in self.desired.networks.values()}
        cgroups = self.host.create_sandbox(self.layout, container, networks, veths, keep_network=True)
        self._confirm(rid, record.with_cgroups(cgroups))
        self._event(rid, "Created", "network kept")

    def _forget_routes_of(self, container: str) -> None:
        with self._lock:
            for route in [r for r, s in self.store.routes().items() if s.record.container == container]:
                self.store.removed(route)

    def _start_container(self, rid: ResourceId) -> None:
        self._event(rid, "Starting")
        pid = self.host.start_container(self.layout, self.desired.containers[rid])
        self._event(rid, "Started", f"pid {pid}")

    def _restart_container(self, action: Action) -> None:
        container = self.desired.containers[action.rid]
        self._event(action.rid, "Restarting", action.cause)
        self.host.stop_container(self.layout, container.name, self.stop_timeout)
        self.host.start_container(self.layout, container)
        self._event(action.rid, "Started")

    def _stop_container(self, rid: ResourceId) -> None:
        self._event(rid, "Stopping")
        self.host.stop_container(self.layout, rid.name, self.stop_timeout)
        self._event(rid, "Stopped")

    def _wait_healthy(self, rid: ResourceId) -> None:
        name = rid.name
        self._event(rid, "Waiting")
        deadline = time.monotonic() + self.wait_timeout
        watch = SupervisorWatch(self.host, self.layout)
        while True:
            watch.check()
            status = self.host.container_status(self.layout, name)
            if status.health == "healthy":
                self._event(rid, "Healthy")
                return
            if status.health == "unhealthy":
                raise ContainerError(f"container {name} is unhealthy", hint=_last_health(status.health_log))
            if status.state == "exited":
                raise ContainerError(f"container {name} exited ({status.exit_code}) before it became healthy")
            if status.state in ("running", "restarting") and not status.health:
                raise ContainerError(
                    f"container {name} has no healthcheck to wait for",
                    hint="add a healthcheck, or use condition: service_started",
                )
            if time.monotonic() > deadline:
                raise ContainerError(f"container {name} did not become healthy in {self.wait_timeout:.0f}s")
            time.sleep(0.05)

    def _wait_completed(self, rid: ResourceId) -> None:
        name = rid.name
        self._event(rid, "Waiting")
        deadline = time.monotonic() + self.wait_timeout
        watch = SupervisorWatch(self.host, self.layout)
        while True:
            watch.check()
            status = self.host.container_status(self.layout, name)
            if status.state == "exited" and status.exit_code is None:
                pass  # the process is gone but the supervisor has not recorded its exit status yet
            elif status.state == "exited" and status.exit_code == 0:
                self._event(rid, "Exited", "completed successfully")
                return
            elif status.state == "exited":
                container = self.desired.containers.get(rid)
                raise ContainerError(
                    f"container {name} exited with code {status.exit_code}; "
                    "its dependents need it to complete successfully",
                    hint=f"see composer logs {container.service}" if container else None,
                )
            if time.monotonic() > deadline:
                raise ContainerError(f"container {name} did not complete in {self.wait_timeout:.0f}s")
            time.sleep(0.05)

    # -- links -----------------------------------------------------------------------
    def _create_link(self, rid: ResourceId) -> None:
        link = self.desired.links[rid]
        if link.tunnel is not None:
            self._create_tunnel(link)
            return
        if link.outside is not None:
            self._create_outside_end(link)
            return
        a = self.desired.containers[container_id(link.a_container)]
        b = self.desired.containers[container_id(link.b_container)]
        a_netns, b_netns = a.config.netns_path, b.config.netns_path
        if not a_netns or not b_netns:
            raise ContainerError(
                f"{rid}: both ends need their own network namespace",
                hint="links cannot attach to network_mode: host containers",
            )
        temp_names = tuple(veth_host_name(self.desired.project, link.rid, end) for end in ("a", "b"))
        record = LinkRecord(temp_names, a_netns, b_netns, link.a_ifname, link.b_ifname)
        self._intend(rid, record, link.config_hash)
        a_end, b_end = (self.desired.interfaces[end] for end in link.interfaces)
        self.host.create_link(self.desired.project, link, a_end, b_end)
        self._confirm(rid)
        self._event(rid, "Created")

    def _own_netns_end(self, link: DesiredLink) -> str:
        """The network namespace of the link's one end in the project, which needs one of its own."""
        netns = self.desired.containers[container_id(link.a_container)].config.netns_path
        if not netns:
            raise ContainerError(
                f"{link.rid}: the end {link.a_container} needs its own network namespace",
                hint="links cannot attach to network_mode: host containers",
            )
        return netns

    def _create_tunnel(self, link: DesiredLink) -> None:
        """The local end of a link to another host: a VXLAN device moved into the container."""
        assert link.tunnel is not None
        netns = self._own_netns_end(link)
        temp = veth_host_name(self.desired.project, link.rid, "x")
        record = LinkRecord((temp,), netns, "", link.a_ifname, "")
        self._intend(link.rid, record, link.config_hash)
        self.host.create_tunnel(self.desired.project, link, self.desired.interfaces[link.interfaces[0]], temp)
        self._confirm(link.rid)
        self._event(link.rid, "Created", f"vxlan {link.tunnel.vni} to {link.tunnel.remote}")

    def _create_outside_end(self, link: DesiredLink) -> None:
        """A veth pair to the host's namespace (a port of an existing bridge, maybe), or a macvlan.

        The record names the host end and composer's marker before it exists, so
        that down, or a repairing up, removes it after a crash, and only while it
        carries the marker.
        """
        assert link.outside is not None
        netns = self._own_netns_end(link)
        temp = veth_host_name(self.desired.project, link.rid, "h")
        host_ifname = link.outside.host_ifname
        record = LinkRecord(
            (temp,) if host_ifname else (), netns, "", link.a_ifname, "",
            host_ifname=host_ifname, alias=ifalias(self.desired.project, link.rid) if host_ifname else "",
        )  # fmt: skip
        self._intend(link.rid, record, link.config_hash)
        end = self.desired.interfaces[link.interfaces[0]]
        self.host.create_outside_end(self.desired.project, link, end, temp)
        self._confirm(link.rid)
        self._event(link.rid, "Created", link.outside.describe())

    # -- interfaces and routes -----------------------------------------------------------
    def _update_interface(self, action: Action) -> None:
        """An interface, or both ends of a link (each end changes only what differs on it)."""
        self._event(action.rid, "Updating", action.cause)
        if action.rid.kind == "link":
            for end in self.desired.links[action.rid].interfaces:
                self.host.update_interface(self.desired.interfaces[end])
        else:
            self.host.update_interface(self.desired.interfaces[action.rid])
        self._event(action.rid, "Updated")

    def _create_route(self, rid: ResourceId) -> None:
        route = self.desired.routes[rid]
        self._intend(rid, _route_record(route), route.config_hash)
        self.host.create_route(route)
        self._confirm(rid)
        self._event(rid, "Created", route.describe())

    # -- firewall ----------------------------------------------------------------------
    def _apply_firewall(self, action: Action) -> None:
        rid = action.rid
        self._intend(rid, FirewallRecord(self.desired.project), firewall_hash(self.desired))
        self.host.apply_firewall(self.desired.project, self.desired)
        self._confirm(rid)
        self._event(rid, "Created")


def _container_record(container: DesiredContainer, veths: tuple[str, ...]) -> ContainerRecord:
    return ContainerRecord(
        service=container.service,
        number=container.number,
        image_id=container.image_id,
        folder=container.config.state_dir,
        sandbox=SandboxRecord(
            netns=container.config.netns_path or "",
            owns_netns=container.owns_netns,
            netns_owner=container.netns_owner,
            veths=veths,
        ),
        depends_on=tuple(sorted(container.depends_on)),
        networks=tuple(a.network for a in container.attachments),
        addresses={a.network: a.addresses for a in container.attachments},
        ports=tuple(
            PortRecord(p.host_ip, p.host_port, p.container_port, p.protocol) for p in container.ports
        ),
        oneoff=container.oneoff,
    )


def _route_record(route: DesiredRoute) -> RouteRecord:
    return RouteRecord(route.container, route.netns, route.destination, route.gateway, route.device)


def _last_health(log: list[dict[str, Any]]) -> str | None:
    if not log:
        return None
    last = log[-1]
    output = str(last.get("output", "")).strip().splitlines()
    return f"last check exited {last.get('exit_code')}: {output[-1] if output else '(no output)'}"
