"""Services and NetworkPolicies: compose's DNS names, published ports and network isolation.

Services, per pod (Jobs have none: nothing connects to a one-shot):

* ``NAME``: every port of ``ports`` and ``expose`` (ClusterIP); a service that
  declares no port gets a headless Service, so ``NAME`` still resolves to its
  pods and every port is reachable, as on a compose network.
* ``ALIAS`` for each network alias, the same shape as ``NAME``.
* ``NAME-published``: the published ports, as a NodePort Service (the host
  port is the node port when it is in 30000-32767) or, with
  ``--publish loadbalancer``, a LoadBalancer on the host port.  A port
  published on one host address only (``127.0.0.1:8080:80``) is not published:
  Kubernetes would open it on every node address, wider than the file says.
* ``NAME-ready``: headless, for the pods others wait for (its DNS name
  resolves once a pod is ready) and the StatefulSet's governing Service.

NetworkPolicies, when the project has networks: compose lets two containers
talk when they share a network, so each network is a policy that lets its
members receive from its members.  Policies add up: a pod on two networks
hears from both.  Published ports get a policy that lets anyone reach those
ports.  A pod whose networks are all ``internal`` may send only to their
members and to the cluster's DNS; a pod with ``network_mode: none`` may
neither send nor receive.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from composer.convert.names import dns_label, is_dns_label
from composer.convert.options import Conversion
from composer.convert.pods import container_ports, port_name
from composer.convert.workloads import PodGroup
from composer.project.models.services import PortSpec

Manifest = dict[str, Any]
NODE_PORTS = range(30000, 32768)


def _group_ports(ctx: Conversion, group: PodGroup) -> list[tuple[int, str]]:
    return sorted({p for name in group.services for p in container_ports(ctx.spec.services[name])})


def _service(ctx: Conversion, name: str, group: PodGroup, ports: list[tuple[int, str]]) -> Manifest:
    spec: Manifest = {"selector": ctx.selector(group)}
    if ports:
        spec["type"] = "ClusterIP"
        spec["ports"] = [
            {"name": port_name(p, proto), "port": p, "targetPort": p, "protocol": proto.upper()}
            for p, proto in ports
        ]
    else:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.metadata(name, group), "spec": spec}


def _headless(ctx: Conversion, name: str, group: PodGroup) -> Manifest:
    spec = {"clusterIP": "None", "selector": ctx.selector(group)}
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.metadata(name, group), "spec": spec}


def aliases(ctx: Conversion, group: PodGroup) -> list[str]:
    root = ctx.spec.services[group.root]
    taken = {dns_label(n) for n in ctx.spec.services}
    found: set[str] = set()
    for network, attachment in root.networks.items():
        for alias in attachment.aliases:
            path = f"services.{group.root}.networks.{network}.aliases"
            if alias == group.root or dns_label(alias) == group.name:
                continue
            if not is_dns_label(alias):
                ctx.findings.add(path, f"{alias!r} is not a DNS-1123 label, which a Service name must be")
            elif alias in taken:
                ctx.findings.add(path, f"{alias!r} is the name of another service: no Service made for it")
            else:
                found.add(alias)
    return sorted(found)


def _published_entries(ctx: Conversion, group: PodGroup) -> list[tuple[str, PortSpec]]:
    """The (service, port) entries that publish on every address of a network that is not internal."""
    entries = []
    for name in group.services:
        service = ctx.spec.services[name]
        for index, port in enumerate(service.ports):
            if port.published is None:
                continue
            path = f"services.{name}.ports.{index}"
            if port.host_ip and not ipaddress.ip_address(port.host_ip).is_unspecified:
                ctx.findings.add(
                    path,
                    f"published on {port.host_ip} only: Kubernetes would publish it on every node address, "
                    "so it stays inside the cluster",
                    f"reach it with kubectl port-forward svc/{group.name} {port.published}:{port.target}",
                )
                continue
            if _only_internal(ctx, group):
                ctx.findings.add(path, "a service only on internal networks publishes nothing (as in Docker)")
                continue
            entries.append((name, port))
    return entries


def _only_internal(ctx: Conversion, group: PodGroup) -> bool:
    networks = ctx.spec.services[group.root].networks
    return bool(networks) and all(ctx.spec.networks[n].internal for n in networks if n in ctx.spec.networks)


def _published(ctx: Conversion, group: PodGroup) -> Manifest | None:
    entries = _published_entries(ctx, group)
    if not entries:
        return None
    balancer = ctx.options.publish == "loadbalancer"
    ports: dict[tuple[int, str], Manifest] = {}
    for name, port in entries:
        assert port.published_range is not None
        host = port.published_range[0]
        if port.published_range[0] != port.published_range[1]:
            ctx.findings.add(
                f"services.{name}.ports", f"the host range {port.published} is published as {host}"
            )
        entry: Manifest = {"name": port_name(port.target, port.protocol), "protocol": port.protocol.upper()}
        if balancer:
            entry.update(port=host, targetPort=port.target)
        else:
            entry.update(port=port.target, targetPort=port.target)
            if host in NODE_PORTS:
                entry["nodePort"] = host
            else:
                ctx.findings.add(
                    f"services.{name}.ports",
                    f"host port {host} is outside the node port range 30000-32767: the cluster picks one",
                    "publish a port in the range, or convert with --publish loadbalancer",
                )
        ports[(entry["port"], port.protocol)] = entry
    spec: Manifest = {
        "type": "LoadBalancer" if balancer else "NodePort",
        "selector": ctx.selector(group),
        "ports": [ports[key] for key in sorted(ports)],
    }
    name = dns_label(f"{group.root}-published")
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.metadata(name, group), "spec": spec}


def services(ctx: Conversion) -> list[Manifest]:
    result = []
    waited = ctx.depended_on()
    for group in ctx.groups:
        if group.kind == "Job":
            continue
        if ctx.spec.services[group.root].network_mode != "none":
            ports = _group_ports(ctx, group)
            result.append(_service(ctx, group.name, group, ports))
            result += [_service(ctx, alias, group, ports) for alias in aliases(ctx, group)]
            published = _published(ctx, group) if ctx.networked(group) else None
            if published is not None:
                result.append(published)
        if group.root in waited or group.kind == "StatefulSet":
            result.append(_headless(ctx, ctx.ready_service(group), group))
    return result


# --------------------------------------------------------------------------- NetworkPolicies

DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
DNS_PORTS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


def network_members(ctx: Conversion, network: str) -> list[PodGroup]:
    return [g for g in ctx.groups if ctx.networked(g) and network in ctx.spec.services[g.root].networks]


def pod_network_labels(ctx: Conversion, group: PodGroup) -> dict[str, str]:
    if not ctx.networked(group):
        return {}
    return {ctx.network_label(n): "true" for n in ctx.spec.services[group.root].networks}


def _policy(ctx: Conversion, name: str, selector: dict[str, str], spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.metadata(name),
        "spec": {"podSelector": {"matchLabels": selector}, **spec},
    }


def _network_selector(ctx: Conversion, network: str) -> dict[str, str]:
    return {ctx.network_label(network): "true", "app.kubernetes.io/instance": ctx.project}


def policies(ctx: Conversion) -> list[Manifest]:
    if not ctx.spec.networks:
        return []
    result = []
    for network in sorted(ctx.spec.networks):
        if not network_members(ctx, network):
            continue
        if ctx.spec.networks[network].external:
            ctx.findings.add(
                f"networks.{network}",
                "an external network is a namespace of its own here: only this project's pods are let in",
            )
        selector = _network_selector(ctx, network)
        ingress = [{"from": [{"podSelector": {"matchLabels": selector}}]}]
        name = dns_label(f"network-{network}")
        result.append(_policy(ctx, name, selector, {"policyTypes": ["Ingress"], "ingress": ingress}))
    for group in ctx.groups:
        result += _group_policies(ctx, group)
    return result


def _group_policies(ctx: Conversion, group: PodGroup) -> list[Manifest]:
    result = []
    root = ctx.spec.services[group.root]
    selector = ctx.selector(group)
    if root.network_mode == "none":
        name = dns_label(f"{group.root}-isolated")
        result.append(_policy(ctx, name, selector, {"policyTypes": ["Ingress", "Egress"]}))
        return result
    if not ctx.networked(group):
        return result
    published = _published(ctx, group)
    if published is not None:
        ports = [{"port": p["targetPort"], "protocol": p["protocol"]} for p in published["spec"]["ports"]]
        name = dns_label(f"{group.root}-published")
        result.append(
            _policy(ctx, name, selector, {"policyTypes": ["Ingress"], "ingress": [{"ports": ports}]})
        )
    if _only_internal(ctx, group):
        peers = [{"podSelector": {"matchLabels": _network_selector(ctx, n)}} for n in sorted(root.networks)]
        egress = [{"to": peers}, {"to": [DNS_PEER], "ports": DNS_PORTS}]
        name = dns_label(f"{group.root}-internal")
        result.append(_policy(ctx, name, selector, {"policyTypes": ["Egress"], "egress": egress}))
    return result
