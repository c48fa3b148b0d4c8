"""Planning ``pid/ipc/uts/cgroup: host``: which namespaces a container keeps, and what up refuses."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from composer.errors import SpecError
from composer.kernel import syscalls as sc
from composer.kernel.process.child import namespace_flags
from composer.model.build import BuildInputs, build_desired
from composer.model.container import ContainerConfig
from composer.model.ids import container_id
from composer.project.loader import load_project
from composer.project.refusals import refusals
from composer.store.layout import ProjectLayout


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


@pytest.mark.parametrize("value", ["service:other", "container:other"])
def test_uts_joins_nothing(tmp_path: Path, value: str) -> None:
    found = _refused(tmp_path, f"    uts: '{value}'\n")
    assert [(f, fix) for f, _line, _m, fix in found] == [
        ("services.s.uts", "remove `uts:`, or set `uts: host`")
    ]


_TWO = """\
name: p
services:
  db:
    rootfs: .
    command: [sleep, "60"]
    scale: SCALE
  app:
    rootfs: .
    command: [sleep, "60"]
    FIELD
"""


def _two(tmp_path: Path, field: str, scale: int = 1) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(_TWO.replace("FIELD", field).replace("SCALE", str(scale)))
    return path


def _desired_two(tmp_path: Path, field: str, scale: int = 1) -> dict[str, ContainerConfig]:
    loaded = load_project([_two(tmp_path, field, scale)], environ={})
    desired = build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    return {c.name: c.config for c in desired.containers.values()}


def test_joined_namespaces_name_the_first_container_and_survive_the_stored_config(tmp_path: Path) -> None:
    configs = _desired_two(tmp_path, "pid: service:db\n    ipc: service:db", scale=2)
    app = configs["p-app-1"]
    assert app.joins == (("ipc", "p-db-1"), ("pid", "p-db-1"))
    assert app.host_namespaces == ()
    assert configs["p-db-1"].joins == ()
    assert ContainerConfig.from_json(app.to_json()) == app


def test_a_joined_namespace_makes_its_owner_a_dependency_that_restarts_it(tmp_path: Path) -> None:
    loaded = load_project([_two(tmp_path, "pid: service:db")], environ={})
    desired = build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    app = next(c for c in desired.containers.values() if c.service == "app")
    dependency = app.depends_on["db"]
    assert (dependency.condition, dependency.required, dependency.restart) == ("service_started", True, True)


def test_network_mode_of_a_service_makes_it_a_dependency(tmp_path: Path) -> None:
    loaded = load_project([_two(tmp_path, "network_mode: service:db")], environ={})
    desired = build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    app = next(c for c in desired.containers.values() if c.service == "app")
    assert app.depends_on["db"].condition == "service_started"


@pytest.mark.parametrize(
    ("field", "message", "fix"),
    [
        ("pid: service:dbx", "unknown service `dbx`", "did you mean `db`?"),
        ("pid: service:app", "`app` cannot join its own pid namespace", "remove `pid:`"),
        (
            "ipc: sharable",
            "unsupported ipc `sharable`",
            "use host, private, shareable, service:NAME or container:NAME",
        ),
        ("pid: private", "unsupported pid `private`", "use host, service:NAME or container:NAME"),
    ],
)
def test_bad_references_are_errors_at_their_line(tmp_path: Path, field: str, message: str, fix: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_project([_two(tmp_path, field)], environ={})
    (issue,) = caught.value.issues
    assert (issue.path, issue.line, issue.message, issue.hint) == (
        f"services.app.{field.partition(':')[0]}",
        10,
        message,
        fix,
    )


def test_an_owner_scaled_to_zero_is_an_error(tmp_path: Path) -> None:
    loaded = load_project([_two(tmp_path, "ipc: service:db", scale=0)], environ={})
    with pytest.raises(SpecError) as caught:
        build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    assert "service `db` has no container whose namespace to join" in str(caught.value)


def test_a_container_of_the_project_is_joined_by_its_name(tmp_path: Path) -> None:
    configs = _desired_two(tmp_path, "pid: container:p-db-2\n    network_mode: container:p-db-2", scale=2)
    app = configs["p-app-1"]
    assert app.joins == (("pid", "p-db-2"),)
    assert app.netns_path is not None and app.netns_path.endswith("/p-db-2")  # its network namespace too
    loaded = load_project([_two(tmp_path, "ipc: container:p-db-1")], environ={})
    desired = build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    joiner = next(c for c in desired.containers.values() if c.service == "app")
    assert joiner.depends_on["db"].restart  # the container's service is a dependency, as for service:
    owner = desired.containers[container_id("p-db-1")]
    assert joiner.config.shm_path is not None and joiner.config.shm_path == owner.config.shm_path


@pytest.mark.parametrize("field", ["pid", "ipc", "network_mode"])
def test_a_container_outside_the_project_is_an_error_at_its_line(tmp_path: Path, field: str) -> None:
    loaded = load_project([_two(tmp_path, f"{field}: container:elsewhere")], environ={})
    with pytest.raises(SpecError) as caught:
        build_desired(loaded, BuildInputs(ProjectLayout(tmp_path / "state", "p"), {}, {}))
    (issue,) = caught.value.issues
    assert (issue.path, issue.line) == (f"services.app.{field}", 10)
    assert issue.message == "`elsewhere` is not a container of this project"
    assert "use service:NAME" in issue.hint
