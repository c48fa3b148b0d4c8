"""containerlab topology files (``*.clab.yml``), read unchanged and turned into a composer project.

A file with a top-level ``topology:`` is a containerlab topology.  It becomes
the same data a compose file would give, before validation, so every rule and
error of the project file applies to it:

* ``name`` is the project name; each node is a service whose container is
  named ``<prefix>-<lab>-<node>`` (``prefix`` defaults to ``clab``; ``""`` gives
  the node name alone, ``__lab-name`` gives ``<lab>-<node>``), as containerlab
  names them;
* every node joins the management network (``mgmt.network``, default
  ``clab``, 172.20.20.0/24 and 3fff:172:20:20::/64 unless ``mgmt`` says
  otherwise) with its ``mgmt-ipv4``/``mgmt-ipv6`` when given, unless it has a
  ``network-mode``;
* a node's settings come from ``topology.defaults``, then its kind's
  (``topology.kinds``), then its group's (``topology.groups``), then its own;
* ``links``: the brief form (``endpoints: ["a:eth1", "b:eth1"]``) and the
  extended ``type: veth`` form, with containerlab's MTU of 9500 unless ``mtu``
  says otherwise; each node gets ``CLAB_INTFS`` (its number of link ends);
* ends outside the lab, as containerlab makes them: ``host:IFNAME`` (brief) and
  the extended ``type: host`` link (``endpoint``, ``host-interface``) are a veth
  pair whose other end is IFNAME in the host's network namespace, up; a
  ``kind: bridge`` node is the host's *existing* Linux bridge of that name, and
  an end ``BRIDGE:IFNAME`` a veth end IFNAME in the host enslaved to it
  (composer never creates or deletes the bridge: ``up`` fails naming it when it
  is missing, before anything is made); ``macvlan:PARENT`` and the extended
  ``type: macvlan`` link (``host-interface``, ``mode``, default ``bridge``, MTU
  the parent's unless ``mtu``) are a macvlan interface on the host's PARENT,
  born in the node.  Host ends carry composer's ifalias marker: ``down``
  removes them, and never an interface without the project's marker; a host
  interface of that name that is not the link's own is an error at ``up``.
  Without root these links are refused (the host's namespace would be the
  project's own);
* ``exec`` commands run in the node after its links are up and before its own
  command, which then needs to be known (``cmd``); ``startup-delay: N`` starts
  that command N seconds after the node is made (its links are up meanwhile);
* ``wait-for`` (a list of nodes) and ``stages.create.wait-for`` become
  ``depends_on``: another node's ``create`` stage is ``service_started``, its
  ``healthy`` stage ``service_healthy``;
* ``up`` writes the lab directory ``clab-<lab>/`` with ``topology-data.json``
  (``topology_data`` here), ``down`` removes it (composer/cli/clab_labdir.py).

Refused at load, with the node and the key named: kinds other than ``linux``
and ``bridge`` (vendor network OSes and VM-based kinds need their images and a
different life cycle; ``ovs-bridge`` needs Open vSwitch, ``host`` would run
commands in the host's namespace, ``ext-container`` needs a daemon that knows
foreign containers), keys of a bridge node other than ``kind``, ``group`` and
``labels``, link types ``mgmt-net``, ``dummy`` and ``vxlan``, ``mgmt-net:`` and
``ovs-bridge`` endpoints, waits in stages other than ``create`` or on stages
other than ``create``/``healthy``, and node keys composer does not honour
(``publish``, ...).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from composer.errors import SpecError, SpecIssue
from composer.model.naming import is_valid_ifname

DEFAULT_MGMT = {"network": "clab", "ipv4-subnet": "172.20.20.0/24", "ipv6-subnet": "3fff:172:20:20::/64"}
CLAB_MTU = 9500
MACVLAN_MODES = ("bridge", "vepa", "private", "passthru")  # containerlab's, the kernel's names
# containerlab node key -> compose service key (the value is passed as it is)
_SAME_MEANING = {
    "image": "image", "entrypoint": "entrypoint", "env": "environment", "env-files": "env_file",
    "binds": "volumes", "ports": "ports", "labels": "labels", "sysctls": "sysctls", "cap-add": "cap_add",
    "memory": "mem_limit", "cpu": "cpus", "user": "user", "restart-policy": "restart",
    "network-mode": "network_mode", "dns": "dns",
}  # fmt: skip
_HANDLED = {"kind", "group", "cmd", "exec", "startup-delay", "mgmt-ipv4", "mgmt-ipv6", "healthcheck",
            "stages", "wait-for", *_SAME_MEANING}  # fmt: skip
# the stage of another node a node's creation can wait for -> compose's depends_on condition
_WAIT_CONDITION = {"create": "service_started", "healthy": "service_healthy"}
_LINK_REFUSAL = {
    "dummy": "composer makes no dummy interfaces in a node; where the kernel has the dummy driver, "
             "create it with the node's exec: (ip link add NAME type dummy)",
    "mgmt-net": "every node is already on the management network; remove this link",
}  # fmt: skip
_KIND_REFUSAL = {
    "host": "composer runs nothing in the host's namespace; link a node to it with a host:IFNAME endpoint",
    "ovs-bridge": "composer does not drive Open vSwitch; a Linux bridge is kind: bridge",
    "ext-container": "composer makes every container itself and has no daemon to find a foreign one in; "
                     "make it a kind: linux node of the lab",
}  # fmt: skip
_HEALTHCHECK = {"test": "test", "start-period": "start_period", "interval": "interval", "timeout": "timeout",
                "retries": "retries"}  # fmt: skip


def is_topology(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("topology"), dict)


Locator = Callable[[str], tuple[str, int, int]]


class _Issues:
    """Every problem of one topology, each placed in the file by the loader's locator."""

    def __init__(self, locate: Locator) -> None:
        self.locate = locate
        self.found: list[SpecIssue] = []

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.found.append(SpecIssue.at(self.locate(path), path, message, hint))


