"""The root check shared by every verb that touches the host."""

from __future__ import annotations

import os

from composer.errors import NotRootError


def require_root(verb: str) -> None:
    """Raise :class:`NotRootError` unless running as root (effective uid 0)."""
    if os.geteuid() != 0:
        raise NotRootError(verb)
