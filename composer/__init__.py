"""composer: a daemonless, declarative container composer for Linux.

One project file (compose-spec plus lab links) becomes containers made from
namespaces, cgroups, mounts and netlink; ``up`` converges the host on the file
and ``down`` removes everything the project made.
"""

from __future__ import annotations

from composer.errors import ComposerError, SpecError, SpecIssue

__version__ = "0.1.0"

__all__ = ["ComposerError", "SpecError", "SpecIssue", "__version__"]
