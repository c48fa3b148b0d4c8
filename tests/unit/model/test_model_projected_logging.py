"""build_desired's secrets, configs and logging: the files to write, their binds, the log settings."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from composer.errors import SpecError
from composer.model.build import BuildInputs, build_desired
from composer.model.container import ContainerConfig, LogConfig, MountConfig, ProjectedFile
from composer.project.loader import load_project
from composer.store.layout import ProjectLayout


def config_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ContainerConfig:
    path = tmp_path / "compose.yaml"
    path.write_text(dedent(text))
    loaded = load_project([path], environ=environ or {})
    layout = ProjectLayout(tmp_path / "state", loaded.name)
    desired = build_desired(loaded, BuildInputs(paths=layout, images={}, service_hashes={}))
    (container,) = desired.containers.values()
    return container.config


SECRETS = """\
name: p
services:
  s:
    rootfs: .
    command: [true]
    {userns}
    secrets: [a, {{source: b, target: b.txt, uid: "5", gid: 6, mode: 0400}}, {{source: a, target: /abs/a}}]
    configs: [c, {{source: d, target: /etc/d.conf, mode: "0440"}}]
secrets:
  a: {{file: ./a.txt}}
  b: {{environment: B_VALUE}}
configs:
  c: {{content: "inline ${{COMPOSE_PROJECT_NAME}}"}}
  d: {{file: conf/d.conf}}