def container_name(prefix: str | None, lab: str, node: str) -> str:
    if prefix is None:
        prefix = "clab"
    if prefix == "":
        return node
    if prefix == "__lab-name":
        return f"{lab}-{node}"
    return f"{prefix}-{lab}-{node}"


def _node_settings(topology: Mapping[str, Any], name: str, node: Mapping[str, Any]) -> dict[str, Any]:
    """defaults < kind < group < node, as containerlab merges them (maps merged key by key)."""
    merged: dict[str, Any] = {}
    kind = (
        node.get("kind")
        or (topology.get("groups") or {}).get(node.get("group"), {}).get("kind")
        or (topology.get("defaults") or {}).get("kind")
    )
    layers = [topology.get("defaults") or {}, (topology.get("kinds") or {}).get(kind) or {},
              (topology.get("groups") or {}).get(node.get("group")) or {}, node]  # fmt: skip
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    merged["kind"] = kind
    return merged


def _end_text(end: object) -> str:
    return f"{end.get('node')}:{end.get('interface')}" if isinstance(end, dict) else str(end)


def _endpoints(
    link: Mapping[str, Any], path: str, bridges: Collection[str], issues: _Issues
) -> list[str | dict[str, str]] | None:
    """The link's two ends as composer's links write them: ``NODE:IF``, or a mapping for an end outside
    the lab (``{host: IF}``, ``{host: IF, bridge: BR}`` for a kind: bridge node, ``{macvlan: PARENT}``)."""
    kind = link.get("type", "veth")
    if kind in ("host", "macvlan"):
        return _one_ended(link, kind, path, issues)
    if kind != "veth":
        hint = _LINK_REFUSAL.get(
            kind, "composer makes veth, host and macvlan links; use one of those or the brief form"
        )
        issues.add(f"{path}.type", f"link type {kind!r} is not supported", hint)
        return None
    raw = link.get("endpoints")
    if not isinstance(raw, list) or len(raw) != 2:
        issues.add(f"{path}.endpoints", "a link needs exactly two endpoints")
        return None
    ends: list[str | dict[str, str]] = []
    for index, end in enumerate(raw):
        text = _end_text(end)
        node, _, interface = text.partition(":")
        if node == "host" or node in bridges:  # containerlab: the host's namespace, or a port of the bridge
            ends.append({"host": interface, **({"bridge": node} if node in bridges else {})})
        elif node == "macvlan":
            ends.append({"macvlan": interface})
        elif node in ("mgmt-net", "ovs-bridge"):
            hint = _LINK_REFUSAL["mgmt-net"] if node == "mgmt-net" else _KIND_REFUSAL["ovs-bridge"]
            issues.add(f"{path}.endpoints.{index}", f"endpoint {text!r} is outside the lab", hint)
            return None
        else:
            ends.append(text)
    if all(isinstance(end, dict) for end in ends):
        issues.add(f"{path}.endpoints", "a link needs a node of the lab at one end at least")
        return None
    return ends


