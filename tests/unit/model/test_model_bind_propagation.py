"""A bind's ``propagation``, long and short syntax, as the container's mount is told; shared refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.model.build import BuildInputs, build_desired
from composer.model.container import ContainerConfig
from composer.project.loader import LoadedProject, load_project
from composer.project.refusals import refusals
from composer.store.layout import ProjectLayout

SERVICE = "name: p\nservices:\n  s:\n    rootfs: .\n    command: [true]\n    volumes:\n"


def _loaded(tmp_path: Path, volumes: str) -> LoadedProject:
    path = tmp_path / "compose.yaml"
    path.write_text(SERVICE + volumes)
    return load_project([path], environ={})


def _propagation(tmp_path: Path, volumes: str) -> list[str]:
    loaded = _loaded(tmp_path, volumes)
    desired = build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    (container,) = desired.containers.values()
    config: ContainerConfig = container.config
    assert ContainerConfig.from_json(config.to_json()) == config
    return [m.propagation for m in config.mounts if m.kind == "bind"]


@pytest.mark.parametrize(
    ("volumes", "expected"),
    [
        ("      - ./a:/a\n", ["rprivate"]),  # Docker's default
        ("      - ./a:/a:rslave\n", ["rslave"]),
        ("      - ./a:/a:ro,slave\n", ["slave"]),
        ("      - {type: bind, source: ./a, target: /a, bind: {propagation: private}}\n", ["private"]),
    ],
)
def test_the_propagation_a_bind_is_given(tmp_path: Path, volumes: str, expected: list[str]) -> None:
    assert _propagation(tmp_path, volumes) == expected


@pytest.mark.parametrize("mode", ["shared", "rshared"])
def test_shared_propagation_is_refused_with_the_way_out(tmp_path: Path, mode: str) -> None:
    loaded = _loaded(tmp_path, f"      - ./a:/a:{mode}\n")
    found = refusals(loaded.spec, loaded.locate, "x86_64")
    assert [(issue.path, issue.hint) for issue in found] == [
        (
            "services.s.volumes",
            "use `propagation: rslave` (the host's later mounts appear inside) or leave it out (rprivate)",
        )
    ]
