"""Healthchecks resolved for the supervisor: the argv to run inside the container and its timings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HealthCheck:
    """A healthcheck ready to run: ``argv`` inside the container, timings in seconds."""

    argv: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0
