"""The rootless decisions: id mapping, paths, userns refusals, limits, pasta's command line (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.model.build import limit_keys
from composer.model.container import LIMIT_KEYS, CgroupLimits
from composer.model.rootless import (
    LIMIT_CONTROLLERS,
    Forward,
    IdRange,
    LimitSupport,
    default_paths,
    enforceable_limits,
    limits_note,
    lost_limits,
    parse_subordinate,
    pasta_argv,
    plan_mapping,
    rootless_limit_support,
    single_id_warning,
    unsupported_limits,
    userns_refusal,
)
from composer.project.models import ModelContext, ServiceSpec

SUBUID = """\
# comment
alice:100000:65536
bob:165536:65536
1003:231072:1000
carol:notanumber:5
dave:300000:0
alice:500000:65536
"""


def test_subordinate_ranges_by_name_or_uid_in_file_order() -> None:
    assert parse_subordinate(SUBUID, "alice", 1001) == [(100000, 65536), (500000, 65536)]
    assert parse_subordinate(SUBUID, "erin", 1003) == [(231072, 1000)]
    assert parse_subordinate(SUBUID, "carol", 1004) == []  # a malformed line is no range
    assert parse_subordinate(SUBUID, "dave", 1005) == []  # neither is an empty one
    assert parse_subordinate("", "alice", 1001) == []


def test_mapping_puts_the_caller_at_root_and_the_first_range_after_it() -> None:
    mapping = plan_mapping(1001, 1002, [(100000, 65536)], [(200000, 70000)])
    assert not mapping.single
    assert mapping.uids == (IdRange(0, 1001, 1), IdRange(1, 100000, 65536))
    assert mapping.gids == (IdRange(0, 1002, 1), IdRange(1, 200000, 65536))  # capped at 65536 ids
    assert mapping.uid_argv(42) == ["newuidmap", "42", "0", "1001", "1", "1", "100000", "65536"]
    assert mapping.gid_argv(42) == ["newgidmap", "42", "0", "1002", "1", "1", "200000", "65536"]


def test_without_both_ranges_only_the_caller_is_mapped() -> None:
    for subuids, subgids in (([], [(1, 5)]), ([(1, 5)], []), ([], [])):
        mapping = plan_mapping(1001, 1001, subuids, subgids)
        assert mapping.single
        assert mapping.uid_map_text() == "0 1001 1\n" and mapping.gid_map_text() == "0 1001 1\n"


def test_the_single_id_warning_names_the_line_to_add() -> None:
    text = single_id_warning("alice", have_helpers=True)
    assert "alice:100000:65536" in text and "/etc/subuid" in text and "/etc/subgid" in text
    assert "uidmap" in single_id_warning("alice", have_helpers=False)


def test_paths_follow_xdg_and_the_overrides() -> None:
    home = "/home/alice"
    assert default_paths(1001, {}, home).state == Path("/tmp/composer-1001")
    assert default_paths(1001, {}, home).images == Path("/home/alice/.local/share/composer")
    env = {"XDG_RUNTIME_DIR": "/run/user/1001", "XDG_DATA_HOME": "/data/alice"}
    assert default_paths(1001, env, home).state == Path("/run/user/1001/composer")
    assert default_paths(1001, env, home).images == Path("/data/alice/composer")
    relative = {"XDG_RUNTIME_DIR": "run", "XDG_DATA_HOME": "data"}  # not absolute: ignored, as the spec says
    assert default_paths(1001, relative, home) == default_paths(1001, {}, home)
    override = {**env, "COMPOSER_ROOT": "/srv/state", "COMPOSER_IMAGE_ROOT": "/srv/images"}
    assert default_paths(1001, override, home).state == Path("/srv/state")
    assert default_paths(1001, override, home).images == Path("/srv/images")


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("kernel/unprivileged_userns_clone", "0", "sysctl -w kernel.unprivileged_userns_clone=1"),
        ("user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces="),
        (
            "kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "kernel.apparmor_restrict_unprivileged_userns=0",
        ),
    ],
)
def test_each_userns_restriction_names_its_sysctl(key: str, value: str, named: str) -> None:
    reason = userns_refusal({key: value})
    assert reason is not None and named in reason


def test_nothing_forbids_userns_on_an_ordinary_host() -> None:
    ordinary = {
        "kernel/unprivileged_userns_clone": None,  # a kernel without Debian's knob
        "user/max_user_namespaces": "96362",
        "kernel/apparmor_restrict_unprivileged_userns": "0",
    }
    assert userns_refusal(ordinary) is None


LIMITS = CgroupLimits(memory=64 << 20, cpus=0.5, pids=50)


def test_cgroup_v1_and_an_undelegated_v2_hold_no_limit() -> None:
    v1 = rootless_limit_support(1, ["memory"], True)
    assert not v1.use_cgroups and "v1" in v1.reason
    v2 = rootless_limit_support(2, ["memory", "pids"], False, "/user.slice/user-1001.slice/session-3.scope")
    assert not v2.use_cgroups and "not delegated" in v2.reason and "session-3.scope" in v2.reason
    assert unsupported_limits(LIMITS, v1) == ["memory", "cpus", "pids"]


def test_a_delegated_v2_holds_what_its_controllers_enforce() -> None:
    partial = rootless_limit_support(2, ["memory", "pids", "io"], True, "/user@1001.service")
    assert partial.use_cgroups and partial.controllers == frozenset({"memory", "pids", "io"})
    assert "cpu" in partial.reason
    assert unsupported_limits(LIMITS, partial) == ["cpus"]
    assert enforceable_limits(LIMITS, partial) == CgroupLimits(memory=64 << 20, pids=50)
    full = rootless_limit_support(2, ["cpuset", "cpu", "io", "memory", "pids"], True)
    assert full.reason == "" and enforceable_limits(LIMITS, full) == LIMITS


def test_one_note_names_every_lost_limit_by_its_key_in_the_file() -> None:
    support = LimitSupport(frozenset({"pids"}), "the controllers cpu, cpuset, memory are not delegated")
    limits = {"b": CgroupLimits(memory=1 << 20), "a": LIMITS, "c": CgroupLimits(pids=5)}
    keys = {"a": {**LIMIT_KEYS, "memory": "deploy.resources.limits.memory"}}
    # b has no keys given: its plain compose key (mem_limit, never the field name memory)
    assert lost_limits(limits, support, keys) == (
        "services.a.deploy.resources.limits.memory, services.a.cpus, services.b.mem_limit"
    )
    note = limits_note(limits, support, keys)
    assert note is not None and note.count("rootless:") == 1
    assert "not delegated" in note and "--strict-limits" in note and "COMPOSER_STRICT_LIMITS=1" in note
    assert limits_note({"c": CgroupLimits(pids=5)}, support) is None


def test_the_note_never_names_an_internal_field() -> None:
    # every limit field has its compose key (a new field without one would be named by its own name)
    assert set(LIMIT_KEYS) == set(CgroupLimits.__dataclass_fields__) == set(LIMIT_CONTROLLERS)
    every = CgroupLimits(
        memory=1, memory_swap=2, memory_reservation=1, cpus=0.5, cpu_shares=512, cpuset="0",
        pids=5, memory_swappiness=0, oom_kill_disable=True, blkio_weight=300,
        blkio_devices=(("read_bps", "/dev/sda", 1 << 20),),
    )  # fmt: skip
    lost = lost_limits({"s": every}, rootless_limit_support(1, (), False))
    assert lost == (
        "services.s.mem_limit, services.s.memswap_limit, services.s.mem_reservation,"
        " services.s.mem_swappiness, services.s.oom_kill_disable, services.s.cpus,"
        " services.s.cpu_shares, services.s.cpuset, services.s.pids_limit,"
        " services.s.blkio_config.weight, services.s.blkio_config"
    )


def _service(**fields: object) -> ServiceSpec:
    context = ModelContext(project_directory=Path("/proj"), home_directory=Path("/home/me"))
    return ServiceSpec.model_validate({"image": "busybox", **fields}, context=context)


def test_limit_keys_name_the_key_that_set_each_limit() -> None:
    plain = limit_keys(_service(mem_limit="64m", cpus=0.5, pids_limit=10, mem_reservation="8m"))
    assert {plain[f] for f in ("memory", "cpus", "pids", "memory_reservation")} == {
        "mem_limit", "cpus", "pids_limit", "mem_reservation"
    }  # fmt: skip
    deploy = limit_keys(_service(deploy={"resources": {
        "limits": {"memory": "64m", "cpus": "0.5", "pids": 10}, "reservations": {"memory": "8m"}
    }}))  # fmt: skip
    assert deploy["memory"] == "deploy.resources.limits.memory"
    assert deploy["cpus"] == "deploy.resources.limits.cpus"
    assert deploy["pids"] == "deploy.resources.limits.pids"
    assert deploy["memory_reservation"] == "deploy.resources.reservations.memory"
    # both spellings: the plain key wins (as the limit itself does), so the note names that one
    both = limit_keys(_service(mem_limit="32m", deploy={"resources": {"limits": {"memory": "64m"}}}))
    assert both["memory"] == "mem_limit"
    assert limit_keys(_service(cpu_quota=50000))["cpus"] == "cpu_quota"
    assert limit_keys(_service(cpu_shares=512))["cpu_shares"] == "cpu_shares"
    one_list = {"device_read_bps": [{"path": "/dev/sda", "rate": "1mb"}]}
    assert limit_keys(_service(blkio_config=one_list))["blkio_devices"] == "blkio_config.device_read_bps"
    two_lists = {**one_list, "weight_device": [{"path": "/dev/sda", "weight": 200}]}
    assert limit_keys(_service(blkio_config=two_lists))["blkio_devices"] == "blkio_config"


def test_pasta_is_attached_to_the_project_with_its_ports_only() -> None:
    argv = pasta_argv("/usr/bin/pasta", "/proc/9/ns/net", "/proc/9/ns/user", [], "/s/p.pid", ipv6=False)
    assert argv[:2] == ["/usr/bin/pasta", "--config-net"]
    assert "--no-map-gw" in argv and "--ipv4-only" in argv
    assert argv[argv.index("--netns") + 1] == "/proc/9/ns/net"
    assert argv[argv.index("--userns") + 1] == "/proc/9/ns/user"
    flags = " ".join(argv[argv.index("-t") :])
    assert flags == "-t none -u none -T none -U none"  # no scanning, no way back to the host's loopback
    forwards = [
        Forward("tcp", 8080),
        Forward("tcp", 443, "127.0.0.1"),
        Forward("udp", 53),
        Forward("tcp", 80),
    ]
    argv = pasta_argv("pasta", "n", "u", forwards, "p", ipv6=True)
    assert "--ipv4-only" not in argv
    assert " ".join(argv[argv.index("-t") :]) == "-t 80,8080 -t 127.0.0.1/443 -u 53 -T none -U none"
