"""Credentials files and the WWW-Authenticate parser, without a registry."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from composer.errors import ImageError
from composer.images.auth import (
    Credentials,
    find_credentials,
    parse_challenge,
    remove_credentials,
    save_credentials,
)
from composer.images.store import parse_policy


def _docker_config(path: Path, key: str, user: str, password: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (path / "config.json").write_text(json.dumps({"auths": {key: {"auth": auth}}}))


def test_challenge_parsing() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull",
    }
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_docker_config_is_read_with_hub_aliases(tmp_path: Path) -> None:
    _docker_config(tmp_path / "docker", "https://index.docker.io/v1/", "bob", "pw:with:colons")
    assert find_credentials("docker.io") == Credentials("bob", "pw:with:colons")
    assert find_credentials("ghcr.io") is None


def test_composer_file_wins_and_is_private(tmp_path: Path, private_credentials: Path) -> None:
    _docker_config(tmp_path / "docker", "127.0.0.1:5000", "docker-user", "a")
    save_credentials("127.0.0.1:5000", Credentials("composer-user", "b"))
    assert find_credentials("127.0.0.1:5000") == Credentials("composer-user", "b")
    assert stat.S_IMODE(private_credentials.stat().st_mode) == 0o600
    assert remove_credentials("127.0.0.1:5000") is True
    assert remove_credentials("127.0.0.1:5000") is False
    assert find_credentials("127.0.0.1:5000") == Credentials("docker-user", "a")


def test_registry_auth_file_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "podman-auth.json"
    path.write_text(json.dumps({"auths": {"quay.io": {"username": "u", "password": "p"}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    assert find_credentials("quay.io") == Credentials("u", "p")


@pytest.mark.parametrize(
    ("text", "mode", "max_age"),
    [
        (None, "missing", 0.0),
        ("if_not_present", "missing", 0.0),
        ("build", "missing", 0.0),
        ("always", "always", 0.0),
        ("never", "never", 0.0),
        ("daily", "interval", 86400.0),
        ("every_1h30m", "interval", 5400.0),
    ],
)
def test_pull_policies(text: str | None, mode: str, max_age: float) -> None:
    policy = parse_policy(text)
    assert (policy.mode, policy.max_age) == (mode, max_age)


@pytest.mark.parametrize("text", ["sometimes", "every_", "every_5x"])
def test_bad_pull_policy(text: str) -> None:
    with pytest.raises(ImageError, match="unknown pull_policy"):
        parse_policy(text)