def _one_ended(
    link: Mapping[str, Any], kind: str, path: str, issues: _Issues
) -> list[str | dict[str, str]] | None:
    """The extended ``type: host`` / ``type: macvlan`` link: a node's ``endpoint``, a ``host-interface``."""
    end, host_interface = link.get("endpoint"), link.get("host-interface")
    if not isinstance(end, dict) or not end.get("node") or not end.get("interface"):
        issues.add(f"{path}.endpoint", f"a {kind} link needs endpoint: {{node: ..., interface: ...}}")
        return None
    if not host_interface:
        issues.add(f"{path}", f"a {kind} link needs host-interface: (the interface's name on the host)")
        return None
    if kind == "host":
        return [_end_text(end), {"host": str(host_interface)}]
    mode = str(link.get("mode", "bridge"))
    if mode not in MACVLAN_MODES:
        issues.add(f"{path}.mode", f"macvlan mode {mode!r} is not one of {', '.join(MACVLAN_MODES)}")
        return None
    return [_end_text(end), {"macvlan": str(host_interface), "mode": mode}]


def _check_bridge(name: str, node: Mapping[str, Any], issues: _Issues) -> None:
    """A kind: bridge node names an existing Linux bridge of the host: it has nothing else to set."""
    for key in sorted(set(node) - {"kind", "group", "labels"}):
        message = f"node {name}: {key!r} has no meaning for a kind: bridge node"
        issues.add(f"topology.nodes.{name}.{key}", message,
                   "a bridge node is the host's existing bridge of that name: remove the key")  # fmt: skip
    if not is_valid_ifname(name) or name == "lo":
        hint = "name the node as the bridge: at most 15 bytes of letters, digits, '_', '-', '.'"
        issues.add(f"topology.nodes.{name}", f"node {name}: {name!r} cannot name a Linux bridge", hint)


def _service(
    lab: str, prefix: str | None, name: str, node: dict[str, Any], mgmt: Mapping[str, Any], ends: int,
    nodes: Collection[str], issues: _Issues,
) -> dict[str, Any]:  # fmt: skip
    path = f"topology.nodes.{name}"
    if node["kind"] != "linux":
        hint = _KIND_REFUSAL.get(
            node["kind"], "composer runs kind: linux nodes (a Linux container from an image)"
        )
        issues.add(f"{path}.kind", f"node {name}: kind {node['kind']!r} is not supported", hint)
    for key in sorted(set(node) - _HANDLED):
        issues.add(f"{path}.{key}", f"node {name}: {key!r} is not supported by composer",
                             "remove it, or run this lab with containerlab")  # fmt: skip
    service: dict[str, Any] = {"container_name": container_name(prefix, lab, name), "hostname": name}
    for key, target in _SAME_MEANING.items():
        if key in node:
            service[target] = node[key]
    environment = dict(service.get("environment") or {})
    environment.setdefault("CLAB_INTFS", str(ends))
    service["environment"] = environment
    command = node.get("cmd")
    if command is not None:
        service["command"] = command
    if "healthcheck" in node:
        service["healthcheck"] = {_HEALTHCHECK.get(k, k): v for k, v in (node["healthcheck"] or {}).items()}
    depends_on = _depends_on(name, node, nodes, issues)
    if depends_on:
        service["depends_on"] = depends_on
    if node.get("exec") or node.get("startup-delay"):
        _wrap_command(service, node, path, issues)
    if "network_mode" not in service:
        attach: dict[str, Any] = {}
        if node.get("mgmt-ipv4"):
            attach["ipv4_address"] = node["mgmt-ipv4"]
        if node.get("mgmt-ipv6"):
            attach["ipv6_address"] = node["mgmt-ipv6"]
        service["networks"] = {mgmt["network"]: attach}
    return service


