"""Fixtures of the whole-project kernel tests."""

from tests.support.lab import lab

__all__ = ["lab"]
