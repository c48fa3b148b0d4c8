"""Config hashes change exactly when a container would have to be recreated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from composer.project.hashing import canonical_service, service_config_hash
from composer.project.loader import LoadedProject, load_project

BASE = """
services:
  web:
    image: busybox
    command: [httpd, -f]
    environment: [FROM_SHELL]
    depends_on: [db]
    deploy: {replicas: 1, resources: {limits: {memory: 64m}}}
  db: {image: busybox}
"""


def hash_of(write_project: Callable[..., Path], text: str, service: str = "web") -> str:
    project: LoadedProject = load_project([write_project(text)], None, [], "p", [])
    return service_config_hash(project, service)


def test_hash_is_stable_sha256(write_project: Callable[..., Path]) -> None:
    first = hash_of(write_project, BASE)
    assert first == hash_of(write_project, BASE)
    assert len(first) == 64 and int(first, 16) >= 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("depends_on: [db]", "depends_on: {db: {condition: service_started, restart: true}}"),
        ("replicas: 1", "replicas: 5"),
        ("image: busybox\n    command", "image: busybox\n    scale: 3\n    pull_policy: always\n    command"),
        ("command: [httpd, -f]", "command: httpd -f"),  # the same command, spelled differently
    ],
)
def test_changes_that_do_not_recreate(write_project: Callable[..., Path], old: str, new: str) -> None:
    assert hash_of(write_project, BASE) == hash_of(write_project, BASE.replace(old, new), "web")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("command: [httpd, -f]", "command: [httpd, -f, -v]"),
        ("memory: 64m", "memory: 65m"),
        ("image: busybox\n    command", "image: busybox:1.36\n    command"),
        ("[FROM_SHELL]", "[FROM_SHELL, B=1]"),
    ],
)
def test_changes_that_recreate(write_project: Callable[..., Path], old: str, new: str) -> None:
    assert hash_of(write_project, BASE) != hash_of(write_project, BASE.replace(old, new))


def test_environment_without_value_is_resolved(
    write_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_SHELL", "one")
    first = hash_of(write_project, BASE)
    monkeypatch.setenv("FROM_SHELL", "two")
    assert hash_of(write_project, BASE) != first
    project = load_project([write_project(BASE)], None, [], "p", [])
    assert canonical_service(project, "web")["environment"] == {"FROM_SHELL": "two"}
    assert "depends_on" not in canonical_service(project, "web")


def test_a_changed_secret_or_config_definition_changes_only_its_users_hash(tmp_path: Path) -> None:
    def hashes(content: str, token: str) -> dict[str, str]:
        path = tmp_path / "compose.yaml"
        path.write_text(
            "services:\n"
            "  user: {image: x, configs: [c], secrets: [s]}\n"
            "  other: {image: x}\n"
            f"configs:\n  c: {{content: {content!r}}}\n"
            "secrets:\n  s: {environment: TOKEN}\n"
        )
        project = load_project([path], environ={"TOKEN": token})
        return {name: service_config_hash(project, name) for name in ("user", "other")}

    first = hashes("a", "t1")
    assert hashes("a", "t1") == first
    assert hashes("b", "t1")["user"] != first["user"] and hashes("b", "t1")["other"] == first["other"]
    assert hashes("a", "t2")["user"] != first["user"]
