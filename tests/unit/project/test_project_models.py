"""The models: every input spelling becomes one normalised form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from composer.model.restart import RestartPolicy
from composer.project.models import (
    LinkSpec,
    MissingContextError,
    ModelContext,
    NetworkSpec,
    PortSpec,
    ProjectSpec,
    ServiceSpec,
)

CONTEXT = ModelContext(project_directory=Path("/proj"), home_directory=Path("/home/me"))


def service(**fields: Any) -> ServiceSpec:
    return ServiceSpec.model_validate({"image": "busybox", **fields}, context=CONTEXT)


def test_command_string_is_split_like_a_shell_and_empty_list_kept() -> None:
    assert service(command="sh -c 'echo hi there'").command == ["sh", "-c", "echo hi there"]
    assert service(command=["sleep", 5]).command == ["sleep", "5"]
    assert service(entrypoint=[]).entrypoint == []
    assert service().entrypoint is None


def test_environment_list_and_map() -> None:
    assert service(environment=["A=1", "B", "C="]).environment == {"A": "1", "B": None, "C": ""}
    assert service(environment={"A": 1, "B": None, "C": True, "D": 1.5}).environment == {
        "A": "1",
        "B": None,
        "C": "true",
        "D": "1.5",
    }


def test_depends_on_forms() -> None:
    short = service(depends_on=["db"]).depends_on["db"]
    assert (short.condition, short.required, short.restart) == ("service_started", True, False)
    long = service(depends_on={"db": {"condition": "service_healthy", "restart": True}}).depends_on["db"]
    assert (long.condition, long.restart) == ("service_healthy", True)
    with pytest.raises(ValidationError):
        service(depends_on={"db": {"condition": "service_ready"}})


def test_healthcheck_forms_and_defaults() -> None:
    check = service(healthcheck={"test": "curl -f localhost"}).healthcheck
    assert check is not None
    assert check.test == ["CMD-SHELL", "curl -f localhost"]
    assert (check.interval, check.timeout, check.retries, check.start_period, check.start_interval) == (
        30.0,
        30.0,
        3,
        0.0,
        5.0,
    )
    disabled = service(healthcheck={"disable": True}).healthcheck
    assert disabled is not None and disabled.disabled
    assert service(healthcheck={"test": ["NONE"]}).healthcheck.disabled  # type: ignore[union-attr]
    assert service(healthcheck={"test": ["CMD", "true"], "interval": "1m30s"}).healthcheck.interval == 90.0  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="CMD, CMD-SHELL or NONE"):
        service(healthcheck={"test": ["RUN", "x"]})


@pytest.mark.parametrize("policy", ["no", "always", "on-failure", "on-failure:3", "unless-stopped"])
def test_restart_policies(policy: str) -> None:
    assert service(restart=policy).restart == policy
    assert str(service(restart=policy).restart_policy) == policy


def test_restart_yaml_false_is_no_and_retries() -> None:
    assert service(restart=False).restart == "no"
    assert service().restart_policy == RestartPolicy("no")
    assert service(restart="on-failure:4").restart_max_retries == 4
    assert service(restart="always").restart_max_retries is None
    assert service(restart="on-failure:0").restart == "on-failure"  # Docker's "no limit"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("never", "use no, always, on-failure, on-failure:N or unless-stopped"),
        ("always:2", "only on-failure takes a maximum retry count"),
        ("on-failure:x", "must be a number"),
    ],
)
def test_restart_errors_come_from_the_one_parser(policy: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        service(restart=policy)


@pytest.mark.parametrize(
    ("test", "message"),
    [
        (["CMD"], "CMD needs a command after it"),
        ("", "CMD-SHELL needs a command after it"),
        (["CMD-SHELL", " "], "CMD-SHELL needs a command after it"),
    ],
)
def test_healthcheck_errors_come_from_health_argv(test: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        service(healthcheck={"test": test})


def test_healthcheck_string_none_disables() -> None:
    check = service(healthcheck={"test": "NONE"}).healthcheck
    assert check is not None and check.test == ["NONE"] and check.disabled


def test_ports_short_syntax() -> None:
    ports = service(
        ports=["8080:80", "127.0.0.1:5353:53/udp", 22, "9000-9001:90-91", "[::1]:8443:443", "3000-3005:3000"]
    ).ports
    assert [(p.host_ip, p.published, p.target, p.protocol) for p in ports] == [
        ("", "8080", 80, "tcp"),
        ("127.0.0.1", "5353", 53, "udp"),
        ("", None, 22, "tcp"),
        ("", "9000", 90, "tcp"),
        ("", "9001", 91, "tcp"),
        ("::1", "8443", 443, "tcp"),
        ("", "3000-3005", 3000, "tcp"),
    ]
    assert ports[-1].published_range == (3000, 3005)


def test_ports_long_syntax() -> None:
    port = service(
        ports=[{"target": 80, "published": 8080, "host_ip": "127.0.0.1", "protocol": "udp"}]
    ).ports[0]
    assert port == PortSpec(target=80, published="8080", host_ip="127.0.0.1", protocol="udp")


def test_volumes_short_and_long() -> None:
    volumes = service(
        volumes=[
            "./data:/data:ro",
            "cache:/cache",
            "/anon",
            {"type": "tmpfs", "target": "/run", "tmpfs": {"size": "1m"}},
        ]
    ).volumes
    assert (volumes[0].type, volumes[0].source, volumes[0].read_only) == ("bind", "/proj/data", True)
    assert (volumes[1].type, volumes[1].source) == ("volume", "cache")
    assert (volumes[2].type, volumes[2].source, volumes[2].target) == ("volume", None, "/anon")
    assert volumes[3].tmpfs is not None and volumes[3].tmpfs.size == 1024 * 1024
    with pytest.raises(ValidationError, match="absolute path"):
        service(volumes=["data:relative"])


def test_rootfs_is_resolved_against_the_project_directory() -> None:
    assert service(image=None, rootfs="../rootfs/busybox").rootfs == Path("/rootfs/busybox")


@pytest.mark.parametrize(
    ("source", "resolved"),
    [
        ("./data", "/proj/data"),
        (".", "/proj"),
        ("..", "/"),
        ("../../../up", "/up"),
        ("./a//b/./c/", "/proj/a/b/c"),
        ("/abs/./x/../y", "/abs/y"),
        ("//double", "/double"),
        ("~", "/home/me"),
        ("~/cache/../data", "/home/me/data"),
    ],
)
def test_bind_sources_are_made_absolute_lexically(source: str, resolved: str) -> None:
    assert service(volumes=[f"{source}:/mnt"]).volumes[0].source == resolved
    assert service(image=None, rootfs=source).rootfs == Path(resolved)


def test_paths_do_not_look_at_the_disk_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.chdir("/")
    context = ModelContext(project_directory=tmp_path, home_directory=Path("/home/other"))
    spec = ServiceSpec.model_validate(
        {"rootfs": "link/../x", "volumes": ["./link/sub:/a", "~/y:/b"]}, context=context
    )
    assert spec.rootfs == tmp_path / "x"  # ".." folded lexically, the symlink not followed
    assert [v.source for v in spec.volumes] == [str(tmp_path / "link/sub"), "/home/other/y"]


def test_a_relative_path_needs_the_context() -> None:
    with pytest.raises(MissingContextError, match="ModelContext"):
        ServiceSpec.model_validate({"rootfs": "relative"})
    with pytest.raises(MissingContextError):
        ServiceSpec.model_validate(
            {"image": "x", "volumes": ["./data:/data"]}, context={"project_directory": "/p"}
        )
    absolute = ServiceSpec.model_validate({"image": "x", "volumes": ["/srv:/srv"], "rootfs": "/r"})
    assert (absolute.volumes[0].source, absolute.rootfs) == ("/srv", Path("/r"))


def test_home_paths_need_a_known_home_and_no_user_name() -> None:
    without_home = ModelContext(project_directory=Path("/proj"))
    with pytest.raises(ValidationError, match="home directory is not known"):
        ServiceSpec.model_validate({"image": "x", "volumes": ["~/x:/x"]}, context=without_home)
    with pytest.raises(ValidationError, match="~USER paths are not supported"):
        service(volumes=["~root/x:/x"])


def test_sizes_ulimits_sysctls_extra_hosts() -> None:
    spec = service(
        mem_limit="1.5g",
        shm_size=1024,
        memswap_limit=-1,
        ulimits={"nofile": 1024, "nproc": {"soft": 10, "hard": 20}},
        sysctls=["net.ipv4.ip_forward=1"],
        extra_hosts=["db:10.0.0.2", "v6=::1", "many=1.1.1.1"],
    )
    assert spec.mem_limit == int(1.5 * 1024**3) and spec.shm_size == 1024 and spec.memswap_limit == -1
    assert (spec.ulimits["nofile"].soft, spec.ulimits["nproc"].hard) == (1024, 20)
    assert spec.sysctls == {"net.ipv4.ip_forward": "1"}
    assert spec.extra_hosts == [("db", "10.0.0.2"), ("v6", "::1"), ("many", "1.1.1.1")]
    assert service(extra_hosts={"h": ["1.1.1.1", "::1"]}).extra_hosts == [("h", "1.1.1.1"), ("h", "::1")]


def test_effective_limits_and_replicas() -> None:
    deploy = {"replicas": 3, "resources": {"limits": {"memory": "64m", "cpus": "0.5", "pids": 10}}}
    spec = service(deploy=deploy)
    assert (spec.replicas, spec.memory_limit, spec.cpu_limit, spec.pids_max) == (3, 64 * 1024**2, 0.5, 10)
    own = service(deploy=deploy, scale=2, mem_limit="32m", cpus=1, pids_limit=-1)
    assert (own.replicas, own.memory_limit, own.cpu_limit, own.pids_max) == (2, 32 * 1024**2, 1.0, None)
    assert service().replicas == 1


def test_networks_list_and_map_order_gives_interfaces() -> None:
    spec = service(
        networks={"front": None, "back": {"ipv4_address": "10.0.0.2", "interface_name": "data0"}, "x": {}}
    )
    assert list(spec.networks) == ["front", "back", "x"]
    assert spec.interface_names() == {"front": "eth0", "back": "data0", "x": "eth2"}
    assert service(networks=["a", "b"]).interface_names() == {"a": "eth0", "b": "eth1"}


def test_routes_forms() -> None:
    routes = service(routes=["10.0.0.0/8 via 10.1.0.1", {"to": "default", "via": "10.1.0.254"}]).routes
    assert [(r.to, r.via) for r in routes] == [("10.0.0.0/8", "10.1.0.1"), ("default", "10.1.0.254")]
    with pytest.raises(ValidationError, match="DESTINATION via GATEWAY"):
        service(routes=["10.0.0.0/8 10.1.0.1"])


def test_extension_keys_are_ignored_but_not_in_free_maps() -> None:
    spec = service(
        **{"x-note": "hi", "labels": {"x-team": "net"}, "healthcheck": {"test": "true", "x-why": 1}}
    )
    assert spec.labels == {"x-team": "net"}


def test_models_are_frozen_and_closed() -> None:
    spec = service()
    with pytest.raises(ValidationError):
        spec.image = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        service(restrat="always")


def test_network_driver_and_mtu() -> None:
    assert NetworkSpec.model_validate({"driver_opts": {"com.docker.network.driver.mtu": 1400}}).mtu == 1400
    assert NetworkSpec.model_validate({"driver_opts": {"mtu": "9000"}}).mtu == 9000
    assert NetworkSpec().mtu is None
    with pytest.raises(ValidationError, match="not supported"):
        NetworkSpec.model_validate({"driver": "macvlan"})
    with pytest.raises(ValidationError, match="MTU between"):
        NetworkSpec.model_validate({"driver_opts": {"mtu": "big"}})


def test_link_forms_and_resource_id() -> None:
    short = LinkSpec.model_validate("r2:eth1 -- r1:eth1")
    long = LinkSpec.model_validate(
        {
            "endpoints": ["r2:eth1", {"service": "r1", "interface": "eth1"}],
            "ipv4": ["10.0.0.1/30", "10.0.0.2/30"],
            "rate": "10mbit",
            "delay": "10ms",
            "jitter": "1ms",
            "loss": "0.5%",
            "mtu": 1400,
        }
    )
    assert short.resource_id == long.resource_id == "link:r1:eth1--r2:eth1"
    assert (long.rate, long.delay, long.jitter, long.loss, long.mtu) == (10_000_000, 0.01, 0.001, 0.5, 1400)
    assert long.ipv4 == ("10.0.0.1/30", "10.0.0.2/30") and long.has_netem and not short.has_netem
    with pytest.raises(ValidationError, match="exactly two"):
        LinkSpec.model_validate({"endpoints": ["a:e"]})


def test_default_network_is_added_like_compose() -> None:
    project = ProjectSpec.model_validate(
        {
            "services": {
                "a": {"image": "x"},
                "b": {"image": "x", "network_mode": "none"},
                "c": {"image": "x", "networks": ["n"]},
            },
            "networks": {"n": None},
        }
    )
    assert list(project.networks) == ["n", "default"]
    assert list(project.services["a"].networks) == ["default"]
    assert project.services["b"].networks == {} and list(project.services["c"].networks) == ["n"]
    lab = ProjectSpec.model_validate({"services": {"r": {"image": "x", "network_mode": "none"}}})
    assert lab.networks == {}


def test_an_end_outside_the_project_is_a_mapping_with_its_rules() -> None:
    link = LinkSpec.model_validate(
        {"endpoints": [{"host": "lan1", "bridge": "br0"}, "r1:eth1"], "a_to_b": None}
    )
    assert (link.resource_id, link.outside_side) == ("link:host:lan1--r1:eth1", 0)
    shaped = LinkSpec.model_validate(
        {"endpoints": ["r1:eth1", {"host": "r1-eth1"}], "a_to_b": {"rate": "1mbit"}}
    )
    assert shaped.direction(0)["rate"] == 1_000_000  # the container's egress may be shaped
    assert LinkSpec.model_validate({"endpoints": ["r1:eth1", {"macvlan": "eno1"}]}).endpoints[1].mode is None
    assert LinkSpec.model_validate("host:eth1 -- r1:eth1").outside_side is None  # a string is SERVICE:IF


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ({"endpoints": [{"host": "a"}, {"host": "b"}]}, "at most one endpoint is host: or macvlan:"),
        ({"endpoints": ["r1:eth1", {"host": "h", "macvlan": "eno1"}]}, "a link endpoint is one of"),
        ({"endpoints": ["r1:eth1", {"service": "r2"}]}, "needs service and interface"),
        ({"endpoints": ["r1:eth1", {"macvlan": "eno1", "bridge": "br0"}]}, "give host: too"),
        ({"endpoints": ["r1:eth1", {"host": "h", "mode": "vepa"}]}, "give macvlan: too"),
        ({"endpoints": ["r1:eth1", {"macvlan": "eno1", "mode": "shared"}]}, "bridge"),
        (
            {"endpoints": ["r1:eth1", {"host": "h"}], "ipv4": ["10.0.0.1/30", "10.0.0.2/30"]},
            "no ipv4/ipv6 pair",
        ),
        ({"endpoints": ["r1:eth1", {"host": "h"}], "delay": "10ms"}, "shapes no traffic in the host"),
        ({"endpoints": [{"host": "h"}, "r1:eth1"], "a_to_b": {"loss": 1}}, "impairments of a_to_b"),
    ],
)
def test_outside_ends_that_cannot_be_made_are_refused(link: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LinkSpec.model_validate(link)