"""


def test_secrets_and_configs_become_files_and_read_only_binds(tmp_path: Path) -> None:
    config = config_of(tmp_path, SECRETS.format(userns=""), {"B_VALUE": "bee"})
    folder = Path(config.state_dir)
    assert config.projected_files == (
        ProjectedFile(str(folder / "secrets/a"), "/run/secrets/a", source=str(tmp_path / "a.txt")),
        ProjectedFile(
            str(folder / "secrets/b-1"), "/run/secrets/b.txt", content="bee", uid=5, gid=6, mode=0o400
        ),
        ProjectedFile(str(folder / "secrets/a-2"), "/abs/a", source=str(tmp_path / "a.txt")),
        ProjectedFile(str(folder / "configs/c"), "/c", content="inline p"),
        ProjectedFile(
            str(folder / "configs/d-1"), "/etc/d.conf", source=str(tmp_path / "conf/d.conf"), mode=0o440
        ),
    )
    binds = [m for m in config.mounts if m.target in {f.target for f in config.projected_files}]
    assert binds == [
        MountConfig("bind", f.target, f.path, read_only=True, create_host_path=False)
        for f in config.projected_files
    ]
    assert ContainerConfig.from_json(config.to_json()) == config


def test_owners_move_into_the_user_namespace_range(tmp_path: Path) -> None:
    config = config_of(tmp_path, SECRETS.format(userns="userns_mode: auto"), {"B_VALUE": "bee"})
    assert [(f.uid, f.gid) for f in config.projected_files][:2] == [(100000, 100000), (100005, 100006)]


def test_an_unset_environment_source_is_reported_at_its_definition(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        config_of(tmp_path, SECRETS.format(userns=""))
    (issue,) = caught.value.issues
    assert (issue.path, issue.message, issue.line) == ("secrets.b", "the variable B_VALUE is not set", 11)


LOGGING = [
    ("", LogConfig()),
    ("logging: {driver: json-file}", LogConfig()),
    ("logging: {driver: json-file, options: {max-size: 1m}}", LogConfig(max_size=1024 * 1024, max_files=1)),
    ("logging: {options: {max-size: 10k, max-file: '4'}}", LogConfig(max_size=10 * 1024, max_files=4)),
    ("logging: {driver: json-file, options: {max-size: '-1'}}", LogConfig(max_size=None, max_files=1)),
    ("logging: {driver: local}", LogConfig(max_size=20 * 1024 * 1024, max_files=5)),
    ("logging: {driver: local, options: {max-file: '2'}}", LogConfig(max_size=20 * 1024 * 1024, max_files=2)),
    ("logging: {driver: none}", LogConfig(driver="none", max_size=None, max_files=1)),
    ("logging: {driver: syslog, options: {syslog-address: 'udp://x:514'}}", LogConfig()),
]


@pytest.mark.parametrize(("logging", "expected"), LOGGING)
def test_logging_maps_onto_composer_rotation(tmp_path: Path, logging: str, expected: LogConfig) -> None:
    text = f"services:\n  s:\n    rootfs: .\n    command: [true]\n    {logging}\n"
    assert config_of(tmp_path, text).logging == expected


def test_other_drivers_warn_once_naming_the_driver(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(
        "services:\n"
        "  a: {rootfs: ., logging: {driver: syslog}}\n"
        "  b: {rootfs: ., logging: {driver: syslog}}\n"
        "  c: {rootfs: ., logging: {driver: gelf}}\n"
        "  d: {rootfs: ., logging: {driver: none}}\n"
    )
    warnings = [w for w in load_project([path], environ={}).warnings if "logging driver" in w]
    assert warnings == [
        "logging driver `gelf` (services c) is not available: composer keeps their output in its own rotated log (composer logs)",
        "logging driver `syslog` (services a, b) is not available: composer keeps their output in its own rotated log (composer logs)",
    ]


@pytest.mark.parametrize(
    ("limits", "cpus"),
    [
        ("cpu_quota: 50000", 0.5),
        ("{cpu_quota: 50000, cpu_period: 200000}", 0.25),
        ("{cpus: 1.5, cpu_quota: 50000}", 1.5),
        ("cpu_quota: -1", None),
    ],
)
def test_cpu_quota_over_its_period_is_a_share_of_cpu(tmp_path: Path, limits: str, cpus: float | None) -> None:
    fields = limits.strip("{}").replace(", ", "\n    ")
    text = f"services:\n  s:\n    rootfs: .\n    command: [true]\n    {fields}\n"
    assert config_of(tmp_path, text).cgroup.cpus == cpus


def test_host_gateway_is_the_bridge_address_of_the_first_network(tmp_path: Path) -> None:
    text = (
        "services:\n  s:\n    rootfs: .\n    command: [true]\n"
        "    extra_hosts: ['host.docker.internal:host-gateway', 'other=10.9.9.9']\n"
        "    networks: [lan]\n"
        "networks:\n  lan: {ipam: {config: [{subnet: 10.77.0.0/24}]}}\n"
    )
    hosts = config_of(tmp_path, text).hosts.splitlines()
    assert "10.77.0.1\thost.docker.internal" in hosts and "10.9.9.9\tother" in hosts
    host_mode = text.replace("    networks: [lan]\n", "    network_mode: host\n").split("networks:\n  lan")[0]
    assert "127.0.0.1\thost.docker.internal" in config_of(tmp_path, host_mode).hosts.splitlines()


def test_volume_subpath_mounts_the_folder_below_the_volume(tmp_path: Path) -> None:
    text = (
        "services:\n  s:\n    rootfs: .\n    command: [true]\n"
        "    volumes: [{type: volume, source: v, target: /w, volume: {subpath: sub/dir}}, 'v:/all']\n"
        "volumes:\n  v: {}\n"
    )
    mounts = {m.target: m.source for m in config_of(tmp_path, text).mounts}
    assert mounts["/w"] == mounts["/all"] + "/sub/dir"


def test_volumes_are_seeded_from_the_image_unless_nocopy_or_a_subpath(tmp_path: Path) -> None:
    text = (
        "services:\n  s:\n    rootfs: .\n    command: [true]\n    volumes:\n"
        "      - v:/named\n      - /anonymous\n      - v:/short-nocopy:nocopy\n      - ./host:/bind\n"
        "      - {type: volume, source: v, target: /long-nocopy, volume: {nocopy: true}}\n"
        "      - {type: volume, source: v, target: /sub, volume: {subpath: a}}\n"
        "volumes:\n  v: {}\n"
    )
    seeded = {m.target: m.seed_from_image for m in config_of(tmp_path, text).mounts}
    assert seeded == {
        "/named": True,
        "/anonymous": True,
        "/short-nocopy": False,
        "/bind": False,
        "/long-nocopy": False,
        "/sub": False,
    }
