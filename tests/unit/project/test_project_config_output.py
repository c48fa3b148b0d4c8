"""``composer config``: its flags through the CLI, and the pure parts under it (durations, variables, platform)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from composer.kernel.mounts import resolv_conf
from composer.kernel.users import ResolvedUser, with_groups
from composer.project.interpolate import Variable, variables_in
from composer.project.normal_form import go_duration
from composer.project.refusals import host_platform

PROJECT = """\
version: "3"
services:
  web:
    image: "nginx:${TAG:-latest}"
    environment: [FROM_SHELL, "LEVEL=${LEVEL:?set the level}"]
    ports: ["8080:80"]
  tool:
    image: busybox
    profiles: [debug]
  built:
    build: .
    profiles: [build]
"""


def composer(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "composer.cli.main", *args], cwd=folder, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "LEVEL": "info", "FROM_SHELL": "shell", **(env or {})}, check=False,
    )  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(PROJECT)
    (tmp_path / ".env").write_text("TAG=1.25\n")
    return tmp_path


def test_json_is_the_normalised_form_and_o_writes_a_file(folder: Path) -> None:
    result = composer(folder, "config", "--format", "json", "-o", "out.json")
    assert result.returncode == 0 and result.stdout == ""
    data = json.loads((folder / "out.json").read_text())
    web = data["services"]["web"]
    assert web["image"] == "nginx:1.25"
    assert web["environment"] == {"FROM_SHELL": "shell", "LEVEL": "info"}
    assert web["ports"] == [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}]
    assert data["networks"] == {"default": {"name": folder.name.lower() + "_default"}}
    assert "`version` is obsolete" in result.stderr


def test_no_interpolate_keeps_the_variables(folder: Path) -> None:
    data = json.loads(composer(folder, "config", "--no-interpolate", "--format", "json").stdout)
    assert data["services"]["web"]["image"] == "nginx:${TAG:-latest}"
    assert data["services"]["web"]["environment"] == ["FROM_SHELL", "LEVEL=${LEVEL:?set the level}"]


def test_no_normalize_prints_the_short_syntax(folder: Path) -> None:
    data = json.loads(composer(folder, "config", "--no-normalize", "--format", "json").stdout)
    assert data["services"]["web"]["ports"] == ["8080:80"]
    assert data["services"]["web"]["image"] == "nginx:1.25"


def test_variables_table_and_json(folder: Path) -> None:
    table = composer(folder, "config", "--variables").stdout.splitlines()
    assert table[0].split() == ["NAME", "REQUIRED", "DEFAULT", "VALUE", "ALTERNATE", "VALUE"]
    assert [row.split() for row in table[1:]] == [["LEVEL", "true"], ["TAG", "false", "latest"]]
    found = json.loads(composer(folder, "config", "--variables", "--format", "json").stdout)
    assert found["TAG"] == {"Name": "TAG", "DefaultValue": "latest", "PresenceValue": "", "Required": False}


def test_environment_images_profiles(folder: Path) -> None:
    environment = composer(folder, "config", "--environment").stdout.splitlines()
    assert "TAG=1.25" in environment and "LEVEL=info" in environment
    assert composer(folder, "--profile", "*", "config", "--images").stdout.split() == [
        "nginx:1.25", "busybox", f"{folder.name.lower()}-built",
    ]  # fmt: skip
    assert composer(folder, "config", "--profiles").stdout.split() == ["build", "debug"]


def test_an_unwritable_output_is_a_clear_error(folder: Path) -> None:
    result = composer(folder, "config", "-o", str(folder / "missing" / "out.yaml"))
    assert result.returncode != 0 and "cannot write" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (1.5, "1.5s"),
        (10, "10s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (0.000002, "2µs"),
    ],
)
def test_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("$A ${B} $$C", [Variable("A"), Variable("B")]),
        ("${A:-x}", [Variable("A", default="x")]),
        ("${A-x}", [Variable("A", default="x")]),
        ("${A:?msg}", [Variable("A", required=True)]),
        ("${A:+alt}", [Variable("A", alternate="alt")]),
        ("${A:-${B:-y}}", [Variable("A", default="${B:-y}"), Variable("B", default="y")]),
        ("plain", []),
    ],
)
def test_variables_in(text: str, found: list[Variable]) -> None:
    assert variables_in(text) == found


@pytest.mark.parametrize(
    ("platform", "machine", "ok"),
    [
        ("linux/amd64", "x86_64", True),
        ("linux/arm64/v8", "aarch64", True),
        ("linux/arm64", "x86_64", False),
        ("windows/amd64", "x86_64", False),
        ("LINUX/AMD64", "x86_64", True),
    ],
)
def test_the_host_platform_only(platform: str, machine: str, ok: bool) -> None:
    assert host_platform(platform, machine) is ok


def test_resolv_conf_search_and_options_replace_the_copied_ones() -> None:
    base = "nameserver 10.0.0.1\nsearch old.example\noptions timeout:1\n"
    assert resolv_conf(base, ("a.example", "b.example"), ()) == (
        "nameserver 10.0.0.1\noptions timeout:1\nsearch a.example b.example\n"
    )
    assert resolv_conf(base, (), ("ndots:2",)) == "nameserver 10.0.0.1\nsearch old.example\noptions ndots:2\n"
    assert resolv_conf(base, (), ()) == base


def test_group_add_looks_names_up_in_the_container(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/group").write_text("adm:x:4:\nmail:x:8:\n")
    user = ResolvedUser(1000, 1000, (1000,), "/", "")
    assert with_groups(user, ["mail", "42"], tmp_path).groups == (8, 42, 1000)
    assert with_groups(user, [], tmp_path) is user
