"""compose-go's merge rules per field: ``-f base -f override`` on one service, then unicity.

Each row is (field, base value, override value, merged value) on ``services.web``;
the merged value is the raw tree after ``merge_projects`` and ``enforce_unicity``
(the models normalise it afterwards).
"""

from __future__ import annotations

from typing import Any

import pytest

from composer.project.merge import enforce_unicity, merge_projects

ROWS: list[tuple[str, Any, Any, Any]] = [
    # scalars: the later wins; a null keeps the earlier
    ("image", "a:1", "b:2", "b:2"),
    ("image", "a:1", None, "a:1"),
    ("privileged", True, False, False),
    # replaced as a whole
    ("command", ["a", "b"], ["c"], ["c"]),
    ("command", "sh -c x", ["y"], ["y"]),
    ("entrypoint", ["/init"], ["/other", "x"], ["/other", "x"]),
    (
        "healthcheck",
        {"test": ["CMD", "a"], "interval": "5s"},
        {"test": ["CMD", "b"]},
        {"test": ["CMD", "b"], "interval": "5s"},
    ),
    # mappings written as maps or lists, merged by key, the later value in the earlier place
    ("environment", {"A": "1", "B": "2"}, {"B": "3", "C": "4"}, ["A=1", "B=3", "C=4"]),
    ("environment", ["A=1", "B=2"], {"B": None}, ["A=1", "B"]),
    ("environment", {"FLAG": True}, {}, ["FLAG=true"]),
    ("labels", {"a": "1"}, ["b=2", "a=3"], ["a=3", "b=2"]),
    ("annotations", {"x": "1"}, {"y": "2"}, ["x=1", "y=2"]),
    (
        "sysctls",
        {"net.core.somaxconn": 1024},
        {"net.ipv4.ip_forward": 1},
        ["net.core.somaxconn=1024", "net.ipv4.ip_forward=1"],
    ),
    (
        "deploy",
        {"labels": {"a": "1"}, "replicas": 1},
        {"labels": {"b": "2"}},
        {"labels": ["a=1", "b=2"], "replicas": 1},
    ),
    # lists appended (unique ones once)
    ("tmpfs", ["/a"], ["/b"], ["/a", "/b"]),
    ("tmpfs", "/a", "/b", ["/a", "/b"]),
    ("dns", ["1.1.1.1"], ["8.8.8.8", "1.1.1.1"], ["1.1.1.1", "8.8.8.8"]),
    ("dns_search", "a.example", ["b.example"], ["a.example", "b.example"]),
    ("cap_add", ["NET_ADMIN"], ["SYS_TIME", "NET_ADMIN"], ["NET_ADMIN", "SYS_TIME"]),
    ("expose", [80], [443, 80], [80, 443]),
    ("profiles", ["a"], ["b", "a"], ["a", "b"]),
    ("security_opt", ["no-new-privileges"], ["apparmor=x"], ["no-new-privileges", "apparmor=x"]),
    # extra_hosts keep their order, no repeats
    (
        "extra_hosts",
        ["b:10.0.0.2", "a:10.0.0.1"],
        ["c=10.0.0.3", "a:10.0.0.1"],
        ["b:10.0.0.2", "a:10.0.0.1", "c=10.0.0.3"],
    ),
    ("extra_hosts", {"a": "10.0.0.1"}, {"b": ["10.0.0.2", "::2"]}, ["a=10.0.0.1", "b=10.0.0.2", "b=::2"]),
    # ports: appended, identical ones once
    ("ports", ["80:80"], ["80:80", "443:443"], ["80:80", "443:443"]),
    (
        "ports",
        [{"target": 80, "published": "8080"}],
        [{"target": 80, "published": "8080"}],
        [{"target": 80, "published": "8080"}],
    ),
    # volumes, secrets, configs: one per target, the later in the earlier's place
    ("volumes", ["./a:/data", "logs:/logs"], ["./b:/data"], ["./b:/data", "logs:/logs"]),
    ("volumes", [{"type": "bind", "source": "./a", "target": "/data"}], ["./b:/data:ro"], ["./b:/data:ro"]),
    ("secrets", ["token"], [{"source": "token", "mode": 0o400}], [{"source": "token", "mode": 0o400}]),
    (
        "secrets",
        ["a"],
        [{"source": "b", "target": "/run/secrets/a"}],
        [{"source": "b", "target": "/run/secrets/a"}],
    ),
    (
        "configs",
        [{"source": "c", "target": "/etc/app.conf"}],
        [{"source": "d", "target": "/etc/app.conf"}],
        [{"source": "d", "target": "/etc/app.conf"}],
    ),
    ("devices", ["/dev/fuse"], ["/dev/fuse:/dev/fuse:r"], ["/dev/fuse:/dev/fuse:r"]),
    # maps by name
    (
        "depends_on",
        ["db"],
        {"cache": {"condition": "service_healthy"}},
        {"db": {"condition": "service_started", "required": True}, "cache": {"condition": "service_healthy"}},
    ),
    (
        "depends_on",
        {"db": {"condition": "service_healthy"}},
        {"db": {"restart": True}},
        {"db": {"condition": "service_healthy", "restart": True}},
    ),
    (
        "networks",
        ["front"],
        {"front": {"aliases": ["www"]}, "back": None},
        {"front": {"aliases": ["www"]}, "back": None},
    ),
    (
        "networks",
        {"front": {"aliases": ["a"]}},
        {"front": {"aliases": ["b", "a"]}},
        {"front": {"aliases": ["a", "b"]}},
    ),
    (
        "ulimits",
        {"nofile": {"soft": 1, "hard": 2}, "nproc": 5},
        {"nofile": {"soft": 3, "hard": 4}},
        {"nofile": {"soft": 3, "hard": 4}, "nproc": 5},
    ),
    ("ulimits", {"nofile": {"soft": 1, "hard": 2}}, {"nofile": 10}, {"nofile": 10}),
    # logging: merged when the driver is the same, replaced otherwise
    (
        "logging",
        {"driver": "json-file", "options": {"max-size": "1m"}},
        {"options": {"max-file": "3"}},
        {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}},
    ),
    (
        "logging",
        {"driver": "json-file", "options": {"max-size": "1m"}},
        {"driver": "syslog"},
        {"driver": "syslog"},
    ),
    # env_file: appended, one per path
    ("env_file", "a.env", ["b.env", "a.env"], ["a.env", "b.env"]),
    ("env_file", [{"path": "a.env", "required": False}], ["a.env"], ["a.env"]),
]


