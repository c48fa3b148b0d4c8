"""The loader: discovery, merge, .env and interpolation, project name, profiles, env_file, locate."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from composer.errors import SpecError
from composer.project.loader import LoadedProject, load_project

WriteProject = Callable[..., Path]


def load(
    *files: Path,
    profiles: list[str] | None = None,
    env_files: list[Path] | None = None,
    project_name: str | None = None,
) -> LoadedProject:
    return load_project(list(files), None, env_files or [], project_name, profiles or [])


def messages(error: pytest.ExceptionInfo[SpecError]) -> list[str]:
    return [issue.message for issue in error.value.issues]


def test_discovery_in_working_directory_and_parents(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_project(
        "services:\n  web: {image: busybox}\n", name="docker-compose.yml", folder="My Project"
    )
    write_project(
        "services:\n  web: {environment: {FROM: override}}\n",
        name="compose.override.yaml",
        folder="My Project",
    )
    nested = path.parent / "sub" / "deeper"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    project = load_project([], None, [], None, [])
    assert project.files == (path, path.parent / "compose.override.yaml")
    assert project.project_directory == path.parent
    assert project.name == "myproject"  # the folder name, normalised as compose does
    assert project.spec.services["web"].environment == {"FROM": "override"}


def test_no_file_found(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_project([], None, [], None, [])
    assert "no project file found" in messages(caught)[0]


def test_missing_file_is_an_issue(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load(tmp_path / "absent.yaml")
    assert messages(caught) == [f"{tmp_path / 'absent.yaml'} does not exist"]


def test_compose_file_variable(write_project: WriteProject, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_project("services:\n  a: {image: busybox}\n", name="one.yaml")
    second = write_project("services:\n  b: {image: busybox}\n", name="two.yaml")
    monkeypatch.setenv("COMPOSE_FILE", f"{first}{os.pathsep}{second}")
    assert list(load_project([], None, [], None, []).spec.services) == ["a", "b"]


def test_merge_follows_compose_rules(write_project: WriteProject) -> None:
    base = write_project(
        """
services:
  web:
    image: busybox
    command: [sleep, "10"]
    environment: [A=1, B=2]
    ports: ["8080:80"]
    volumes: ["./a:/data", "./b:/other"]
    depends_on: [db]
    labels: {team: net}
    healthcheck: {test: [CMD, "true"], interval: 10s}
  db: {image: busybox}
links:
  - "web:eth5 -- db:eth5"
""",
        name="base.yaml",
    )
    override = write_project(
        """
services:
  web:
    command: [sleep, "20"]
    environment: {B: "3", C: "4"}
    ports: ["9090:90"]
    volumes: ["./c:/data"]
    depends_on: {cache: {condition: service_started}}
    healthcheck: {retries: 7}
  cache: {image: busybox}
links:
  - "web:eth6 -- cache:eth6"
""",
        name="override.yaml",
    )
    web = load(base, override).spec.services["web"]
    assert web.command == ["sleep", "20"]
    assert web.environment == {"A": "1", "B": "3", "C": "4"}
    assert [p.published for p in web.ports] == ["8080", "9090"]
    assert {v.target: v.source for v in web.volumes} == {
        "/data": str(base.parent / "c"),
        "/other": str(base.parent / "b"),
    }
    assert list(web.depends_on) == ["db", "cache"]
    assert web.healthcheck is not None and (web.healthcheck.interval, web.healthcheck.retries) == (10.0, 7)
    assert len(load(base, override).spec.links) == 2


def test_issue_is_located_in_the_file_that_wrote_the_value(write_project: WriteProject) -> None:
    base = write_project("services:\n  web:\n    image: busybox\n    mem_limit: 1g\n", name="base.yaml")
    override = write_project("services:\n  web:\n\n    mem_limit: lots\n", name="override.yaml")
    with pytest.raises(SpecError) as caught:
        load(base, override)
    issue = caught.value.issues[0]
    assert (Path(issue.file).name, issue.line, issue.column, issue.path) == (
        "override.yaml",
        4,
        5,
        "services.web.mem_limit",
    )


def test_env_file_dot_env_and_process_environment(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_project(
        "services:\n  web:\n    image: ${IMAGE}\n    environment: {TAG: '${TAG:-none}', WHO: $WHO}\n"
    )
    (path.parent / ".env").write_text("IMAGE=from-dotenv\nTAG=v1\nWHO=dotenv\n")
    monkeypatch.setenv("WHO", "shell")  # the shell wins over .env, as in compose
    project = load(path)
    web = project.spec.services["web"]
    assert web.image == "from-dotenv"
    assert web.environment == {"TAG": "v1", "WHO": "shell"}
    assert project.environment["IMAGE"] == "from-dotenv"


def test_explicit_env_files_replace_dot_env(write_project: WriteProject) -> None:
    path = write_project("services:\n  web: {image: '${IMAGE}'}\n")
    (path.parent / ".env").write_text("IMAGE=dotenv\n")
    first, second = path.parent / "one.env", path.parent / "two.env"
    first.write_text("IMAGE=one\n")
    second.write_text("IMAGE=two\n")
    assert load(path, env_files=[first, second]).spec.services["web"].image == "two"
    with pytest.raises(SpecError) as caught:
        load(path, env_files=[path.parent / "missing.env"])
    assert "does not exist" in messages(caught)[0]


def test_unset_variable_warns(write_project: WriteProject) -> None:
    project = load(write_project("services:\n  web: {image: 'busybox${COMPOSER_TEST_NOT_SET}'}\n"))
    assert project.warnings == (
        "the COMPOSER_TEST_NOT_SET variable is not set: defaulting to a blank string",
    )


def test_project_name_precedence(write_project: WriteProject, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_project("name: From-File\nservices:\n  web: {image: busybox}\n", folder="folder")
    assert load(path).name == "from-file"
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "from_env")
    assert load(path).name == "from_env"
    with pytest.raises(SpecError, match="invalid project name"):
        load(path, project_name="Flag.Name")
    assert load(path, project_name="x").spec.name == "x"


def test_profiles(write_project: WriteProject) -> None:
    path = write_project(
        """
