"""The project as graphs: service dependencies (start/stop order) and network topology.

Pure functions over a ``ProjectSpec``; nothing here touches the host.

*Dependencies* form a ``networkx.DiGraph`` with an edge ``dependency ->
dependent`` (so a topological order is a start order), carrying the
``depends_on`` options (``condition``, ``required``, ``restart``).  The start
order is networkx's *lexicographical* topological sort, so the same project
always gives the same order; ``start_layers`` groups services that may start in
parallel; stopping goes in reverse.  A cycle is a ``CycleError`` naming it
``a -> b -> a`` (``a`` depends on ``b`` which depends on ``a``).

*Topology* adds networks and links: services attach to networks through an
interface (``eth0``...) with an optional static address, and links wire two
container interfaces.  ``render`` writes it as Graphviz dot, Mermaid or JSON;
drawing SVG or PNG runs Graphviz's ``dot`` on that text, which is the kernel
layer's business (:func:`composer.kernel.tools.draw_dot`), not this module's.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import networkx as nx

from composer.errors import CycleError, SpecIssue
from composer.project.checks import find_dependency_cycles
from composer.project.models import ProjectSpec

TextFormat = Literal["dot", "mermaid", "json"]


def dependency_graph(spec: ProjectSpec) -> nx.DiGraph:
    """Services as nodes, an edge dependency -> dependent per ``depends_on`` entry."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(spec.services))
    for name in sorted(spec.services):
        for dependency, options in spec.services[name].depends_on.items():
            if dependency in spec.services:
                graph.add_edge(
                    dependency,
                    name,
                    condition=options.condition,
                    required=options.required,
                    restart=options.restart,
                )
    return graph


def find_cycle(spec: ProjectSpec) -> list[str] | None:
    """The first dependency cycle as ``[a, b, a]`` (a depends on b, b on a), or None."""
    cycles = find_dependency_cycles(spec)
    return cycles[0] if cycles else None


def _acyclic_graph(spec: ProjectSpec) -> nx.DiGraph:
    cycle = find_cycle(spec)
    if cycle is not None:
        text = " -> ".join(cycle)
        issue = SpecIssue("", 0, 0, f"services.{cycle[0]}.depends_on", f"dependency cycle: {text}")
        raise CycleError(cycle, issue)
    return dependency_graph(spec)


def start_order(spec: ProjectSpec) -> list[str]:
    """Dependencies first; ties broken by name so that the order is stable."""
    return list(nx.lexicographical_topological_sort(_acyclic_graph(spec)))


def stop_order(spec: ProjectSpec) -> list[str]:
    """Dependents first: the reverse of the start order."""
    return list(reversed(start_order(spec)))


def start_layers(spec: ProjectSpec) -> list[list[str]]:
    """Groups that can start in parallel, each after every earlier group; names sorted in a group."""
    return [sorted(layer) for layer in nx.topological_generations(_acyclic_graph(spec))]


# --------------------------------------------------------------------------- topology description


def describe(spec: ProjectSpec) -> dict[str, Any]:
    """A JSON-ready description of services, networks, attachments, links and dependencies."""
    attachments = []
    for name, service in spec.services.items():
        interfaces = service.interface_names()
        for network, attachment in service.networks.items():
            attachments.append(
                {
                    "service": name,
                    "network": network,
                    "interface": interfaces[network],
                    "ipv4_address": attachment.ipv4_address,
                    "ipv6_address": attachment.ipv6_address,
                }
            )
    links = []
    for link in spec.links:
        ends = []
        for side, end in enumerate(link.endpoints):
            ends.append(
                {
                    "service": end.service,
                    "interface": end.interface,
                    "ipv4": link.ipv4[side] if link.ipv4 else None,
                    "ipv6": link.ipv6[side] if link.ipv6 else None,
                    **({"outside": str(end)} if end.outside else {}),  # host:IFNAME or macvlan:PARENT
                    **({"bridge": end.bridge} if end.bridge else {}),  # the host's bridge it joins
                }
            )
        netem = {
            "mtu": link.mtu,
            "rate": link.rate,
            "delay": link.delay,
            "jitter": link.jitter,
            "loss": link.loss,
        }
        links.append({"id": link.resource_id, "endpoints": ends, **netem})
    dependencies = [
        {"service": name, "depends_on": dependency, **options.model_dump()}
        for name, service in spec.services.items()
        for dependency, options in service.depends_on.items()
        if dependency in spec.services  # an optional (required: false) service may be absent
    ]
    networks = {
        name: {
            "subnets": [pool.subnet for pool in network.ipam.config if pool.subnet],
            "internal": network.internal,
        }
        for name, network in spec.networks.items()
    }
    return {
        "name": spec.name,
        "services": {
            name: {"network_mode": service.network_mode, "replicas": service.replicas}
            for name, service in spec.services.items()
        },
        "networks": networks,
        "attachments": attachments,
        "links": links,
        "dependencies": dependencies,
        "start_order": start_order(spec),
        "start_layers": start_layers(spec),
    }


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _address_label(interface: str, *addresses: str | None) -> str:
    return " ".join([interface, *(a for a in addresses if a)])