@pytest.mark.parametrize(
    ("field", "base", "extra", "expected"), ROWS, ids=[f"{row[0]}-{index}" for index, row in enumerate(ROWS)]
)
def test_field_rule(field: str, base: Any, extra: Any, expected: Any) -> None:
    merged = merge_projects({"services": {"web": {field: base}}}, {"services": {"web": {field: extra}}})
    assert enforce_unicity(merged)["services"]["web"][field] == expected


def test_a_service_only_in_the_override_is_added_and_top_level_maps_merge() -> None:
    base = {"services": {"a": {"image": "x"}}, "networks": {"n": {"internal": True}}}
    extra = {"services": {"b": {"image": "y"}}, "networks": {"n": {"labels": {"k": "v"}}, "m": None}}
    merged = merge_projects(base, extra)
    assert merged["services"] == {"a": {"image": "x"}, "b": {"image": "y"}}
    assert merged["networks"] == {"n": {"internal": True, "labels": {"k": "v"}}, "m": None}


def test_ipam_pools_merge_by_subnet() -> None:
    base = {"networks": {"n": {"ipam": {"config": [{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}]}}}}
    extra = {
        "networks": {
            "n": {
                "ipam": {
                    "config": [
                        {"subnet": "10.0.0.0/24", "ip_range": "10.0.0.128/25"},
                        {"subnet": "10.1.0.0/24"},
                    ]
                }
            }
        }
    }
    pools = merge_projects(base, extra)["networks"]["n"]["ipam"]["config"]
    assert pools == [
        {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.128/25"},
        {"subnet": "10.1.0.0/24"},
    ]


TAGGED = [
    # (path tagged in the override, override value, merged value or MISSING)
    (("services", "web", "ports"), ["9090:90"], ["9090:90"]),
    (("services", "web", "environment"), {"ONLY": "this"}, {"ONLY": "this"}),
    (("services", "web", "image"), "other:1", "other:1"),
    (("services", "web", "networks"), {"back": None}, {"back": None}),
]


@pytest.mark.parametrize(("path", "value", "expected"), TAGGED)
def test_override_tag_replaces_instead_of_merging(path: tuple[str, ...], value: Any, expected: Any) -> None:
    base = {
        "services": {
            "web": {"image": "a", "ports": ["80:80"], "environment": {"A": "1"}, "networks": ["front"]}
        }
    }
    merged = merge_projects(base, {"services": {"web": {path[-1]: value}}}, overrides=[path])
    assert merged["services"]["web"][path[-1]] == expected


@pytest.mark.parametrize("field", ["ports", "environment", "image", "networks", "healthcheck"])
def test_reset_tag_removes_the_earlier_value(field: str) -> None:
    base = {
        "services": {
            "web": {
                "image": "a",
                "ports": ["80:80"],
                "environment": {"A": "1"},
                "networks": ["front"],
                "healthcheck": {"test": "true"},
            }
        }
    }
    merged = merge_projects(base, {"services": {"web": {}}}, resets=[("services", "web", field)])
    assert field not in merged["services"]["web"]
    assert set(merged["services"]["web"]) == set(base["services"]["web"]) - {field}
