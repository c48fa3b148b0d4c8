"""Units of the project file: byte sizes, durations and bit rates.

Compose accepts sizes like ``512m``, ``1.5g`` or ``1024`` (bytes), durations
in Go's form (``1m30s``, ``500ms``, ``2h``) and plain numbers of seconds.  Lab
links add rates as ``tc`` writes them (``10mbit``, ``1gbit``, ``800kbps``).
Each parser takes what YAML produced (an int, a float or a string) and returns
one canonical number, or raises ``ValueError`` with a message that says what
form is expected; the caller attaches the place in the file.
"""

from __future__ import annotations

import re

_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "ki": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "ti": 1024**4,
    "tib": 1024**4,
}
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# tc(8) units: "bit" suffixes are bits per second, "bps" suffixes are BYTES per second.
_RATE_UNITS = {
    "": 1,
    "bit": 1,
    "kbit": 1000,
    "mbit": 1000**2,
    "gbit": 1000**3,
    "tbit": 1000**4,
    "kibit": 1024,
    "mibit": 1024**2,
    "gibit": 1024**3,
    "bps": 8,
    "kbps": 8 * 1000,
    "mbps": 8 * 1000**2,
    "gbps": 8 * 1000**3,
    "tbps": 8 * 1000**4,
}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zµ]*)\s*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def _split(raw: str) -> tuple[float, str] | None:
    match = _NUMBER_UNIT.match(raw.lower())
    return (float(match.group(1)), match.group(2)) if match else None


def parse_bytes(raw: object) -> int:
    """``512m`` -> 536870912; a bare number is bytes.  Units are powers of 1024, as Docker's."""
    if isinstance(raw, bool):
        raise ValueError("expected a size such as 512m or 1.5g, got a boolean")
    if isinstance(raw, int | float):
        if raw < 0:
            raise ValueError(f"a size cannot be negative: {raw}")
        return int(raw)
    parts = _split(str(raw))
    if parts is None or parts[1] not in _BYTE_UNITS:
        raise ValueError(
            f"invalid size {raw!r}: expected a number with an optional unit b, k, m, g (e.g. 512m)"
        )
    return int(parts[0] * _BYTE_UNITS[parts[1]])


def parse_duration(raw: object) -> float:
    """``1m30s`` -> 90.0; a bare number is seconds."""
    if isinstance(raw, bool):
        raise ValueError("expected a duration such as 30s or 1m30s, got a boolean")
    if isinstance(raw, int | float):
        if raw < 0:
            raise ValueError(f"a duration cannot be negative: {raw}")
        return float(raw)
    text = str(raw).strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(
            f"invalid duration {raw!r}: expected a number of seconds or units h, m, s, ms, us (e.g. 1m30s)"
        )
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def parse_rate(raw: object) -> int:
    """``10mbit`` -> 10_000_000 bits per second; a bare number is bits per second."""
    if isinstance(raw, bool):
        raise ValueError("expected a rate such as 10mbit, got a boolean")
    if isinstance(raw, int | float):
        if raw <= 0:
            raise ValueError(f"a rate must be positive: {raw}")
        return int(raw)
    parts = _split(str(raw))
    if parts is None or parts[1] not in _RATE_UNITS or parts[0] <= 0:
        raise ValueError(
            f"invalid rate {raw!r}: expected a positive number with a unit bit, kbit, mbit, gbit "
            "(bits per second) or bps, kbps, mbps (bytes per second), e.g. 10mbit"
        )
    return int(parts[0] * _RATE_UNITS[parts[1]])


def parse_percent(raw: object) -> float:
    """``1%`` or ``1`` or ``0.5%`` -> percent as a float in [0, 100]."""
    if isinstance(raw, bool):
        raise ValueError("expected a percentage such as 1% or 0.5, got a boolean")
    text = str(raw).strip()
    try:
        value = float(text[:-1] if text.endswith("%") else text)
    except ValueError:
        raise ValueError(
            f"invalid percentage {raw!r}: expected a number between 0 and 100, e.g. 1%"
        ) from None
    if not 0 <= value <= 100:
        raise ValueError(f"a percentage must be between 0 and 100, got {raw!r}")
    return value
