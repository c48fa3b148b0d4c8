"""The host interface (``base``), the real host (``real``) and the fake one (``fake``).

:func:`default_host` is the composition root: the one place that decides the
host is the real machine.  Everything else receives a :class:`~.base.Host`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from composer.engine.hosts.base import Host
    from composer.engine.options import Roots


def default_host(roots: Roots) -> Host:
    """The real machine, for the state and image roots given."""
    from composer.engine.hosts.real import RealHost
    from composer.kernel.userns import in_user_namespace

    return RealHost(roots.state, roots.images, rootless=in_user_namespace())
