"""Files composed as compose-go composes them: tags, documents, extends, include, version, COMPOSE_*."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from composer.errors import SpecError
from composer.project.loader import LoadedProject, load_project


def tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))


def load(root: Path, *names: str, environ: dict[str, str] | None = None, **kwargs: object) -> LoadedProject:
    return load_project([root / name for name in names], environ=environ or {}, **kwargs)  # type: ignore[arg-type]


def issues(root: Path, *names: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load(root, *names, environ=environ)
    return [f"{issue.path}: {issue.message}" for issue in caught.value.issues]


BASE = """\
services:
  web:
    image: busybox
    command: [sleep, "1"]
    ports: ["80:80"]
    environment: {A: "1", B: "2"}
    labels: {team: net}
    networks: [front]
    healthcheck: {test: [CMD, "true"]}
    user: "1000"
networks:
  front: {}
"""

# (override text, what to read on web, expected)
TAG_ROWS = [
    ("services:\n  web:\n    user: !reset null\n", "user", None),
    ("services:\n  web:\n    user: !reset\n", "user", None),
    ("services:\n  web:\n    user: !reset ''\n", "user", None),
    ("services:\n  web:\n    ports: !reset []\n", "ports", []),
    ("services:\n  web:\n    environment: !reset {}\n", "environment", {}),
    ("services:\n  web:\n    healthcheck: !reset\n", "healthcheck", None),
    ('services:\n  web:\n    ports: !override ["9090:90"]\n', "ports", ["9090"]),
    ("services:\n  web:\n    environment: !override {C: '3'}\n", "environment", {"C": "3"}),
    ("services:\n  web:\n    labels: !override [x=1]\n", "labels", {"x": "1"}),
    ("services:\n  web:\n    command: !override [sleep, '2']\n", "command", ["sleep", "2"]),
    ("services:\n  web:\n    user: !override '2000'\n", "user", "2000"),
    ('services:\n  web:\n    ports: ["9090:90"]\n', "ports", ["80", "9090"]),
    ("services:\n  web:\n    environment: {C: '3'}\n", "environment", {"A": "1", "B": "2", "C": "3"}),
]


@pytest.mark.parametrize(("override", "field", "expected"), TAG_ROWS)
def test_reset_and_override_tags(tmp_path: Path, override: str, field: str, expected: object) -> None:
    tree(tmp_path, {"compose.yaml": BASE, "override.yaml": override})
    web = load(tmp_path, "compose.yaml", "override.yaml").spec.services["web"]
    value = getattr(web, field)
    if field == "ports":
        value = [port.published for port in value]
    assert value == expected


def test_reset_a_whole_service_and_a_network(tmp_path: Path) -> None:
    tree(tmp_path, {
        "compose.yaml": BASE + "  back: {}\n",
        "override.yaml": "services:\n  web:\n    networks: !override [back]\nnetworks:\n  front: !reset\n",
    })  # fmt: skip
    spec = load(tmp_path, "compose.yaml", "override.yaml").spec
    assert list(spec.networks) == ["back"]
    assert list(spec.services["web"].networks) == ["back"]


def test_reset_in_the_same_file_drops_a_merge_key_value(tmp_path: Path) -> None:
    tree(tmp_path, {"compose.yaml": """\
        x-base: &base
          image: busybox
          user: "1000"
        services:
          web:
            <<: *base
            user: !reset null
        """})  # fmt: skip
    assert load(tmp_path, "compose.yaml").spec.services["web"].user is None


def test_documents_merge_in_order(tmp_path: Path) -> None:
    tree(tmp_path, {"compose.yaml": """\
        services:
          web: {image: busybox, ports: ["80:80"]}
        ---
        services:
          web: {ports: ["81:81"], user: "1"}
        ---
        services:
          web:
            user: !reset null
          db: {image: busybox}
        """})  # fmt: skip
    spec = load(tmp_path, "compose.yaml").spec
    assert [p.published for p in spec.services["web"].ports] == ["80", "81"]
    assert spec.services["web"].user is None
    assert list(spec.services) == ["web", "db"]


@pytest.mark.parametrize("override", ["", "# only a comment\n", "---\n", "---\n---\n"])
def test_an_empty_override_file_changes_nothing(tmp_path: Path, override: str) -> None:
    tree(tmp_path, {"compose.yaml": BASE, "override.yaml": override})
    assert load(tmp_path, "compose.yaml", "override.yaml").spec == load(tmp_path, "compose.yaml").spec


def test_an_empty_project_is_an_error(tmp_path: Path) -> None:
    tree(tmp_path, {"compose.yaml": ""})
    assert issues(tmp_path, "compose.yaml") == [": the file is empty"]


@pytest.mark.parametrize("version", ["'3.8'", "3", "'2.4'", '"3.9"'])
def test_version_is_obsolete_and_warned_once_per_file(tmp_path: Path, version: str) -> None:
    tree(tmp_path, {"compose.yaml": f"version: {version}\n" + BASE, "o.yaml": f"version: {version}\n"})
    project = load(tmp_path, "compose.yaml", "o.yaml")
    warned = [w for w in project.warnings if "`version` is obsolete" in w]
    assert len(warned) == 2 and "compose.yaml" in warned[0] and "o.yaml" in warned[1]
    assert "version" not in project.spec.model_dump()


# --------------------------------------------------------------------------- extends


def test_extends_in_the_same_file_merges_with_the_override_rules(tmp_path: Path) -> None:
    tree(tmp_path, {"compose.yaml": """\
        services:
          base:
            image: busybox
            environment: {A: "1", B: "2"}
            expose: ["80"]
            command: [sleep, "1"]
          web:
            extends: base
            environment: {B: "3"}
            expose: ["81"]
            command: [sleep, "2"]
          api:
            extends: {service: web}
            user: "7"
        """})  # fmt: skip
    spec = load(tmp_path, "compose.yaml").spec
    assert spec.services["web"].environment == {"A": "1", "B": "3"}
    assert spec.services["web"].expose == ["80", "81"]
    assert spec.services["web"].command == ["sleep", "2"]
    api = spec.services["api"]
    assert (api.image, api.user, api.command) == ("busybox", "7", ["sleep", "2"])


def test_extends_from_another_file_resolves_its_paths_from_that_file(tmp_path: Path) -> None:
    tree(tmp_path, {
        "app/compose.yaml": """\
            services:
              web:
                extends: {file: ../common/base.yaml, service: tmpl}
                volumes: ["./mine:/mine"]
            """,
        "common/base.yaml": """\
            services:
              tmpl:
                extends: {file: deeper/more.yaml, service: root}
                volumes: ["./data:/data"]
                env_file: base.env
            """,
        "common/base.env": "FROM_BASE=1\n",
        "common/deeper/more.yaml": "services:\n  root:\n    image: busybox\n    volumes: ['./x:/x']\n",
    })  # fmt: skip
    web = load(tmp_path, "app/compose.yaml").spec.services["web"]
    assert {v.target: v.source for v in web.volumes} == {
        "/x": str(tmp_path / "common/deeper/x"),
        "/data": str(tmp_path / "common/data"),
        "/mine": str(tmp_path / "app/mine"),
    }
    assert web.environment == {"FROM_BASE": "1"}


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ("a: {extends: b, image: x}\n  b: {extends: a}\n", "extends makes a cycle: a -> b -> a"),
        ("a: {extends: a, image: x}\n", "extends makes a cycle: a -> a"),
        ("a: {extends: nope, image: x}\n", "extends names an unknown service `nope`"),
        ("a: {extends: {file: other.yaml}, image: x}\n", "extends takes a service name or {service:, file:}"),
    ],
)
def test_extends_errors(tmp_path: Path, services: str, message: str) -> None:
    tree(tmp_path, {"compose.yaml": "services:\n  " + services})
    assert any(message in issue for issue in issues(tmp_path, "compose.yaml"))


def test_extends_cycle_across_files(tmp_path: Path) -> None:
    tree(tmp_path, {
        "compose.yaml": "services:\n  a:\n    extends: {file: other.yaml, service: b}\n",
        "other.yaml": "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n",
    })  # fmt: skip
    found = issues(tmp_path, "compose.yaml")
    assert len(found) == 1 and "extends makes a cycle" in found[0], found


def test_extends_a_missing_file(tmp_path: Path) -> None:
    tree(tmp_path, {"compose.yaml": "services:\n  a:\n    extends: {file: gone.yaml, service: b}\n"})
    assert any("gone.yaml does not exist" in issue for issue in issues(tmp_path, "compose.yaml"))


# --------------------------------------------------------------------------- include


def test_include_short_and_long_syntax(tmp_path: Path) -> None:
    tree(tmp_path, {
        "compose.yaml": """\
            include:
              - db/compose.yaml
              - path: [cache/one.yaml, cache/two.yaml]
                env_file: cache/values.env
            services:
              web: {image: busybox, depends_on: [db, cache]}
            """,
        "db/compose.yaml": "services:\n  db:\n    image: busybox\n    volumes: ['./data:/data']\n    env_file: db.env\n",
        "db/db.env": "DB=1\n",
        "db/.env": "TAG=from-db-dotenv\n",
        "cache/one.yaml": "services:\n  cache:\n    image: 'busybox:${TAG:-none}'\n",
        "cache/two.yaml": "services:\n  cache:\n    user: '${WHO}'\n",
        "cache/values.env": "WHO=42\nTAG=from-values\n",
    })  # fmt: skip
    spec = load(tmp_path, "compose.yaml").spec
    assert list(spec.services) == ["web", "db", "cache"]
    assert spec.services["db"].volumes[0].source == str(tmp_path / "db/data")
    assert spec.services["db"].environment == {"DB": "1"}
    assert (spec.services["cache"].image, spec.services["cache"].user) == ("busybox:from-values", "42")


def test_include_project_directory(tmp_path: Path) -> None:
    tree(tmp_path, {
        "compose.yaml": "include:\n  - path: sub/compose.yaml\n    project_directory: elsewhere\n",
        "sub/compose.yaml": "services:\n  s:\n    image: busybox\n    volumes: ['./v:/v']\n",
    })  # fmt: skip
    volume = load(tmp_path, "compose.yaml").spec.services["s"].volumes[0]
    assert volume.source == str(tmp_path / "elsewhere/v")


def test_include_the_same_definition_twice_is_fine_a_different_one_is_a_conflict(tmp_path: Path) -> None:
    tree(tmp_path, {
        "same.yaml": "include: [a.yaml]\nservices:\n  s: {image: busybox}\n",
        "conflict.yaml": "include: [a.yaml]\nservices:\n  s: {image: alpine}\nnetworks:\n  n: {internal: true}\n",
        "a.yaml": "services:\n  s: {image: busybox}\nnetworks:\n  n: {}\n",
    })  # fmt: skip
    assert list(load(tmp_path, "same.yaml").spec.services) == ["s"]
    found = issues(tmp_path, "conflict.yaml")
    assert found == [
        f"services.s: `s` is defined here and, differently, in the included {tmp_path / 'a.yaml'}",
        f"networks.n: `n` is defined here and, differently, in the included {tmp_path / 'a.yaml'}",
    ]


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ("[{project_directory: x}]", "`path` is required"),
        ("[{path: a.yaml, nope: 1}]", "unknown key `nope`"),
        ("[42]", "an include entry is a path or"),
        ("[gone.yaml]", "gone.yaml does not exist"),
        ("[compose.yaml]", "include makes a cycle"),
    ],
)
def test_include_errors(tmp_path: Path, include: str, message: str) -> None:
    tree(
        tmp_path,
        {
            "compose.yaml": f"include: {include}\nservices:\n  s: {{image: busybox}}\n",
            "a.yaml": "services: {}\n",
        },
    )
    assert any(message in issue for issue in issues(tmp_path, "compose.yaml")), issues(
        tmp_path, "compose.yaml"
    )


# --------------------------------------------------------------------------- environment and COMPOSE_*


def test_compose_project_name_is_available_to_interpolation(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "compose.yaml": "name: shop\nservices:\n  s: {image: busybox, hostname: '${COMPOSE_PROJECT_NAME}-s'}\n"
        },
    )
    assert load(tmp_path, "compose.yaml").spec.services["s"].hostname == "shop-s"
    assert load(tmp_path, "compose.yaml", project_name="other").spec.services["s"].hostname == "other-s"


def test_the_shell_wins_over_dot_env_and_dot_env_sets_compose_variables(tmp_path: Path) -> None:
    tree(tmp_path, {
        "compose.yaml": "services:\n  s: {image: 'busybox:${TAG}', profiles: [p]}\n  t: {image: busybox}\n",
        ".env": "TAG=from-file\nCOMPOSE_PROJECT_NAME=from-dotenv\nCOMPOSE_PROFILES=p\n",
    })  # fmt: skip
    project = load(tmp_path, "compose.yaml", environ={"TAG": "from-shell"})
    assert project.name == "from-dotenv"
    assert project.spec.services["s"].image == "busybox:from-shell"
    assert load(tmp_path, "compose.yaml").spec.services["s"].image == "busybox:from-file"


def test_dot_env_beside_the_file_when_run_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path, {"compose.yaml": "services:\n  s: {image: 'busybox:${TAG}'}\n", ".env": "TAG=beside\n"})
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert load_project([Path("../compose.yaml")], environ={}).spec.services["s"].image == "busybox:beside"


def test_compose_file_from_dot_env_with_its_separator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path, {
        "a.yaml": "services:\n  a: {image: busybox}\n",
        "b.yaml": "services:\n  b: {image: busybox}\n",
        ".env": "COMPOSE_FILE=a.yaml;b.yaml\nCOMPOSE_PATH_SEPARATOR=;\n",
    })  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert list(load_project([], environ={}).spec.services) == ["a", "b"]


def test_compose_env_files(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "compose.yaml": "services:\n  s: {image: 'busybox:${TAG}-${OTHER}'}\n",
            "one.env": "TAG=1\nOTHER=1\n",
            "two.env": "OTHER=2\n",
        },
    )
    project = load(tmp_path, "compose.yaml", environ={"COMPOSE_ENV_FILES": "one.env,two.env"})
    assert project.spec.services["s"].image == "busybox:1-2"


@pytest.mark.parametrize("name", ["Upper", "has space", "-leading", "dot.ted"])
def test_an_invalid_project_name_is_refused_not_rewritten(tmp_path: Path, name: str) -> None:
    tree(tmp_path, {"compose.yaml": "services:\n  s: {image: busybox}\n"})
    with pytest.raises(SpecError, match="invalid project name"):
        load(tmp_path, "compose.yaml", project_name=name)
    with pytest.raises(SpecError, match="invalid project name"):
        load(tmp_path, "compose.yaml", environ={"COMPOSE_PROJECT_NAME": name})


def test_a_bare_key_in_an_env_file_takes_the_shell_value(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "compose.yaml": "services:\n  s: {image: busybox, env_file: s.env}\n",
            "s.env": "FROM_SHELL\nUNSET_ONE\nX=1\n",
        },
    )
    environment = load(tmp_path, "compose.yaml", environ={"FROM_SHELL": "yes"}).spec.services["s"].environment
    assert environment == {"FROM_SHELL": "yes", "X": "1"}


def test_env_file_long_syntax(tmp_path: Path) -> None:
    tree(tmp_path, {
        "compose.yaml": """\
            services:
              s:
                image: busybox
                env_file:
                  - path: a.env
                  - path: missing.env
                    required: false
                  - path: raw.env
                    format: raw
            """,
        "a.env": "A=1\n",
        "raw.env": "R='kept $A \\n'\n",
    })  # fmt: skip
    environment = load(tmp_path, "compose.yaml").spec.services["s"].environment
    assert environment == {"A": "1", "R": "'kept $A \\n'"}
