"""Fixtures of the end-to-end tests."""

from tests.support.lab import lab

__all__ = ["lab"]
