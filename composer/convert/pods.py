"""A compose service as a container, and a pod group as a pod template.

The container: ``entrypoint`` is Kubernetes' ``command`` and ``command`` its
``args`` (both replace the image's, as in Docker; ``$(`` is doubled to ``$$(``
because Kubernetes would expand ``$(VAR)`` where Docker does not); the
environment comes from the service's ConfigMap (``envFrom``); ``healthcheck``
is a readiness and a liveness probe (and a startup probe for ``start_period``);
``post_start``/``pre_stop`` are lifecycle hooks; limits and reservations are
``resources``; the security options are its ``securityContext``.

The pod: the containers of every service sharing it, init containers that wait
for each dependency outside it, the volumes they mount, and the pod-wide
settings (sysctls, hostname, DNS, extra hosts, ``init``, the grace period).
Docker's defaults are kept where Kubernetes' differ: the runtime's default
seccomp profile (Kubernetes runs unconfined unless told), no service account
token mounted (Docker containers get no API credentials) and no service-link
environment variables (Docker's DNS is the only discovery compose gives).
"""

from __future__ import annotations

from typing import Any

from composer.convert import volumes as pod_volumes
from composer.convert.names import (
    cpu_quantity,
    dns_label,
    is_dns_label,
    is_env_name,
    memory_quantity,
    whole_seconds,
)
from composer.convert.options import Conversion
from composer.convert.workloads import PodGroup
from composer.model.health import health_argv
from composer.project.models import ServiceSpec
from composer.project.models.runtime import HookSpec
from composer.project.models.services import HealthcheckSpec

Manifest = dict[str, Any]

# Sysctls the kubelet allows without --allowed-unsafe-sysctls, by the version that made them safe.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced": 25, "net.ipv4.ip_local_port_range": 25, "net.ipv4.tcp_syncookies": 25,
    "net.ipv4.ping_group_range": 25, "net.ipv4.ip_unprivileged_port_start": 25,
    "net.ipv4.ip_local_reserved_ports": 27, "net.ipv4.tcp_keepalive_time": 29,
    "net.ipv4.tcp_fin_timeout": 29, "net.ipv4.tcp_keepalive_intvl": 29, "net.ipv4.tcp_keepalive_probes": 29,
}  # fmt: skip

# Fields with no Kubernetes counterpart: (message, hint).  Each is reported when set.
UNMAPPED: dict[str, tuple[str, str]] = {
    "ulimits": ("Kubernetes sets no per-container rlimits", "they come from the node's container runtime"),
    "devices": ("host devices are not mapped into pods", "use a device plugin's resource"),
    "device_cgroup_rules": ("no device cgroup rules in a pod spec", "use a device plugin"),
    "gpus": ("GPUs are requested as a device plugin's resource", "add e.g. nvidia.com/gpu to the limits"),
    "cgroup_parent": ("the kubelet chooses the cgroup of each pod", ""),
    "cgroup": ("the cgroup namespace is the runtime's choice", ""),
    "cpuset": ("CPU pinning is the kubelet's static CPU manager's job", "give whole-CPU requests = limits"),
    "cpu_rt_period": ("no real-time CPU settings in a pod spec", ""),
    "cpu_rt_runtime": ("no real-time CPU settings in a pod spec", ""),
    "cpu_count": ("Windows-only", ""),
    "cpu_percent": ("Windows-only", ""),
    "blkio_config": ("no block I/O weights or limits in a pod spec", ""),
    "mem_swappiness": ("swap is configured per node", ""),
    "memswap_limit": ("swap is configured per node", ""),
    "oom_kill_disable": ("the OOM killer is not configurable per pod", ""),
    "oom_score_adj": ("the kubelet sets the OOM score from the pod's QoS class", ""),
    "storage_opt": ("no per-container storage options", ""),
    "mac_address": ("the network plugin assigns addresses", ""),
    "logging": ("logs go to the node's log pipeline", "configure it in the cluster"),
    "volumes_from": ("pods do not share volumes with other pods' containers", "mount the same volume"),
    "links": ("links between containers have no meaning: Services give DNS names", "use the service name"),
    "external_links": ("links between containers have no meaning", "use a Service name"),
    "isolation": ("Windows-only", ""),
    "runtime": ("a runtime is chosen by a RuntimeClass", "set runtimeClassName after converting"),
    "develop": ("develop.watch is a local development loop", ""),
    "models": ("model runners are not converted", ""),
    "provider": ("providers are not converted", ""),
    "routes": ("routes are set by the network plugin", ""),
    "pre_start": ("no hook runs before a container starts", "use an init container"),
    "domainname": ("the pod's domain comes from its Service (subdomain)", ""),
    "container_name": ("Kubernetes names the pods", "reach the service by its Service name"),
    "userns_mode": ("user namespaces are the pod's hostUsers: false", "set it after converting"),
    "cpu_period": ("the CFS period is the node's", "cpus (or cpu_quota) gives the limit"),
    "host": ("the scheduler places pods: a lab's host has no meaning", "use nodeSelector after converting"),
}


