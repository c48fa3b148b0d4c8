"""The compose build: section -> build requests, names, and the refusals with their place."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import SpecError
from composer.images.builder.builder import host_platform_name
from composer.images.builder.compose import image_name, service_builds
from tests.support.projects import load, write_project


def builds_of(tmp_path: Path, text: str) -> list:  # type: ignore[type-arg]
    (tmp_path / "app").mkdir(exist_ok=True)
    loaded = load(write_project(tmp_path, text), name="bd-unit")
    return service_builds(loaded, sorted(loaded.spec.services))


def test_short_and_long_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_ENV", "e")
    builds = builds_of(
        tmp_path,
        f"""
        services:
          short:
            build: ./app
          long:
            image: registry.local/team/app:2
            build:
              context: app
              dockerfile: Dockerfile.prod
              args: [A=1, FROM_ENV]
              target: runtime
              labels: {{team: build}}
              tags: [extra:1]
              network: none
              extra_hosts: ["db:10.0.0.5"]
              shm_size: 64m
              no_cache: true
              platforms: [{host_platform_name()}]
        """,
    )
    long, short = builds
    assert short.image == "bd-unit-short" and short.request.context == tmp_path / "app"
    assert long.image == "registry.local/team/app:2"
    request = long.request
    assert request.tags == ("registry.local/team/app:2", "extra:1")
    assert request.dockerfile == Path("Dockerfile.prod") and request.target == "runtime"
    assert dict(request.args) == {"A": "1", "FROM_ENV": "e"}
    assert dict(request.labels) == {"team": "build"} and request.network == "none"
    assert request.extra_hosts == (("db", "10.0.0.5"),) and request.shm_size == 64 << 20
    assert request.no_cache


def test_refusals_name_the_file_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        builds_of(
            tmp_path,
            """
            services:
              web:
                build:
                  context: app
                  cache_from: [type=registry]
                  platforms: [linux/s390x-not-this-host]
                  network: bridge0
              remote:
                build: https://github.com/org/repo.git
            """,
        )
    text = caught.value.render()
    assert "services.web.build.cache_from" in text and "external build caches" in text
    assert "services.web.build.platforms" in text and "builds for this host" in text
    assert "services.web.build.network" in text
    assert "services.remote.build.context" in text and "remote repository" in text
    assert "compose.yaml:" in text


def test_image_name_defaults_to_project_and_service() -> None:
    class Spec:
        image = None

    assert image_name("Shop", "web", Spec()) == "shop-web"


def test_build_secrets_from_files_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "t0k")
    (tmp_path / "npmrc").write_text("x")
    (build,) = builds_of(
        tmp_path,
        """
        services:
          web:
            build:
              context: app
              secrets: [npm, {source: api, target: token}]
        secrets:
          npm: {file: ./npmrc}
          api: {environment: API_TOKEN}
        """,
    )
    assert dict(build.request.secret_files) == {"npm": tmp_path / "npmrc"}
    assert dict(build.request.secret_values) == {"token": "t0k"}
    assert "t0k" not in repr(build.request)  # secret values stay out of logs and cache keys
    with pytest.raises(SpecError, match="not declared under the top-level"):
        builds_of(tmp_path, "services:\n  web:\n    build: {context: app, secrets: [nope]}\n")


def test_build_ssh_names_agent_sockets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as agent:
        agent.bind(str(tmp_path / "agent.sock"))
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
        (build,) = builds_of(
            tmp_path, "services:\n  web:\n    build: {context: app, ssh: [default, work=./agent.sock]}\n"
        )
        assert dict(build.request.ssh_agents) == {
            "default": tmp_path / "agent.sock", "work": tmp_path / "agent.sock"
        }  # fmt: skip
        (tmp_path / "id_ed25519").write_text("a key")
        with pytest.raises(SpecError, match=r"is not an agent's socket.*ssh-add"):
            builds_of(tmp_path, "services:\n  web:\n    build: {context: app, ssh: [k=./id_ed25519]}\n")
        monkeypatch.delenv("SSH_AUTH_SOCK")
        with pytest.raises(SpecError, match=r"\$SSH_AUTH_SOCK is not set"):
            builds_of(tmp_path, "services:\n  web:\n    build: {context: app, ssh: [default]}\n")
