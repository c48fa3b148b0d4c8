"""Turns each action of a plan into host operations, recording intent and outcome.

For every object it makes, the applier first appends an *intent* record to the
project's journal naming the object (bridge, veth, netns path, cgroup, folder),
then makes it, then appends *created*.  Removal is the mirror image.  The host
operations themselves live behind :class:`HostOps` so that the same applier runs
against the real kernel (``composer.engine.hosts.real``) or a fake that records calls
and injects failures (``composer.engine.hosts.fake``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from composer.engine.observe import HostProbe, ObservedState
from composer.engine.plan import Action
from composer.engine.reconcile import firewall_hash
from composer.errors import ContainerError
from composer.events import Event, EventSink
from composer.model.desired import DesiredContainer, DesiredLink, DesiredNetwork, DesiredState
from composer.model.naming import veth_host_name
from composer.store.journal import ProjectState


class HostOps(HostProbe, Protocol):
    """Everything the applier asks of the host.  Each call is idempotent."""

    def create_network(self, project: str, network: DesiredNetwork) -> None: ...

    def remove_network(self, data: Mapping[str, Any]) -> None: ...

    def create_volume(self, path: Path) -> None: ...

    def remove_volume(self, path: Path) -> None: ...

    def create_sandbox(
        self,
        project_dir: Path,
        container: DesiredContainer,
        networks: Mapping[str, DesiredNetwork],
        veths: Mapping[str, str],
    ) -> dict[str, Any]: ...

    def remove_sandbox(self, project: str, data: Mapping[str, Any]) -> None: ...

    def start_container(self, project_dir: Path, container: DesiredContainer) -> int: ...

    def stop_container(self, project_dir: Path, name: str, timeout: float | None) -> None: ...

    def create_link(self, project: str, link: DesiredLink, a_netns: str, b_netns: str) -> None: ...

    def remove_link(self, data: Mapping[str, Any]) -> None: ...

    def apply_firewall(self, project: str, desired: DesiredState) -> None: ...

    def remove_firewall(self, project: str) -> None: ...


class Applier:
    """The executor's action handler for one project."""

    def __init__(
        self,
        state: ProjectState,
        host: HostOps,
        desired: DesiredState,
        observed: ObservedState,
        events: EventSink,
        *,
        stop_timeout: float | None = None,
        wait_timeout: float = 300.0,
    ) -> None:
        self.state = state
        self.host = host
        self.desired = desired
        self.observed = observed
        self.events = events
        self.stop_timeout = stop_timeout
        self.wait_timeout = wait_timeout
        self._lock = threading.Lock()  # the journal is appended from several worker threads

    def __call__(self, action: Action) -> None:
        kind = action.rid.partition(":")[0]
        handler = getattr(self, f"_{action.verb.replace('-', '_')}_{kind}")
        handler(action)

    # -- journal helpers -----------------------------------------------------------
    def _intend(self, rid: str, data: dict[str, Any], config_hash: str = "") -> None:
        with self._lock:
            self.state.intend(rid, data, config_hash)

    def _confirm(self, rid: str, data: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.state.confirm(rid, data)

    def _update(self, rid: str, data: dict[str, Any]) -> None:
        with self._lock:
            self.state.update(rid, data)

    def _begin_removal(self, rid: str) -> None:
        with self._lock:
            self.state.begin_removal(rid)

    def _removed(self, rid: str) -> None:
        with self._lock:
            self.state.removed(rid)

    def _record(self, rid: str) -> dict[str, Any]:
        with self._lock:
            record = self.state.records.get(rid)
            return dict(record.data) if record else {}

    def _event(self, rid: str, status: Any, text: str = "") -> None:
        self.events(Event(rid, status, text))

    # -- networks ------------------------------------------------------------------
    def _create_network(self, action: Action) -> None:
        network = self.desired.networks[action.rid]
        self._event(action.rid, "Creating")
        data = {
            "bridge": network.bridge,
            "external": network.external,
            "subnets": network.subnets,
            "addressing": network.addressing.to_dict() if network.addressing else None,
        }
        self._intend(action.rid, data, network.config_hash)
        self.host.create_network(self.desired.project, network)
        self._confirm(action.rid)
        self._event(action.rid, "Created")

    def _remove_network(self, action: Action) -> None:
        self._event(action.rid, "Removing")
        self._begin_removal(action.rid)
        self.host.remove_network(self._record(action.rid))
        self._removed(action.rid)
        self._event(action.rid, "Removed")

    # -- volumes -------------------------------------------------------------------
    def _create_volume(self, action: Action) -> None:
        volume = self.desired.volumes[action.rid]
        self._intend(action.rid, {"path": str(volume.path)})
        self.host.create_volume(volume.path)
        self._confirm(action.rid)
        self._event(action.rid, "Created")

    def _remove_volume(self, action: Action) -> None:
        path = self._record(action.rid).get("path")
        self._begin_removal(action.rid)
        if path:
            self.host.remove_volume(Path(path))
        self._removed(action.rid)
        self._event(action.rid, "Removed")

    # -- containers ------------------------------------------------------------------
    def _create_container(self, action: Action) -> None:
        container = self.desired.containers[action.rid]
        self._event(action.rid, "Creating")
        veths = {
            a.network: veth_host_name(self.desired.project, container.rid, a.network)
            for a in container.attachments
        }
        owner = (
            container.network_mode.partition(":")[2]
            if container.network_mode.startswith("container:")
            else ""
        )
        intent = {
            "service": container.service,
            "number": container.number,
            "image_id": container.image_id,
            "dir": container.config.state_dir,
            "netns": container.config.netns_path,
            "owns_netns": container.owns_netns,
            "netns_owner": owner,
            "veths": sorted(veths.values()),
            "networks": [a.network for a in container.attachments],
            "depends_on": sorted(container.depends_on),
            "addresses": {a.network: list(a.addresses) for a in container.attachments},
            "ports": [
                {
                    "host_ip": p.host_ip,
                    "host_port": p.host_port,
                    "target": p.container_port,
                    "protocol": p.protocol,
                }
                for p in container.ports
            ],
        }
        self._intend(action.rid, intent, container.config_hash)
        networks = {n.name: n for n in self.desired.networks.values()}
        facts = self.host.create_sandbox(self.state.dir, container, networks, veths)
        self._confirm(action.rid, facts)
        self._event(action.rid, "Created")

    def _start_container(self, action: Action) -> None:
        container = self.desired.containers[action.rid]
        self._event(action.rid, "Starting")
        pid = self.host.start_container(self.state.dir, container)
        self._event(action.rid, "Started", f"pid {pid}")

    def _restart_container(self, action: Action) -> None:
        container = self.desired.containers[action.rid]
        self._event(action.rid, "Restarting", action.cause)
        self.host.stop_container(self.state.dir, container.name, self.stop_timeout)
        self.host.start_container(self.state.dir, container)
        self._event(action.rid, "Started")

    def _stop_container(self, action: Action) -> None:
        name = action.rid.partition(":")[2]
        self._event(action.rid, "Stopping")
        self.host.stop_container(self.state.dir, name, self.stop_timeout)
        self._event(action.rid, "Stopped")

    def _recreate_stop_container(self, action: Action) -> None:
        self._stop_container(action)

    def _remove_container(self, action: Action) -> None:
        self._event(action.rid, "Removing")
        self._begin_removal(action.rid)
        name = action.rid.partition(":")[2]
        self.host.stop_container(self.state.dir, name, 0.0)  # idempotent: a leftover process goes too
        self.host.remove_sandbox(self.desired.project, self._record(action.rid))
        self._removed(action.rid)
        self._event(action.rid, "Removed")

    def _wait_healthy_container(self, action: Action) -> None:
        name = action.rid.partition(":")[2]
        self._event(action.rid, "Waiting")
        deadline = time.monotonic() + self.wait_timeout
        while True:
            status = self.host.container_status(str(self.state.dir), name)
            if status.health == "healthy":
                self._event(action.rid, "Healthy")
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

    def _wait_completed_container(self, action: Action) -> None:
        name = action.rid.partition(":")[2]
        self._event(action.rid, "Waiting")
        deadline = time.monotonic() + self.wait_timeout
        while True:
            status = self.host.container_status(str(self.state.dir), name)
            if status.state == "exited" and status.exit_code is None:
                pass  # the process is gone but the supervisor has not recorded its exit status yet
            elif status.state == "exited" and status.exit_code == 0:
                self._event(action.rid, "Exited", "completed successfully")
                return
            elif status.state == "exited":
                raise ContainerError(
                    f"container {name} exited with code {status.exit_code}; "
                    "its dependents need it to complete successfully",
                    hint=f"see composer logs {self.desired.containers[action.rid].service}"
                    if action.rid in self.desired.containers
                    else None,
                )
            if time.monotonic() > deadline:
                raise ContainerError(f"container {name} did not complete in {self.wait_timeout:.0f}s")
            time.sleep(0.05)

    # -- links -----------------------------------------------------------------------
    def _create_link(self, action: Action) -> None:
        link = self.desired.links[action.rid]
        a = self.desired.containers[f"container:{link.a_container}"]
        b = self.desired.containers[f"container:{link.b_container}"]
        a_netns, b_netns = a.config.netns_path, b.config.netns_path
        if not a_netns or not b_netns:
            raise ContainerError(
                f"{action.rid}: both ends need their own network namespace",
                hint="links cannot attach to network_mode: host containers",
            )
        temp_names = [veth_host_name(self.desired.project, link.rid, end) for end in ("a", "b")]
        self._intend(
            action.rid,
            {
                "temp_names": temp_names,
                "a_netns": a_netns,
                "b_netns": b_netns,
                "a_ifname": link.a_ifname,
                "b_ifname": link.b_ifname,
            },
            link.config_hash,
        )
        self.host.create_link(self.desired.project, link, a_netns, b_netns)
        self._confirm(action.rid)
        self._event(action.rid, "Created")

    def _remove_link(self, action: Action) -> None:
        self._begin_removal(action.rid)
        self.host.remove_link(self._record(action.rid))
        self._removed(action.rid)
        self._event(action.rid, "Removed")

    # -- firewall ----------------------------------------------------------------------
    def _apply_firewall(self, action: Action) -> None:
        self._intend(action.rid, {"project": self.desired.project}, firewall_hash(self.desired))
        self.host.apply_firewall(self.desired.project, self.desired)
        self._confirm(action.rid)
        self._event(action.rid, "Created")

    def _remove_firewall(self, action: Action) -> None:
        self._begin_removal(action.rid)
        self.host.remove_firewall(self.desired.project)
        self._removed(action.rid)
        self._event(action.rid, "Removed")


def _last_health(log: list[dict[str, Any]]) -> str | None:
    if not log:
        return None
    last = log[-1]
    output = str(last.get("output", "")).strip().splitlines()
    return f"last check exited {last.get('exit_code')}: {output[-1] if output else '(no output)'}"
