"""``blkio_config`` read from the file: byte rates with units, per-device settings, bad values located."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import SpecError
from composer.model.build import BuildInputs, build_desired
from composer.model.container import ContainerConfig
from composer.project.loader import load_project
from composer.store.layout import ProjectLayout

SERVICE = """\
name: p
services:
  s:
    rootfs: .
    command: [true]
    blkio_config:
"""


def _load(tmp_path: Path, blkio: str) -> ContainerConfig:
    path = tmp_path / "compose.yaml"
    path.write_text(SERVICE + blkio)
    loaded = load_project([path], environ={})
    desired = build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    (container,) = desired.containers.values()
    return container.config


def test_every_setting_becomes_a_limit_and_survives_the_stored_config(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "      weight: 300\n"
        "      weight_device: [{path: /dev/sda, weight: 400}]\n"
        "      device_read_bps: [{path: /dev/sdb, rate: 12mb}]\n"
        "      device_write_bps: [{path: /dev/sdb, rate: 1024}]\n"
        "      device_read_iops: [{path: /dev/sdb, rate: 120}]\n"
        "      device_write_iops: [{path: /dev/sdb, rate: 30}]\n",
    )
    assert config.cgroup.blkio_weight == 300
    assert config.cgroup.blkio_devices == (
        ("weight", "/dev/sda", 400),
        ("read_bps", "/dev/sdb", 12 << 20),
        ("write_bps", "/dev/sdb", 1024),
        ("read_iops", "/dev/sdb", 120),
        ("write_iops", "/dev/sdb", 30),
    )
    assert ContainerConfig.from_json(config.to_json()) == config


def test_a_weight_alone_sets_no_device(tmp_path: Path) -> None:
    config = _load(tmp_path, "      weight: 10\n")
    assert (config.cgroup.blkio_weight, config.cgroup.blkio_devices) == (10, None)


@pytest.mark.parametrize(
    ("blkio", "path"),
    [
        ("      weight: 5\n", "services.s.blkio_config.weight"),
        (
            "      weight_device: [{path: /dev/sda, weight: 1001}]\n",
            "services.s.blkio_config.weight_device.0.weight",
        ),
        (
            "      device_read_iops: [{path: /dev/sda, rate: fast}]\n",
            "services.s.blkio_config.device_read_iops.0.rate",
        ),
        ("      device_read_bps: [{rate: 1}]\n", "services.s.blkio_config.device_read_bps.0.path"),
        ("      weigth: 300\n", "services.s.blkio_config.weigth"),
    ],
)
def test_bad_values_are_errors_at_their_field(tmp_path: Path, blkio: str, path: str) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, blkio)
    assert [issue.path for issue in caught.value.issues] == [path]
    assert caught.value.issues[0].line == 7