def _depends_on(
    name: str, node: Mapping[str, Any], nodes: Collection[str], issues: _Issues
) -> dict[str, Any]:
    """``wait-for`` of the node's ``create`` stage as compose's depends_on; a waits for b's create or healthy.

    composer starts a container once it is made, so only the creation can wait: waits in the node's
    later stages, and waits for other nodes' intermediate stages, have no counterpart and are refused.
    """
    path = f"topology.nodes.{name}"
    waits: list[tuple[str, Any, str]] = []  # (place, other node, its stage)
    for index, other in enumerate(node.get("wait-for") or []):
        waits.append((f"{path}.wait-for.{index}", other, "create"))
    stages = node.get("stages") or {}
    if not isinstance(stages, dict):
        issues.add(f"{path}.stages", f"node {name}: stages must be a map of stage names")
        stages = {}
    for stage, settings in stages.items():
        place = f"{path}.stages.{stage}"
        if stage != "create":
            hint = "composer can only hold back a node's creation: move the wait-for under stages.create"
            issues.add(place, f"node {name}: stage {stage!r} cannot be mapped", hint)
            continue
        for key in sorted(set(settings or {}) - {"wait-for"}):
            issues.add(f"{place}.{key}", f"node {name}: stages.create.{key} is not supported by composer",
                       "remove it, or run this lab with containerlab")  # fmt: skip
        for index, wait in enumerate((settings or {}).get("wait-for") or []):
            wait = wait if isinstance(wait, dict) else {}
            waits.append((f"{place}.wait-for.{index}", wait.get("node"), str(wait.get("stage", "create"))))
    result: dict[str, Any] = {}
    for place, other, stage in waits:
        if other not in nodes or other == name:
            issues.add(place, f"node {name}: wait-for names {other!r}, which is not another node of the lab")
        elif stage not in _WAIT_CONDITION:
            message = f"node {name}: waiting for {other}'s stage {stage!r} cannot be mapped"
            hint = "wait for its create or healthy stage: compose's service_started or service_healthy"
            issues.add(f"{place}.stage", message, hint)
        elif result.get(other, {}).get("condition") != "service_healthy":  # the stronger wait wins
            result[other] = {"condition": _WAIT_CONDITION[stage]}
    return result


def _wrap_command(service: dict[str, Any], node: Mapping[str, Any], path: str, issues: _Issues) -> None:
    """``startup-delay`` and ``exec`` come before the node's own command (its links are up by then):
    sh -c 'sleep N; exec...; exec "$@"'."""
    key = "exec" if node.get("exec") else "startup-delay"
    delay = node.get("startup-delay") or 0
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        issues.add(f"{path}.startup-delay", f"startup-delay must be a whole number of seconds, not {delay!r}")
        return
    if node.get("cmd") is None:
        hint = f"give cmd: (the command the image would run), so that {key} can run before it"
        issues.add(f"{path}.{key}", f"{key} needs the node's cmd", hint)
        return
    original = node.get("entrypoint")
    command = node["cmd"]
    argv = shlex.split(original) if isinstance(original, str) else list(original or [])
    argv += shlex.split(command) if isinstance(command, str) else list(command)
    steps = ([f"sleep {delay}"] if delay else []) + [str(line) for line in node.get("exec") or []]
    script = "; ".join([*steps, 'exec "$@"'])
    service["entrypoint"] = ["/bin/sh", "-c", script, "sh"]
    service["command"] = argv


