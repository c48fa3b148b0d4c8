"""Sizes, durations, rates and percentages as compose and tc write them."""

from __future__ import annotations

import pytest

from composer.model.units import parse_bytes, parse_duration, parse_percent, parse_rate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1024, 1024),
        ("1024", 1024),
        ("512m", 512 * 1024**2),
        ("1.5g", int(1.5 * 1024**3)),
        ("64MB", 64 * 1024**2),
        ("10k", 10240),
        ("2gib", 2 * 1024**3),
        ("100b", 100),
    ],
)
def test_bytes(raw: object, expected: int) -> None:
    assert parse_bytes(raw) == expected


@pytest.mark.parametrize("raw", ["12zz", "m", "", "1.2.3m", True, -5, "ten"])
def test_bytes_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_bytes(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("2h", 7200.0),
        (10, 10.0),
        ("1.5", 1.5),
        ("1h2m3s", 3723.0),
        ("250us", 0.00025),
    ],
)
def test_duration(raw: object, expected: float) -> None:
    assert parse_duration(raw) == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["10 seconds", "1m30", "s", "", "-1s", False])
def test_duration_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("10mbit", 10_000_000), ("1gbit", 10**9), ("800kbps", 6_400_000), (5000, 5000), ("1.5mbit", 1_500_000)],
)
def test_rate(raw: object, expected: int) -> None:
    assert parse_rate(raw) == expected


@pytest.mark.parametrize("raw", ["10 megabits", "0mbit", "fast", 0])
def test_rate_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_rate(raw)


def test_percent() -> None:
    assert parse_percent("1%") == 1.0
    assert parse_percent(0.5) == 0.5
    with pytest.raises(ValueError):
        parse_percent("101%")
    with pytest.raises(ValueError):
        parse_percent("some")