def _set(value: object) -> bool:
    return value not in (None, [], {}, False, "")


def _escape(text: str) -> str:
    """Kubernetes expands ``$(VAR)`` in command, args and env values; Docker does not."""
    return text.replace("$(", "$$(")


def image_of(ctx: Conversion, name: str, service: ServiceSpec) -> str:
    if service.image:
        return service.image
    image = f"{ctx.project}-{dns_label(name)}"
    field = "rootfs" if service.rootfs is not None else "build"
    ctx.findings.add(
        f"services.{name}.{field}",
        f"a pod runs images only; the manifest names the image {image}",
        f"build and push {image}, or set `image:`",
    )
    return image


PULL_POLICIES = {
    "always": "Always",
    "never": "Never",
    "missing": "IfNotPresent",
    "if_not_present": "IfNotPresent",
}


def pull_policy(ctx: Conversion, name: str, service: ServiceSpec) -> str:
    policy = service.pull_policy
    if policy in PULL_POLICIES:
        return PULL_POLICIES[policy]
    ctx.findings.add(
        f"services.{name}.pull_policy",
        f"{policy!r} has no Kubernetes equivalent: Always is used",
        "Kubernetes knows Always, IfNotPresent and Never",
    )
    return "Always"


def probes(ctx: Conversion, name: str, check: HealthcheckSpec | None) -> Manifest:
    """readinessProbe and livenessProbe (and startupProbe) from a healthcheck; {} when none."""
    if check is None or check.disabled:
        return {}
    argv = health_argv(check.test) if check.test else None
    if argv is None:
        ctx.findings.add(
            f"services.{name}.healthcheck.test",
            "the image's own HEALTHCHECK is not run by Kubernetes",
            "write the test in the project file",
        )
        return {}
    base = {
        "exec": {"command": [_escape(a) for a in argv]},
        "periodSeconds": whole_seconds(check.interval),
        "timeoutSeconds": whole_seconds(check.timeout),
        "failureThreshold": max(1, check.retries),
    }
    result: Manifest = {"readinessProbe": dict(base), "livenessProbe": dict(base)}
    if check.start_period > 0:
        period = whole_seconds(check.start_interval)
        result["startupProbe"] = {
            **base,
            "periodSeconds": period,
            "failureThreshold": -(-whole_seconds(check.start_period) // period) + max(1, check.retries),
        }
    return result


def _hook(ctx: Conversion, path: str, hooks: list[HookSpec]) -> Manifest | None:
    if not hooks:
        return None
    first = hooks[0]
    if len(hooks) > 1:
        ctx.findings.add(path, "Kubernetes runs one command per hook: only the first is kept")
    if first.user or first.privileged or first.working_dir or first.environment:
        ctx.findings.add(path, "a hook runs as the container does: user, privileged, working_dir, "
                         "environment of the hook are dropped")  # fmt: skip
    return {"exec": {"command": [_escape(a) for a in first.command]}}


def lifecycle(ctx: Conversion, name: str, service: ServiceSpec) -> Manifest:
    hooks = {
        "postStart": _hook(ctx, f"services.{name}.post_start", service.post_start),
        "preStop": _hook(ctx, f"services.{name}.pre_stop", service.pre_stop),
    }
    return {key: value for key, value in hooks.items() if value is not None}


def resources(ctx: Conversion, name: str, service: ServiceSpec) -> Manifest:
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    cpu = service.cpu_limit
    if cpu is None and service.cpu_quota and service.cpu_quota > 0:
        cpu = service.cpu_quota / (service.cpu_period or 100_000)
    if cpu:
        limits["cpu"] = cpu_quantity(cpu)
    if service.memory_limit:
        limits["memory"] = memory_quantity(service.memory_limit)
    reserved = service.deploy.resources.reservations if service.deploy and service.deploy.resources else None
    cpu_request = reserved.cpus if reserved and reserved.cpus else None
    if cpu_request is None and service.cpu_shares:
        cpu_request = service.cpu_shares / 1024  # the kubelet gives requests.cpu * 1024 shares
    if cpu_request:
        requests["cpu"] = cpu_quantity(cpu_request)
    memory_request = service.mem_reservation or (reserved.memory if reserved else None)
    if memory_request:
        requests["memory"] = memory_quantity(memory_request)
    if service.pids_max is not None:
        ctx.findings.add(
            f"services.{name}.pids_limit"
            if service.pids_limit
            else f"services.{name}.deploy.resources.limits.pids",
            "Kubernetes limits processes per node (the kubelet's podPidsLimit), not per container",
        )
    if reserved and (reserved.devices or reserved.generic_resources):
        ctx.findings.add(
            f"services.{name}.deploy.resources.reservations",
            "device and generic reservations are a device plugin's extended resources",
            "add them to the limits (e.g. nvidia.com/gpu: 1)",
        )
    _drop_requests_above_limits(ctx, name, requests, limits, service)
    result: Manifest = {}
    if limits:
        result["limits"] = limits
    if requests:
        result["requests"] = requests
    return result


def _drop_requests_above_limits(
    ctx: Conversion, name: str, requests: dict[str, str], limits: dict[str, str], service: ServiceSpec
) -> None:
    """Kubernetes refuses a request above its limit; Docker refuses it too, compose files may not."""
    memory_request = service.mem_reservation or 0
    if "memory" in requests and "memory" in limits and memory_request > (service.memory_limit or 0):
        del requests["memory"]
        ctx.findings.add(f"services.{name}.mem_reservation", "the reservation is above the limit: dropped")


def _capabilities(names: list[str]) -> list[str]:
    return sorted({n.strip().upper().removeprefix("CAP_") for n in names})


def _user(ctx: Conversion, name: str, user: str | None) -> Manifest:
    if not user:
        return {}
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        ctx.findings.add(
            f"services.{name}.user",
            f"{user!r}: Kubernetes takes numeric ids only (runAsUser, runAsGroup)",
            "write the uid[:gid] the image's /etc/passwd gives",
        )
        return {}
    result: Manifest = {"runAsUser": int(uid)}
    if gid:
        result["runAsGroup"] = int(gid)
    return result


def _security_options(ctx: Conversion, name: str, service: ServiceSpec, context: Manifest) -> None:
    for index, option in enumerate(service.security_opt):
        key, _, value = option.replace("=", ":", 1).partition(":")
        path = f"services.{name}.security_opt.{index}"
        if key == "no-new-privileges" and value in ("", "true"):
            context["allowPrivilegeEscalation"] = False
        elif key == "seccomp" and value == "unconfined":
            context["seccompProfile"] = {"type": "Unconfined"}
        elif key == "apparmor" and value == "unconfined" and ctx.options.minor >= 30:
            context["appArmorProfile"] = {"type": "Unconfined"}
        else:
            ctx.findings.add(path, f"{option!r} has no mapping", "profiles live on the nodes: set them after")


def security_context(ctx: Conversion, name: str, service: ServiceSpec) -> Manifest:
    context: Manifest = {}
    if service.privileged:
        context["privileged"] = True
        context["seccompProfile"] = {"type": "Unconfined"}  # Docker runs privileged containers unconfined
    caps: Manifest = {}
    if service.cap_add:
        caps["add"] = _capabilities(service.cap_add)
    if service.cap_drop:
        caps["drop"] = _capabilities(service.cap_drop)
    if caps:
        context["capabilities"] = caps
    if service.read_only:
        context["readOnlyRootFilesystem"] = True
    context.update(_user(ctx, name, service.user))
    _security_options(ctx, name, service, context)
    if context.get("privileged"):
        context.pop("allowPrivilegeEscalation", None)  # the API refuses false with privileged
    return context


def environment(ctx: Conversion, name: str, service: ServiceSpec) -> tuple[dict[str, str], list[Manifest]]:
    """(what goes in the service's ConfigMap, the entries that must be inline ``env``)."""
    mapped: dict[str, str] = {}
    inline: list[Manifest] = []
    for key, value in sorted(service.environment.items()):
        if value is None:
            if key not in ctx.environment:
                ctx.findings.add(
                    f"services.{name}.environment.{key}",
                    "has no value and is not set where the conversion runs: left out",
                    "give it a value",
                )
                continue
            value = ctx.environment[key]
        if is_env_name(key):
            mapped[key] = value
        else:  # envFrom skips names that are not C identifiers; env takes them
            inline.append({"name": key, "value": _escape(value)})
    return mapped, inline


def env_map_name(service: str) -> str:
    return dns_label(f"{service}-env")


def container_ports(service: ServiceSpec) -> list[tuple[int, str]]:
    """(port, protocol) of ``ports`` and ``expose``, each once, sorted."""
    found: set[tuple[int, str]] = {(p.target, p.protocol) for p in service.ports}
    for entry in service.expose:
        spec, _, protocol = str(entry).partition("/")
        low, _, high = spec.partition("-")
        for port in range(int(low), int(high or low) + 1):
            found.add((port, protocol or "tcp"))
    return sorted(found)


def port_name(port: int, protocol: str) -> str:
    return f"{protocol}-{port}"


def container(ctx: Conversion, name: str, group: PodGroup) -> Manifest:
    service = ctx.spec.services[name]
    result: Manifest = {
        "name": dns_label(name),
        "image": image_of(ctx, name, service),
        "imagePullPolicy": pull_policy(ctx, name, service),
    }
    if service.entrypoint is not None:
        result["command"] = [_escape(a) for a in service.entrypoint]
    if service.command is not None:
        result["args"] = [_escape(a) for a in service.command]
    if service.working_dir:
        result["workingDir"] = service.working_dir
    mapped, inline = environment(ctx, name, service)
    if mapped:
        result["envFrom"] = [{"configMapRef": {"name": env_map_name(name)}}]
    if inline:
        result["env"] = inline
    ports = container_ports(service)
    if ports:
        result["ports"] = [
            {"name": port_name(p, proto), "containerPort": p, "protocol": proto.upper()} for p, proto in ports
        ]
    for key, value in (
        ("resources", resources(ctx, name, service)),
        ("lifecycle", lifecycle(ctx, name, service)),
        ("securityContext", security_context(ctx, name, service)),
    ):
        if value:
            result[key] = value
    if group.kind != "Job":
        result.update(probes(ctx, name, service.healthcheck))
    elif service.healthcheck is not None and not service.healthcheck.disabled:
        ctx.findings.add(
            f"services.{name}.healthcheck", "a one-shot (Job) is waited for until it completes, not probed"
        )
    mounts = pod_volumes.mounts(ctx, name, service, group)
    if mounts:
        result["volumeMounts"] = mounts
    if service.tty:
        result["tty"] = True
    if service.stdin_open:
        result["stdin"] = True
    _report_unmapped(ctx, name, service)
    return result


def _report_unmapped(ctx: Conversion, name: str, service: ServiceSpec) -> None:
    for field, (message, hint) in UNMAPPED.items():
        if _set(getattr(service, field)):
            ctx.findings.add(f"services.{name}.{field}", message, hint)
    if service.stop_signal and service.stop_signal.upper().removeprefix("SIG") != "TERM":
        ctx.findings.add(
            f"services.{name}.stop_signal",
            "Kubernetes stops containers with SIGTERM (lifecycle.stopSignal needs a feature gate)",
            "make the process stop on SIGTERM",
        )
    for key, dependency in service.depends_on.items():
        if dependency.restart:
            ctx.findings.add(
                f"services.{name}.depends_on.{key}.restart",
                "Kubernetes does not restart a pod when a dependency restarts",
            )


# --------------------------------------------------------------------------- init containers


WAIT_SECURITY = {
    "runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534, "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
}  # fmt: skip


NAMESPACE_ENV: Manifest = {
    "name": "POD_NAMESPACE",
    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
}


def wait_targets(ctx: Conversion, group: PodGroup) -> list[PodGroup]:
    """The pods this pod's services wait for, each once, by name."""
    targets: dict[str, PodGroup] = {}
    for name in group.services:
        for dependency in ctx.spec.services[name].depends_on:
            if dependency not in ctx.spec.services:
                continue  # an optional dependency whose profile is off
            target = ctx.group_of(dependency)
            if target != group:
                targets[target.name] = target
    return [targets[key] for key in sorted(targets)]


def waits_for_jobs(ctx: Conversion, group: PodGroup) -> bool:
    return any(target.kind == "Job" for target in wait_targets(ctx, group))


def init_containers(ctx: Conversion, group: PodGroup) -> list[Manifest]:
    """One init container per dependency: a Job must complete; a pod must be ready (its ``-ready`` DNS)."""
    result: list[Manifest] = []
    for target in wait_targets(ctx, group):
        if target.kind == "Job":
            result.append({
                "name": dns_label(f"wait-for-{target.name}"),
                "image": ctx.options.kubectl,
                "args": ["wait", "--for=condition=complete", "--timeout=-1s", f"job/{target.name}"],
                "securityContext": WAIT_SECURITY,
            })  # fmt: skip
            continue
        host = f"{ctx.ready_service(target)}.$(POD_NAMESPACE).svc.{ctx.options.cluster_domain}"
        script = f"until nslookup {host} >/dev/null 2>&1; do echo waiting for {target.name}; sleep 1; done"
        result.append({
            "name": dns_label(f"wait-for-{target.name}"),
            "image": ctx.options.wait_image,
            "command": ["sh", "-c", script],
            "env": [NAMESPACE_ENV],
            "securityContext": WAIT_SECURITY,
        })  # fmt: skip
    return result


# --------------------------------------------------------------------------- the pod


def _host_aliases(group: PodGroup, ctx: Conversion) -> list[Manifest]:
    by_address: dict[str, set[str]] = {}
    for name in group.services:
        for host, address in ctx.spec.services[name].extra_hosts:
            if address == "host-gateway":
                ctx.findings.add(f"services.{name}.extra_hosts", "host-gateway has no meaning in a pod")
                continue
            by_address.setdefault(address, set()).add(host)
    return [{"ip": ip, "hostnames": sorted(hosts)} for ip, hosts in sorted(by_address.items())]


def _dns(ctx: Conversion, name: str, service: ServiceSpec, pod: Manifest) -> None:
    config: Manifest = {}
    if service.dns:
        pod["dnsPolicy"] = "None"
        config["nameservers"] = list(service.dns)
        ctx.findings.add(
            f"services.{name}.dns",
            "the pod resolves with these servers only: Service names no longer resolve",
            "remove dns: to keep the cluster's DNS",
        )
    if service.dns_search:
        config["searches"] = list(service.dns_search)
    if service.dns_opt:
        options = []
        for option in service.dns_opt:
            key, sep, value = option.partition(":")
            options.append({"name": key, "value": value} if sep else {"name": key})
        config["options"] = options
    if config:
        pod["dnsConfig"] = config


def _sysctls(ctx: Conversion, group: PodGroup) -> list[Manifest]:
    found: dict[str, str] = {}
    for name in group.services:
        for key, value in ctx.spec.services[name].sysctls.items():
            if SAFE_SYSCTLS.get(key, 99) > ctx.options.minor:
                ctx.findings.add(
                    f"services.{name}.sysctls.{key}",
                    "not a safe sysctl: the kubelet runs the pod only with --allowed-unsafe-sysctls",
                )
            found[key] = value
    return [{"name": key, "value": value} for key, value in sorted(found.items())]


def _namespaces(ctx: Conversion, name: str, service: ServiceSpec, pod: Manifest) -> None:
    mode = service.network_mode
    if mode == "host":
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    elif mode == "none":
        ctx.findings.add(
            f"services.{name}.network_mode",
            "a pod always has a network: a NetworkPolicy denies all its traffic instead",
        )
    elif mode and mode.startswith("container:"):
        ctx.findings.add(f"services.{name}.network_mode", "a container outside the project has no meaning")
    for field, key in (("ipc", "hostIPC"), ("pid", "hostPID")):
        value = getattr(service, field)
        if value == "host":
            pod[key] = True
        elif value not in (None, "private", "shareable"):
            ctx.findings.add(f"services.{name}.{field}", f"{value!r} has no meaning between pods")
    if service.uts:
        ctx.findings.add(f"services.{name}.uts", "the UTS namespace follows the pod's network")


def _platform(ctx: Conversion, name: str, service: ServiceSpec) -> dict[str, str]:
    if not service.platform:
        return {}
    parts = service.platform.split("/")
    selector = {"kubernetes.io/os": parts[0]}
    if len(parts) > 1:
        selector["kubernetes.io/arch"] = parts[1]
    if len(parts) > 2:
        ctx.findings.add(f"services.{name}.platform", "the variant has no node label: only os/arch are kept")
    return selector


def _supplemental_groups(ctx: Conversion, name: str, service: ServiceSpec) -> list[int]:
    groups = []
    for group in service.group_add:
        if group.isdigit():
            groups.append(int(group))
        else:
            ctx.findings.add(f"services.{name}.group_add", f"{group!r}: Kubernetes takes numeric group ids")
    return groups


def pod_spec(ctx: Conversion, group: PodGroup) -> Manifest:
    """The pod template's ``spec`` for the services of ``group``."""
    root = ctx.spec.services[group.root]
    pod: Manifest = {}
    inits = init_containers(ctx, group)
    if inits:
        pod["initContainers"] = inits
    pod["containers"] = [container(ctx, name, group) for name in group.services]
    volumes = pod_volumes.pod_volumes(ctx, group)
    if volumes:
        pod["volumes"] = volumes
    if root.hostname:
        if is_dns_label(root.hostname):
            pod["hostname"] = root.hostname
        else:
            ctx.findings.add(f"services.{group.root}.hostname", "a pod's hostname must be a DNS-1123 label")
    aliases = _host_aliases(group, ctx)
    if aliases:
        pod["hostAliases"] = aliases
    _dns(ctx, group.root, root, pod)
    _namespaces(ctx, group.root, root, pod)
    security: Manifest = {"seccompProfile": {"type": "RuntimeDefault"}}
    sysctls = _sysctls(ctx, group)
    if sysctls:
        security["sysctls"] = sysctls
    extra_groups = sorted(
        {g for n in group.services for g in _supplemental_groups(ctx, n, ctx.spec.services[n])}
    )
    if extra_groups:
        security["supplementalGroups"] = extra_groups
    pod["securityContext"] = security
    if any(ctx.spec.services[n].init for n in group.services):
        pod["shareProcessNamespace"] = True  # the pause process is PID 1 and reaps, as tini would
    grace = max(ctx.spec.services[n].stop_grace_period for n in group.services)
    pod["terminationGracePeriodSeconds"] = whole_seconds(grace, minimum=0)
    selector = _platform(ctx, group.root, root)
    if selector:
        pod["nodeSelector"] = selector
    pod["enableServiceLinks"] = False
    if waits_for_jobs(ctx, group):
        pod["serviceAccountName"] = job_waiter_account(ctx)
    else:
        pod["automountServiceAccountToken"] = False
    if group.kind == "Job":
        pod["restartPolicy"] = job_restart_policy(root)
    return pod


def job_waiter_account(ctx: Conversion) -> str:
    return dns_label(f"{ctx.project}-job-waiter")


def job_restart_policy(service: ServiceSpec) -> str:
    return "OnFailure" if service.restart.startswith("on-failure") else "Never"