def to_compose(data: Mapping[str, Any], locate: Locator | None = None) -> dict[str, Any]:
    """The project data of a containerlab topology; SpecError with every problem at once."""
    topology: Mapping[str, Any] = data["topology"]
    lab = str(data.get("name") or "")
    issues = _Issues(locate or (lambda _path: ("", 0, 0)))
    if not lab:
        issues.add("name", "a containerlab topology needs a name")
    for key in sorted(set(data) - {"name", "prefix", "mgmt", "topology"}):
        issues.add(key, f"top-level {key!r} of a containerlab topology is not supported")
    mgmt = {**DEFAULT_MGMT, **(data.get("mgmt") or {})}
    nodes = {name: node or {} for name, node in (topology.get("nodes") or {}).items()}
    settings = {name: _node_settings(topology, name, node) for name, node in nodes.items()}
    bridges = [name for name, node in settings.items() if node["kind"] == "bridge"]
    for name in bridges:
        _check_bridge(name, nodes[name], issues)
    links: list[dict[str, Any]] = []
    counts = dict.fromkeys(nodes, 0)
    for index, link in enumerate(topology.get("links") or []):
        ends = _endpoints(link, f"topology.links.{index}", bridges, issues)
        if ends is None:
            continue
        for end in ends:
            if isinstance(end, str):
                counts[end.partition(":")[0]] = counts.get(end.partition(":")[0], 0) + 1
        # The nodes address their interfaces themselves (exec, a routing daemon), as in containerlab.
        made: dict[str, Any] = {"endpoints": ends, "addressing": "node"}
        macvlan = any(isinstance(end, dict) and "macvlan" in end for end in ends)
        mtu = link.get("mtu", None if macvlan else CLAB_MTU)  # a macvlan keeps its parent's
        if mtu is not None:
            made["mtu"] = mtu
        links.append(made)
    members = [name for name in nodes if name not in bridges]
    services = {
        name: _service(
            lab, data.get("prefix"), name, settings[name], mgmt, counts.get(name, 0), members, issues
        )
        for name in members
    }
    if issues.found:
        raise SpecError(issues.found)
    subnets = [{"subnet": mgmt[key]} for key in ("ipv4-subnet", "ipv6-subnet") if mgmt.get(key)]
    network: dict[str, Any] = {"ipam": {"config": subnets}}
    if mgmt.get("ipv6-subnet"):
        network["enable_ipv6"] = True
    result: dict[str, Any] = {"name": lab, "services": services, "links": links}
    if any("networks" in s for s in services.values()):
        result["networks"] = {mgmt["network"]: network}
    return result


def lab_directory(file: Path, lab: str) -> Path:
    """containerlab's lab directory, beside the topology file."""
    return file.parent / f"clab-{lab}"


def topology_data(
    data: Mapping[str, Any], file: Path, addresses: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """containerlab's ``topology-data.json`` of a topology; ``addresses``: each node's mgmt addresses/len."""
    topology: Mapping[str, Any] = data["topology"]
    lab, prefix = str(data["name"]), data.get("prefix")
    mgmt = {**DEFAULT_MGMT, **(data.get("mgmt") or {})}
    folder = lab_directory(file.absolute(), lab)
    nodes = {}
    for index, (name, node) in enumerate((topology.get("nodes") or {}).items()):
        settings = _node_settings(topology, name, node or {})
        entry: dict[str, Any] = {
            "index": str(index), "shortname": name, "longname": container_name(prefix, lab, name),
            "fqdn": f"{name}.{lab}.io", "group": settings.get("group", ""), "labdir": str(folder / name),
            "kind": settings["kind"], "image": settings.get("image", ""),
            "mgmt-net": "" if "network-mode" in settings or settings["kind"] == "bridge" else mgmt["network"],
        }  # fmt: skip
        for family, address in _by_family(addresses.get(name, ())).items():
            host, _, length = address.partition("/")
            entry[f"mgmt-{family}-address"] = host
            entry[f"mgmt-{family}-prefix-length"] = int(length) if length else 0
        entry["labels"] = {
            **{str(k): str(v) for k, v in (settings.get("labels") or {}).items()},
            "clab-node-name": name, "clab-node-kind": settings["kind"],
            "clab-node-group": settings.get("group", ""), "clab-node-lab-dir": str(folder / name),
            "clab-topo-file": str(file.absolute()), "containerlab": lab,
        }  # fmt: skip
        nodes[name] = entry
    links = []
    for link in topology.get("links") or []:
        ends = [_end_text(end) for end in link.get("endpoints") or []]
        if link.get("type") in ("host", "macvlan"):  # one node's endpoint; the host's interface the other
            ends = [_end_text(link.get("endpoint") or {}), f"{link['type']}:{link.get('host-interface')}"]
        a_node, _, a_ifname = ends[0].partition(":")
        z_node, _, z_ifname = ends[1].partition(":")
        links.append({
            "a": {"node": a_node, "interface": a_ifname, "peer": "z"},
            "z": {"node": z_node, "interface": z_ifname, "peer": "a"},
        })  # fmt: skip
    config = {
        "prefix": "clab" if prefix is None else prefix,
        "mgmt": mgmt,
        "config-path": str(file.absolute()),
    }
    return {"name": lab, "type": "clab", "clab": {"config": config}, "nodes": nodes, "links": links}


def _by_family(addresses: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for address in addresses:
        found.setdefault("ipv6" if ":" in address else "ipv4", address)
    return found
