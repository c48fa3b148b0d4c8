"""Reference normalisation follows Docker's rules."""

from __future__ import annotations

import pytest

from composer.errors import ImageError
from composer.images.reference import parse_reference, registry_key

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "canonical", "api_host"),
    [
        ("postgres", "docker.io/library/postgres:latest", "registry-1.docker.io"),
        ("postgres:16", "docker.io/library/postgres:16", "registry-1.docker.io"),
        ("org/app", "docker.io/org/app:latest", "registry-1.docker.io"),
        ("docker.io/postgres", "docker.io/library/postgres:latest", "registry-1.docker.io"),
        ("index.docker.io/library/redis:7", "docker.io/library/redis:7", "registry-1.docker.io"),
        ("ghcr.io/org/app:v1.2", "ghcr.io/org/app:v1.2", "ghcr.io"),
        ("localhost/app", "localhost/app:latest", "localhost"),
        ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000"),
        ("127.0.0.1:5000/a/b/c:tag", "127.0.0.1:5000/a/b/c:tag", "127.0.0.1:5000"),
        (f"ghcr.io/org/app@{DIGEST}", f"ghcr.io/org/app@{DIGEST}", "ghcr.io"),
        (f"app:1@{DIGEST}", f"docker.io/library/app:1@{DIGEST}", "registry-1.docker.io"),
        ("my_org/my-app.x", "docker.io/my_org/my-app.x:latest", "registry-1.docker.io"),
    ],
)
def test_normalisation(text: str, canonical: str, api_host: str) -> None:
    ref = parse_reference(text)
    assert ref.canonical == canonical
    assert ref.api_host == api_host


def test_digest_reference_asks_by_digest() -> None:
    ref = parse_reference(f"app:1@{DIGEST}")
    assert (ref.tag, ref.digest, ref.manifest_ref) == ("1", DIGEST, DIGEST)
    assert parse_reference("app").manifest_ref == "latest"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("Postgres", "lower case"),
        ("app@sha256:abc", "bad digest"),
        ("app:bad/tag", "bad registry host"),
        ("app:-x", "bad tag"),
        ("a//b", "lower case"),
    ],
)
def test_malformed_references_are_refused(text: str, why: str) -> None:
    with pytest.raises(ImageError, match=why):
        parse_reference(text)


def test_registry_key_files_docker_hub_under_one_name() -> None:
    assert registry_key("https://index.docker.io/v1/") == "docker.io"
    assert registry_key("registry-1.docker.io") == "docker.io"
    assert registry_key("127.0.0.1:5000") == "127.0.0.1:5000"