services:
  web: {image: busybox}
  debug: {image: busybox, profiles: [debug]}
  tools: {image: busybox, profiles: [tools], depends_on: [debug]}
  app: {image: busybox, depends_on: {debug: {required: false}}}
links:
  - "web:eth1 -- debug:eth1"
"""
    )
    plain = load(path)
    assert list(plain.spec.services) == ["web", "app"]
    assert plain.spec.services["app"].depends_on == {}
    assert plain.spec.links == []
    assert list(load(path, profiles=["debug"]).spec.services) == ["web", "debug", "app"]
    with pytest.raises(SpecError) as caught:
        load(path, profiles=["tools"])
    assert caught.value.issues[0].hint == "enable it with --profile debug, or set required: false"
    assert len(load(path, profiles=["*"]).spec.services) == 4


def test_service_env_file(write_project: WriteProject) -> None:
    path = write_project(
        "services:\n  web:\n    image: busybox\n"
        "    env_file: [common.env, {path: optional.env, required: false}]\n"
        "    environment: {B: override}\n"
    )
    (path.parent / "common.env").write_text("A=1\nB=2\n")
    assert load(path).spec.services["web"].environment == {"A": "1", "B": "override"}
    (path.parent / "common.env").unlink()
    with pytest.raises(SpecError) as caught:
        load(path)
    issue = caught.value.issues[0]
    assert (issue.path, issue.line) == ("services.web.env_file.0", 4)


def test_locate_falls_back_to_the_nearest_ancestor(write_project: WriteProject) -> None:
    project = load(write_project("services:\n  web:\n    image: busybox\n    ports: ['8080:80']\n"))
    assert project.locate("services.web.ports.0")[1:] == (4, 13)
    assert project.locate("services.web.ports.0.published")[1:] == (4, 13)
    assert project.locate("services.web.networks.default")[1:] == (2, 3)
    assert project.locate("nothing.here")[0].endswith("compose.yaml")


def test_every_problem_at_once_across_files(write_project: WriteProject) -> None:
    one = write_project(
        "services:\n  a: {image: busybox, environment: {P: '${NOPE:?needed}'}}\n", name="one.yaml"
    )
    two = write_project("services:\n  b: {image: busybox}\n  b: {image: x}\n", name="two.yaml")
    with pytest.raises(SpecError) as caught:
        load(one, two)
    assert sorted(Path(i.file).name for i in caught.value.issues) == ["one.yaml", "two.yaml"]


def test_examples_validate() -> None:
    examples = Path(__file__).resolve().parents[3] / "examples"
    found = sorted(examples.glob("*/compose.yaml"))
    assert [p.parent.name for p in found] == [
        "build-app", "ci-stack", "postgres-redis", "ring20", "three-routers", "three-routers-split",
    ]  # fmt: skip
    for path in found:
        project = load(path)
        assert project.spec.services, path
    lab = load(examples / "three-routers" / "compose.yaml").spec
    assert lab.services["r2"].sysctls == {"net.ipv4.ip_forward": "1"}
    assert lab.services["r1"].rootfs == examples / "rootfs" / "busybox"
    assert [link.resource_id for link in lab.links] == ["link:r1:eth1--r2:eth1", "link:r2:eth2--r3:eth1"]
    ring = load(examples / "ring20" / "compose.yaml").spec
    assert len(ring.services) == 20 and len(ring.links) == 20
    split = load(examples / "three-routers-split" / "compose.yaml").spec
    assert {name: s.host for name, s in split.services.items()} == {"r1": "h1", "r2": "h2", "r3": "h2"}
    assert str(split.hosts["h2"].address) == "192.0.2.2"


def test_ring_generator_matches_the_committed_file() -> None:
    import importlib.util

    folder = Path(__file__).resolve().parents[3] / "examples" / "ring20"
    spec = importlib.util.spec_from_file_location("ring_generate", folder / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate(20) == (folder / "compose.yaml").read_text()