def render_dot(spec: ProjectSpec) -> str:
    """Graphviz: services are boxes, networks ellipses, links solid edges, depends_on dashed arrows."""
    topology = describe(spec)
    lines = [
        f"graph {_quote(spec.name or 'project')} {{",
        "  graph [rankdir=LR];",
        "  node [fontname=Helvetica];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    lines += _dot_services(spec)
    lines += [f"  {_quote('network:' + n)} [label={_quote(n)}, shape=ellipse];" for n in spec.networks]
    for item in topology["attachments"]:
        label = _address_label(item["interface"], item["ipv4_address"], item["ipv6_address"])
        service, network = _quote("service:" + item["service"]), _quote("network:" + item["network"])
        lines.append(f"  {service} -- {network} [label={_quote(label)}];")
    for link in topology["links"]:
        first, second = link["endpoints"]
        # One label in the middle, a line per end: end labels collide with the nodes in LR layouts.
        ends = "\n".join(_end_label(end, with_service=True) for end in (first, second))
        lines.append(
            f"  {_quote(_dot_node(first))} -- {_quote(_dot_node(second))} "
            f"[label={_quote(ends)}, penwidth=2{_tunnel_style(spec, first, second)}];"
        )
    for item in topology["dependencies"]:
        lines.append(
            f"  {_quote('service:' + item['depends_on'])} -- {_quote('service:' + item['service'])} "
            f"[style=dashed, dir=forward, label={_quote(item['condition'])}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_services(spec: ProjectSpec) -> list[str]:
    """Service boxes; a lab split across hosts draws each host as a cluster around its services."""
    placed: dict[str, list[str]] = {}
    for name, service in spec.services.items():
        placed.setdefault(service.host if service.host in spec.hosts else "", []).append(name)
    lines = [f"  {_quote('service:' + s)} [label={_quote(s)}, shape=box];" for s in placed.pop("", [])]
    for index, host in enumerate(sorted(placed)):
        label = f"{host} ({spec.hosts[host].address})"
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_quote(label)}; style=rounded;")
        lines += [f"    {_quote('service:' + s)} [label={_quote(s)}, shape=box];" for s in placed[host]]
        lines.append("  }")
    return lines


def _end_label(end: dict[str, Any], *, with_service: bool) -> str:
    if end.get("bridge"):
        return f"{end['bridge']} {str(end['outside']).partition(':')[2]}"  # the bridge and its port
    if end.get("outside"):
        return str(end.get("outside"))
    label = _address_label(end["interface"], end["ipv4"], end["ipv6"])
    return f"{end['service']} {label}" if with_service else label


def _outside_node(end: dict[str, Any]) -> str:
    """An end outside the project's node: the bridge it joins (one node for its ports), or the end itself."""
    return f"bridge:{end['bridge']}" if end.get("bridge") else str(end.get("outside"))


def _dot_node(end: dict[str, Any]) -> str:
    """A link end's node: its service, or the outside end's (drawn as a node of its own)."""
    return _outside_node(end) if end.get("outside") else "service:" + str(end["service"])


def _tunnel_style(spec: ProjectSpec, first: dict[str, object], second: dict[str, object]) -> str:
    """A link whose ends are on two hosts is drawn dashed: it is a VXLAN tunnel."""
    if first.get("outside") or second.get("outside"):
        return ""
    hosts = {spec.services[str(end["service"])].host for end in (first, second)}
    return ", style=dashed" if spec.hosts and len(hosts) == 2 else ""


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def render_mermaid(spec: ProjectSpec) -> str:
    """Mermaid flowchart: ``s<N>`` for services, ``n<N>`` for networks (ids stay valid for any name)."""
    topology = describe(spec)
    service_id = {name: f"s{index}" for index, name in enumerate(spec.services)}
    network_id = {name: f"n{index}" for index, name in enumerate(spec.networks)}
    lines = ["flowchart LR"]
    lines += [f'  {service_id[s]}["{_mermaid_text(s)}"]' for s in spec.services]
    lines += [f'  {network_id[n]}(("{_mermaid_text(n)}"))' for n in spec.networks]
    outside = sorted(
        {_outside_node(e) for ln in topology["links"] for e in ln["endpoints"] if e.get("outside")}
    )
    service_id.update({name: f"o{index}" for index, name in enumerate(outside)})  # ends outside the project
    lines += [f'  {service_id[o]}[/"{_mermaid_text(o)}"/]' for o in outside]
    for item in topology["attachments"]:
        label = _address_label(item["interface"], item["ipv4_address"], item["ipv6_address"])
        lines.append(
            f'  {service_id[item["service"]]} ---|"{_mermaid_text(label)}"| {network_id[item["network"]]}'
        )
    for link in topology["links"]:
        first, second = link["endpoints"]
        label = " -- ".join(_end_label(end, with_service=False) for end in (first, second))
        a, b = (
            service_id[_outside_node(end) if end.get("outside") else end["service"]]
            for end in (first, second)
        )
        lines.append(f'  {a} ===|"{_mermaid_text(label)}"| {b}')
    for item in topology["dependencies"]:
        lines.append(
            f"  {service_id[item['depends_on']]} -.->|{item['condition']}| {service_id[item['service']]}"
        )
    return "\n".join(lines) + "\n"


def render(spec: ProjectSpec, fmt: TextFormat) -> str:
    """The topology as ``dot``, ``mermaid`` or ``json`` text."""
    if fmt == "dot":
        return render_dot(spec)
    if fmt == "mermaid":
        return render_mermaid(spec)
    if fmt == "json":
        return json.dumps(describe(spec), indent=2) + "\n"
    raise ValueError(f"unknown text format {fmt!r}")
