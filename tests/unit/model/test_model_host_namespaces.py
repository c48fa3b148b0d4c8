"""Planning ``pid/ipc/uts/cgroup: host``: which namespaces a container keeps, and what up refuses."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from composer.kernel import syscalls as sc
from composer.kernel.process.child import namespace_flags
from composer.model.build import BuildInputs, build_desired
from composer.model.container import ContainerConfig
from composer.project.loader import load_project
from composer.project.refusals import refusals
from composer.store.layout import ProjectLayout

_IPC_NOTE = " (private, shareable and host are what composer does)"


def _write(tmp_path: Path, service: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(dedent("name: p\nservices:\n  s:\n    rootfs: .\n    command: [true]\n") + service)
    return path


def _config(tmp_path: Path, service: str) -> ContainerConfig:
    loaded = load_project([_write(tmp_path, service)], environ={})
    desired = build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    (container,) = desired.containers.values()
    return container.config


def _refused(tmp_path: Path, service: str) -> list[tuple[str, int, str, str]]:
    project = load_project([_write(tmp_path, service)], environ={})
    return [
        (issue.path, issue.line, issue.message, issue.hint)
        for issue in refusals(project.spec, project.locate, "x86_64")
    ]


def test_host_values_are_kept_namespaces_in_a_fixed_order(tmp_path: Path) -> None:
    service = "    uts: host\n    pid: host\n    cgroup: host\n    ipc: host\n"
    assert _config(tmp_path, service).host_namespaces == ("cgroup", "ipc", "pid", "uts")
    assert _refused(tmp_path, service) == []


def test_default_and_private_values_keep_nothing(tmp_path: Path) -> None:
    assert _config(tmp_path, "").host_namespaces == ()
    assert _config(tmp_path, "    ipc: shareable\n    cgroup: private\n").host_namespaces == ()


def test_kept_namespaces_survive_the_stored_config(tmp_path: Path) -> None:
    config = _config(tmp_path, "    pid: host\n")
    assert ContainerConfig.from_json(config.to_json()) == config


def test_unshare_flags_drop_only_the_kept_kinds() -> None:
    everything = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWCGROUP
    assert namespace_flags(()) == everything
    assert namespace_flags(("ipc", "uts")) == sc.CLONE_NEWNS | sc.CLONE_NEWCGROUP
    assert namespace_flags(("cgroup", "ipc", "pid", "uts")) == sc.CLONE_NEWNS


@pytest.mark.parametrize("field", ["hostname", "domainname"])
def test_a_name_of_its_own_with_uts_host_is_an_error_at_its_line(tmp_path: Path, field: str) -> None:
    found = _refused(tmp_path, f"    uts: host\n    {field}: web\n")
    assert len(found) == 1
    path, line, message, fix = found[0]
    assert path == f"services.s.{field}" and line == 7
    assert "conflicts with `uts: host`" in message
    assert fix == f"remove `{field}:` or `uts: host`"


@pytest.mark.parametrize("field", ["pid", "ipc", "uts"])
@pytest.mark.parametrize("value", ["service:other", "container:other"])
def test_joining_another_container_stays_refused(tmp_path: Path, field: str, value: str) -> None:
    found = _refused(tmp_path, f"    {field}: '{value}'\n")
    assert [(f, m) for f, _line, m, _fix in found] == [
        (
            f"services.s.{field}",
            f"`{field}` of service `s` cannot be honoured: joining another container's namespace"
            " (service:NAME, container:NAME) is not supported yet"
            + (_IPC_NOTE if field == "ipc" else " (host is what composer does)"),
        )
    ]
