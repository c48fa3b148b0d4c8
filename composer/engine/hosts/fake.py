"""A fake host for the executor: it records every call and can fail at call N.

It keeps an in-memory picture of the kernel objects (bridges, namespaces,
sandboxes, processes, links, firewall tables) so that observe() sees what a
previous, interrupted run left behind, exactly as it would on the real host.
Used by the fault-injection tests: fail at step N, then check that the next
``up`` converges and that ``down`` leaves nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.errors import HostError
from composer.model.desired import DesiredContainer, DesiredLink, DesiredNetwork, DesiredState
from composer.store.container import ContainerStatus


class InjectedFault(HostError):
    """The failure a FakeHost raises at the chosen call."""


@dataclass
class FakeHost:
    fail_at: int | None = None  # 1-based number of the mutating call that fails
    calls: list[str] = field(default_factory=list)
    bridges: set[str] = field(default_factory=set)
    netns: set[str] = field(default_factory=set)
    sandboxes: dict[str, dict[str, Any]] = field(default_factory=dict)  # container name -> facts
    processes: dict[str, int] = field(default_factory=dict)  # container name -> pid
    links: set[str] = field(default_factory=set)
    firewalls: set[str] = field(default_factory=set)
    volumes: set[str] = field(default_factory=set)
    healthy: bool = True
    exited: dict[str, int] = field(default_factory=dict)  # container name -> exit code (one-shots)
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
        )

    # -- probes --------------------------------------------------------------------------
    def interface_exists(self, name: str) -> bool:
        return name in self.bridges

    def netns_exists(self, path: str) -> bool:
        return path in self.netns

    def container_status(self, project_dir: str, name: str) -> ContainerStatus:
        pid = self.processes.get(name)
        if name in self.exited:
            return ContainerStatus(name=name, state="exited", exit_code=self.exited[name])
        if pid is None:
            return ContainerStatus(name=name, state="exited" if name in self.sandboxes else "created")
        return ContainerStatus(
            name=name, state="running", pid=pid, health="healthy" if self.healthy else "starting"
        )

    def firewall_exists(self, project: str) -> bool:
        return project in self.firewalls

    # -- networks and volumes ----------------------------------------------------------
    def create_network(self, project: str, network: DesiredNetwork) -> None:
        self._step(f"create_network {network.name}")
        if not network.external:
            self.bridges.add(network.bridge)

    def remove_network(self, data: Mapping[str, Any]) -> None:
        self._step(f"remove_network {data.get('bridge')}")
        if not data.get("external"):
            self.bridges.discard(str(data.get("bridge")))

    def create_volume(self, path: Path) -> None:
        self._step(f"create_volume {path.name}")
        self.volumes.add(str(path))

    def remove_volume(self, path: Path) -> None:
        self._step(f"remove_volume {path.name}")
        self.volumes.discard(str(path))

    # -- containers ----------------------------------------------------------------------
    def create_sandbox(
        self,
        project_dir: Path,
        container: DesiredContainer,
        networks: Mapping[str, DesiredNetwork],
        veths: Mapping[str, str],
    ) -> dict[str, Any]:
        self._step(f"create_sandbox {container.name}")
        if container.owns_netns and container.config.netns_path:
            self.netns.add(container.config.netns_path)
        self.sandboxes[container.name] = {"veths": sorted(veths.values())}
        return {"cgroup_paths": {"memory": f"/fake/{container.name}"}}

    def remove_sandbox(self, project: str, data: Mapping[str, Any]) -> None:
        name = Path(str(data.get("dir", ""))).name
        self._step(f"remove_sandbox {name}")
        self.processes.pop(name, None)
        self.exited.pop(name, None)
        self.sandboxes.pop(name, None)
        if data.get("owns_netns") and data.get("netns"):
            netns = str(data["netns"])
            self.netns.discard(netns)
            self.links = {link for link in self.links if netns not in link}

    def start_container(self, project_dir: Path, container: DesiredContainer) -> int:
        self._step(f"start_container {container.name}")
        if container.name not in self.sandboxes:
            raise HostError(f"fake: container {container.name} has no sandbox")
        with self._lock:
            self._next_pid += 1
            if container.config.argv in (("true",), ("false",)):  # a one-shot: it has run and exited
                self.exited[container.name] = 0 if container.config.argv == ("true",) else 1
                return self._next_pid
            self.exited.pop(container.name, None)
            self.processes[container.name] = self._next_pid
            return self._next_pid

    def stop_container(self, project_dir: Path, name: str, timeout: float | None) -> None:
        if name not in self.processes:
            return
        self._step(f"stop_container {name}")
        self.processes.pop(name, None)

    # -- links and firewall --------------------------------------------------------------
    def create_link(self, project: str, link: DesiredLink, a_netns: str, b_netns: str) -> None:
        self._step(f"create_link {link.rid}")
        self.links.add(f"{a_netns}|{b_netns}|{link.rid}")

    def remove_link(self, data: Mapping[str, Any]) -> None:
        self._step("remove_link")
        self.links = {
            link
            for link in self.links
            if not link.startswith(f"{data.get('a_netns')}|{data.get('b_netns')}|")
        }

    def apply_firewall(self, project: str, desired: DesiredState) -> None:
        self._step(f"apply_firewall {project}")
        self.firewalls.add(project)

    def remove_firewall(self, project: str) -> None:
        self._step(f"remove_firewall {project}")
        self.firewalls.discard(project)
