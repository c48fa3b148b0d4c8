"""One compose field at a time: what it becomes in the manifests, or the finding it gives.

Each case is a small project, the object and the path to look at, and the value
expected there (docs/kubernetes.md has the same table in prose).
"""

from __future__ import annotations

from typing import Any

import pytest

from composer.convert.options import KubeOptions, OptionError
from tests.unit.convert.conftest import Converted


def _at(manifest: Any, path: str) -> Any:
    for part in path.split("."):
        manifest = manifest[int(part)] if isinstance(manifest, list) else manifest[part]
    return manifest


POD = "spec.template.spec"
C0 = f"{POD}.containers.0"

CASES = [
    # (id, service body, object, path, expected)
    ("image", "image: nginx:1.27", "Deployment/web", f"{C0}.image", "nginx:1.27"),
    ("entrypoint is command", "image: x\n    entrypoint: [/bin/app, -v]", "Deployment/web", f"{C0}.command", ["/bin/app", "-v"]),
    ("command is args", "image: x\n    command: run --fast", "Deployment/web", f"{C0}.args", ["run", "--fast"]),
    ("$( is escaped", "image: x\n    command: [sh, -c, 'echo $$(date)']", "Deployment/web", f"{C0}.args.2", "echo $$(date)"),
    ("working_dir", "image: x\n    working_dir: /srv", "Deployment/web", f"{C0}.workingDir", "/srv"),
    ("scale", "image: x\n    scale: 3", "Deployment/web", "spec.replicas", 3),
    ("deploy.replicas", "image: x\n    deploy: {replicas: 2}", "Deployment/web", "spec.replicas", 2),
    ("cpus limit", "image: x\n    cpus: 0.25", "Deployment/web", f"{C0}.resources.limits.cpu", "250m"),
    ("whole cpus", "image: x\n    cpus: 2", "Deployment/web", f"{C0}.resources.limits.cpu", "2"),
    ("mem_limit", "image: x\n    mem_limit: 1g", "Deployment/web", f"{C0}.resources.limits.memory", "1Gi"),
    ("deploy limits", "image: x\n    deploy: {resources: {limits: {memory: 48m, cpus: '1.5'}}}", "Deployment/web",
     f"{C0}.resources.limits", {"cpu": "1500m", "memory": "48Mi"}),
    ("reservations", "image: x\n    deploy: {resources: {reservations: {memory: 16m, cpus: '0.1'}}}", "Deployment/web",
     f"{C0}.resources.requests", {"cpu": "100m", "memory": "16Mi"}),
    ("mem_reservation", "image: x\n    mem_reservation: 1000000", "Deployment/web", f"{C0}.resources.requests.memory", "1000000"),
    ("cpu_shares", "image: x\n    cpu_shares: 512", "Deployment/web", f"{C0}.resources.requests.cpu", "500m"),
    ("cpu_quota", "image: x\n    cpu_quota: 50000", "Deployment/web", f"{C0}.resources.limits.cpu", "500m"),
    ("cap_add", "image: x\n    cap_add: [CAP_NET_ADMIN, sys_time]", "Deployment/web", f"{C0}.securityContext.capabilities.add", ["NET_ADMIN", "SYS_TIME"]),
    ("cap_drop", "image: x\n    cap_drop: [ALL]", "Deployment/web", f"{C0}.securityContext.capabilities.drop", ["ALL"]),
    ("read_only", "image: x\n    read_only: true", "Deployment/web", f"{C0}.securityContext.readOnlyRootFilesystem", True),
    ("privileged", "image: x\n    privileged: true", "Deployment/web", f"{C0}.securityContext", {"privileged": True, "seccompProfile": {"type": "Unconfined"}}),
    ("user uid:gid", "image: x\n    user: '1000:100'", "Deployment/web", f"{C0}.securityContext", {"runAsUser": 1000, "runAsGroup": 100}),
    ("no-new-privileges", "image: x\n    security_opt: ['no-new-privileges:true']", "Deployment/web", f"{C0}.securityContext.allowPrivilegeEscalation", False),
    ("seccomp unconfined", "image: x\n    security_opt: ['seccomp=unconfined']", "Deployment/web", f"{C0}.securityContext.seccompProfile.type", "Unconfined"),
    ("default seccomp", "image: x", "Deployment/web", f"{POD}.securityContext.seccompProfile.type", "RuntimeDefault"),
    ("no token", "image: x", "Deployment/web", f"{POD}.automountServiceAccountToken", False),
    ("no service links", "image: x", "Deployment/web", f"{POD}.enableServiceLinks", False),
    ("sysctls", "image: x\n    sysctls: {net.ipv4.tcp_syncookies: 1}", "Deployment/web", f"{POD}.securityContext.sysctls", [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]),
    ("group_add", "image: x\n    group_add: [44]", "Deployment/web", f"{POD}.securityContext.supplementalGroups", [44]),
    ("init", "image: x\n    init: true", "Deployment/web", f"{POD}.shareProcessNamespace", True),
    ("stop_grace_period", "image: x\n    stop_grace_period: 1m30s", "Deployment/web", f"{POD}.terminationGracePeriodSeconds", 90),
    ("hostname", "image: x\n    hostname: box", "Deployment/web", f"{POD}.hostname", "box"),
    ("extra_hosts", "image: x\n    extra_hosts: ['a:10.0.0.1', 'b:10.0.0.1']", "Deployment/web", f"{POD}.hostAliases", [{"ip": "10.0.0.1", "hostnames": ["a", "b"]}]),
    ("dns_search", "image: x\n    dns_search: [corp]", "Deployment/web", f"{POD}.dnsConfig.searches", ["corp"]),
    ("dns_opt", "image: x\n    dns_opt: ['ndots:2', edns0]", "Deployment/web", f"{POD}.dnsConfig.options", [{"name": "ndots", "value": "2"}, {"name": "edns0"}]),
    ("platform", "image: x\n    platform: linux/arm64", "Deployment/web", f"{POD}.nodeSelector", {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}),
    ("network_mode host", "image: x\n    network_mode: host", "Deployment/web", f"{POD}.hostNetwork", True),
    ("pid host", "image: x\n    pid: host", "Deployment/web", f"{POD}.hostPID", True),
    ("tty and stdin", "image: x\n    tty: true\n    stdin_open: true", "Deployment/web", f"{C0}.tty", True),
    ("pull_policy always", "image: x\n    pull_policy: always", "Deployment/web", f"{C0}.imagePullPolicy", "Always"),
    ("pull_policy never", "image: x\n    pull_policy: never", "Deployment/web", f"{C0}.imagePullPolicy", "Never"),
    ("post_start", "image: x\n    post_start: [{command: [touch, /ready]}]", "Deployment/web", f"{C0}.lifecycle.postStart.exec.command", ["touch", "/ready"]),
    ("pre_stop", "image: x\n    pre_stop: [{command: [app, drain]}]", "Deployment/web", f"{C0}.lifecycle.preStop.exec.command", ["app", "drain"]),
    ("environment", "image: x\n    environment: {A: '1', B: two}", "ConfigMap/web-env", "data", {"A": "1", "B": "two"}),
    ("envFrom", "image: x\n    environment: {A: '1'}", "Deployment/web", f"{C0}.envFrom.0.configMapRef.name", "web-env"),
    ("odd env names inline", "image: x\n    environment: {my.var: '$(x)'}", "Deployment/web", f"{C0}.env", [{"name": "my.var", "value": "$$(x)"}]),
    ("tmpfs", "image: x\n    tmpfs: ['/run:size=64m']", "Deployment/web", f"{POD}.volumes.0", {"name": "tmpfs-run", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}),
    ("tmpfs mount", "image: x\n    volumes: [{type: tmpfs, target: /cache, tmpfs: {size: 1m}}]", "Deployment/web", f"{POD}.volumes.0.emptyDir", {"medium": "Memory", "sizeLimit": "1Mi"}),
    ("shm_size", "image: x\n    shm_size: 256m", "Deployment/web", f"{C0}.volumeMounts.0", {"name": "dshm", "mountPath": "/dev/shm"}),
    ("anonymous volume", "image: x\n    volumes: [/data]", "Deployment/web", f"{POD}.volumes.0", {"name": "anonymous-data", "emptyDir": {}}),
    ("ports", "image: x\n    ports: ['8080:80/udp']", "Deployment/web", f"{C0}.ports", [{"name": "udp-80", "containerPort": 80, "protocol": "UDP"}]),
    ("expose range", "image: x\n    expose: ['3000-3001']", "Service/web", "spec.ports.1.port", 3001),
    ("published node port", "image: x\n    ports: ['30080:80']", "Service/web-published", "spec.ports.0", {"name": "tcp-80", "protocol": "TCP", "port": 80, "targetPort": 80, "nodePort": 30080}),
    ("no port is headless", "image: x", "Service/web", "spec.clusterIP", "None"),
    ("labels", "image: x\n    labels: {tier: front}", "Deployment/web", f"{POD.rsplit('.', 1)[0]}.metadata.labels.tier", "front"),
    ("odd label is annotation", "image: x\n    labels: {rule: 'Host(`a`)'}", "Deployment/web", "spec.template.metadata.annotations.rule", "Host(`a`)"),
    ("annotations", "image: x\n    annotations: {note: hi}", "Deployment/web", "spec.template.metadata.annotations.note", "hi"),
    ("deploy.labels", "image: x\n    deploy: {labels: {team: a}}", "Deployment/web", "metadata.labels.team", "a"),
    ("global mode", "image: x\n    deploy: {mode: global}", "DaemonSet/web", "kind", "DaemonSet"),
    ("service name made a DNS label", "image: x", "Deployment/web", "metadata.labels", {
        "app.kubernetes.io/instance": "t", "app.kubernetes.io/managed-by": "composer",
        "app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "t"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "key", "path", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_field_maps_to(converted: Converted, body: str, key: str, path: str, expected: Any) -> None:
    objects = converted(f"name: t\nservices:\n  web:\n    {body}\n")
    assert _at(objects[key], path) == expected


FINDINGS = [
    # (id, service body, finding path, words of the message)
    ("ulimits", "ulimits: {nofile: 10}", "services.web.ulimits", "rlimits"),
    ("devices", "devices: [/dev/fuse]", "services.web.devices", "device plugin"),
    ("bind mount", "volumes: ['/etc/app:/etc/app:ro']", "services.web.volumes.0", "host folder /etc/app"),
    ("rootfs", "rootfs: ./root", "services.web.rootfs", "t-web"),
    ("pids", "pids_limit: 10", "services.web.pids_limit", "per node"),
    ("named user", "user: nobody", "services.web.user", "numeric"),
    ("unsafe sysctl", "sysctls: {net.ipv4.ip_forward: 1}", "services.web.sysctls.net.ipv4.ip_forward", "unsafe"),
    ("loopback publish", "ports: ['127.0.0.1:8080:80']", "services.web.ports.0", "port-forward"),
    ("out of node range", "ports: ['8080:80']", "services.web.ports", "30000-32767"),
    ("dns", "dns: [1.1.1.1]", "services.web.dns", "no longer resolve"),
    ("stop_signal", "stop_signal: SIGINT", "services.web.stop_signal", "SIGTERM"),
    ("links", "links: [db]", "services.web.links", "Services give DNS names"),
    ("empty env", "environment: [UNSET_HERE]", "services.web.environment.UNSET_HERE", "left out"),
    ("apparmor profile", "security_opt: ['apparmor=custom']", "services.web.security_opt.0", "no mapping"),
    ("placement", "deploy: {placement: {constraints: [a==b]}}", "services.web.deploy.placement", "swarm"),
    ("pull daily", "pull_policy: daily", "services.web.pull_policy", "Always"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "path", "words"), [c[1:] for c in FINDINGS], ids=[c[0] for c in FINDINGS])
def test_a_field_without_meaning_is_reported(converted: Converted, body: str, path: str, words: str) -> None:
    extra = "" if body.startswith("rootfs") else "image: x\n    "
    objects = converted(f"name: t\nservices:\n  web:\n    {extra}{body}\n  db:\n    image: y\n")
    assert path in objects.paths()
    assert words in objects.finding(path)


def test_a_mapped_project_has_no_finding(converted: Converted) -> None:
    objects = converted("name: t\nservices:\n  web:\n    image: x\n    cpus: 1\n    read_only: true\n")
    assert objects.result.findings == []


def test_a_variable_without_value_comes_from_the_environment(converted: Converted) -> None:
    objects = converted(
        "name: t\nservices:\n  web:\n    image: x\n    environment: [TOKEN]\n", environ={"TOKEN": "abc"}
    )
    assert objects["ConfigMap/web-env"]["data"] == {"TOKEN": "abc"}


# --------------------------------------------------------------------------- healthcheck


def test_a_healthcheck_is_readiness_liveness_and_startup(converted: Converted) -> None:
    objects = converted("""
        name: t
        services:
          web:
            image: x
            healthcheck:
              test: curl -f localhost
              interval: 7s
              timeout: 1500ms
              retries: 4
              start_period: 20s
              start_interval: 2s
        """)
    container = objects.container("Deployment/web")
    probe = {"exec": {"command": ["/bin/sh", "-c", "curl -f localhost"]}, "periodSeconds": 7,
             "timeoutSeconds": 2, "failureThreshold": 4}  # fmt: skip
    assert container["readinessProbe"] == probe
    assert container["livenessProbe"] == probe
    assert container["startupProbe"] == {**probe, "periodSeconds": 2, "failureThreshold": 10 + 4}


def test_a_disabled_healthcheck_has_no_probe(converted: Converted) -> None:
    objects = converted("name: t\nservices:\n  web:\n    image: x\n    healthcheck: {disable: true}\n")
    assert "readinessProbe" not in objects.container("Deployment/web")


# --------------------------------------------------------------------------- workloads and dependencies


DEPENDENCIES = """
    name: t
    services:
      migrate:
        image: app
        command: [migrate]
      db:
        image: postgres
        volumes: [data:/var/lib/postgresql/data]
        healthcheck: {test: [CMD, pg_isready], interval: 3s}
      web:
        image: app
        depends_on:
          db: {condition: service_healthy}
          migrate: {condition: service_completed_successfully}
    volumes:
      data: {}
    """


def test_a_one_shot_waited_for_is_a_job(converted: Converted) -> None:
    objects = converted(DEPENDENCIES)
    job = objects["Job/migrate"]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "Deployment/migrate" not in objects


def test_the_only_user_of_a_named_volume_is_a_statefulset(converted: Converted) -> None:
    objects = converted(DEPENDENCIES)
    stateful = objects["StatefulSet/db"]["spec"]
    assert stateful["serviceName"] == "db-ready"
    assert stateful["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert stateful["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert objects.container("StatefulSet/db")["volumeMounts"] == [
        {"name": "data", "mountPath": "/var/lib/postgresql/data"}
    ]
    assert objects["Service/db-ready"]["spec"]["clusterIP"] == "None"


def test_dependencies_are_init_containers_that_wait(converted: Converted) -> None:
    objects = converted(DEPENDENCIES)
    pod = objects.pod("Deployment/web")
    first, second = pod["initContainers"]
    assert first["name"] == "wait-for-db"
    assert "db-ready.$(POD_NAMESPACE).svc.cluster.local" in first["command"][2]
    assert second["name"] == "wait-for-migrate"
    assert second["args"] == ["wait", "--for=condition=complete", "--timeout=-1s", "job/migrate"]
    assert pod["serviceAccountName"] == "t-job-waiter"
    role = objects["Role/t-job-waiter"]
    assert role["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}
    ]
    assert objects["RoleBinding/t-job-waiter"]["subjects"][0]["name"] == "t-job-waiter"


def test_a_volume_shared_by_two_pods_is_one_claim(converted: Converted) -> None:
    objects = converted("""
        name: t
        services:
          a: {image: x, volumes: ['shared:/a']}
          b: {image: x, volumes: ['shared:/b']}
        volumes:
          shared: {driver_opts: {size: 5g}}
        """)
    claim = objects["PersistentVolumeClaim/shared"]["spec"]
    assert claim == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "5Gi"}}}
    assert objects.pod("Deployment/a")["volumes"] == [
        {"name": "shared", "persistentVolumeClaim": {"claimName": "shared"}}
    ]


def test_network_mode_service_shares_the_pod(converted: Converted) -> None:
    objects = converted("""
        name: t
        services:
          vpn: {image: vpn, ports: ['30001:1194/udp']}
          app: {image: app, network_mode: 'service:vpn', expose: ['8080']}
        """)
    names = [c["name"] for c in objects.pod("Deployment/vpn")["containers"]]
    assert names == ["vpn", "app"]
    assert "Deployment/app" not in objects
    ports = [p["port"] for p in objects["Service/vpn"]["spec"]["ports"]]
    assert ports == [1194, 8080]


# --------------------------------------------------------------------------- networks and aliases


NETWORKS = """
    name: t
    services:
      web: {image: x, networks: [front, back], ports: ['30080:80']}
      api: {image: x, networks: {back: {aliases: [backend]}}}
      db: {image: x, networks: [store]}
      worker: {image: x, networks: [store, back]}
    networks:
      front: {}
      back: {}
      store: {internal: true}
    """


def test_each_network_lets_in_only_its_members(converted: Converted) -> None:
    objects = converted(NETWORKS)
    policy = objects["NetworkPolicy/network-back"]["spec"]
    selector = {"network.composer.io/back": "true", "app.kubernetes.io/instance": "t"}
    assert policy["podSelector"]["matchLabels"] == selector
    assert policy["ingress"] == [{"from": [{"podSelector": {"matchLabels": selector}}]}]
    labels = objects["Deployment/worker"]["spec"]["template"]["metadata"]["labels"]
    assert labels["network.composer.io/store"] == labels["network.composer.io/back"] == "true"


def test_an_internal_only_pod_sends_only_to_its_network_and_dns(converted: Converted) -> None:
    objects = converted(NETWORKS)
    egress = objects["NetworkPolicy/db-internal"]["spec"]
    assert egress["policyTypes"] == ["Egress"]
    assert egress["egress"][0]["to"][0]["podSelector"]["matchLabels"]["network.composer.io/store"] == "true"
    assert egress["egress"][1]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert "NetworkPolicy/worker-internal" not in objects  # back is not internal


def test_published_ports_are_open_to_all(converted: Converted) -> None:
    objects = converted(NETWORKS)
    assert objects["NetworkPolicy/web-published"]["spec"]["ingress"] == [
        {"ports": [{"port": 80, "protocol": "TCP"}]}
    ]


def test_an_alias_is_a_service(converted: Converted) -> None:
    objects = converted(NETWORKS)
    assert objects["Service/backend"]["spec"]["selector"] == objects["Service/api"]["spec"]["selector"]


def test_network_mode_none_is_isolated(converted: Converted) -> None:
    objects = converted("name: t\nservices:\n  lone: {image: x, network_mode: none}\n  web: {image: x}\n")
    assert objects["NetworkPolicy/lone-isolated"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "Service/lone" not in objects


def test_loadbalancer_publishes_the_host_port(converted: Converted) -> None:
    objects = converted(
        "name: t\nservices:\n  web: {image: x, ports: ['8443:443']}\n", KubeOptions(publish="loadbalancer")
    )
    service = objects["Service/web-published"]["spec"]
    assert service["type"] == "LoadBalancer"
    assert service["ports"][0] == {"name": "tcp-443", "protocol": "TCP", "port": 8443, "targetPort": 443}


# --------------------------------------------------------------------------- secrets, configs, names


def test_secrets_and_configs_are_mounted_files(converted: Converted, tmp_path: Any) -> None:
    (tmp_path / "pw.txt").write_text("hunter2")
    objects = converted("""
        name: t
        services:
          web:
            image: x
            secrets: [pw]
            configs: [{source: site, target: /etc/site.conf, mode: 0440}]
        secrets:
          pw: {file: ./pw.txt}
        configs:
          site: {content: "listen 80"}
        """)
    assert objects["Secret/pw"]["data"] == {"pw": "aHVudGVyMg=="}
    assert objects["ConfigMap/site"]["data"] == {"site": "listen 80"}
    mounts = objects.container("Deployment/web")["volumeMounts"]
    assert {"name": "secret-pw", "mountPath": "/run/secrets/pw", "subPath": "pw", "readOnly": True} in mounts
    assert {
        "name": "config-site",
        "mountPath": "/etc/site.conf",
        "subPath": "site",
        "readOnly": True,
    } in mounts
    volumes = {v["name"]: v for v in objects.pod("Deployment/web")["volumes"]}
    assert volumes["config-site"]["configMap"]["items"] == [{"key": "site", "path": "site", "mode": 0o440}]


def test_names_become_dns_labels(converted: Converted) -> None:
    objects = converted("name: t\nservices:\n  My_App: {image: x}\n")
    assert "Deployment/my-app" in objects


def test_names_that_collide_are_reported(converted: Converted) -> None:
    objects = converted("name: t\nservices:\n  my_app: {image: x}\n  my.app: {image: x}\n")
    assert any("Deployment my-app" in f.message for f in objects.result.findings)


def test_the_namespace_is_on_every_object(converted: Converted) -> None:
    objects = converted(DEPENDENCIES, KubeOptions(namespace="ci"))
    assert {m["metadata"].get("namespace") for m in objects.result.manifests} == {"ci"}
    assert objects["RoleBinding/t-job-waiter"]["subjects"][0]["namespace"] == "ci"


@pytest.mark.parametrize(
    ("options", "words"),
    [(KubeOptions(namespace="Bad_NS"), "--namespace"), (KubeOptions(version="1.12"), "--kubernetes-version"),
     (KubeOptions(volume_size="lots"), "--volume-size")],
)  # fmt: skip
def test_bad_options_are_refused(options: KubeOptions, words: str) -> None:
    with pytest.raises(OptionError, match=words):
        options.checked()
