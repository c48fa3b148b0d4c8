"""Pure parts of the registry client: platform choice, plain-HTTP rules, manifest checks."""

from __future__ import annotations

import pytest

from composer.errors import ImageError
from composer.images.reference import parse_reference
from composer.images.registry import Platform, RegistryClient, choose_platform, is_loopback

DIGESTS = {name: "sha256:" + ch * 64 for name, ch in (("v7", "a"), ("v8", "b"), ("plain", "c"), ("amd", "d"))}


def _index(*entries: tuple[str, dict[str, str]]) -> dict[str, object]:
    return {"manifests": [{"digest": DIGESTS[name], "size": 1, "platform": plat} for name, plat in entries]}


def test_exact_variant_wins_then_no_variant() -> None:
    index = _index(
        ("amd", {"os": "linux", "architecture": "amd64"}),
        ("v7", {"os": "linux", "architecture": "arm64", "variant": "v7"}),
        ("plain", {"os": "linux", "architecture": "arm64"}),
        ("v8", {"os": "linux", "architecture": "arm64", "variant": "v8"}),
    )
    assert choose_platform(index, Platform("linux", "arm64", "v8"), "x").digest == DIGESTS["v8"]
    assert choose_platform(index, Platform("linux", "arm64", "v6"), "x").digest == DIGESTS["plain"]
    assert choose_platform(index, Platform("linux", "amd64"), "x").digest == DIGESTS["amd"]


def test_attestations_and_other_os_are_ignored() -> None:
    index = _index(
        ("amd", {"os": "unknown", "architecture": "unknown"}),
        ("plain", {"os": "windows", "architecture": "amd64"}),
    )
    with pytest.raises(ImageError, match="no image for linux/amd64"):
        choose_platform(index, Platform("linux", "amd64"), "x")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.9.9.9", True),
        ("[::1]:5000", True),
        ("10.0.0.1:5000", False),
        ("registry.example", False),
        ("localhost.evil.example", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_plain_http_only_for_loopback_and_insecure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_INSECURE_REGISTRIES", "lab.internal:5000")
    with RegistryClient(insecure=["other.internal"]) as client:
        assert client.base_url(parse_reference("127.0.0.1:5000/a")).startswith("http://")
        assert client.base_url(parse_reference("lab.internal:5000/a")).startswith("http://")
        assert client.base_url(parse_reference("other.internal/a")).startswith("http://")
        assert client.base_url(parse_reference("ghcr.io/a")) == "https://ghcr.io/v2/a"
        assert client.base_url(parse_reference("redis")) == "https://registry-1.docker.io/v2/library/redis"


def test_platform_parsing() -> None:
    assert Platform.parse("linux/arm64/v8") == Platform("linux", "arm64", "v8")
    assert str(Platform.parse("linux/amd64")) == "linux/amd64"
    with pytest.raises(ImageError, match="invalid platform"):
        Platform.parse("linux")
