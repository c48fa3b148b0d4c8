"""OCI images: references, a registry client, a content-addressed store, safe layer unpacking.

The runtime needs two calls::

    store = ImageStore(root)
    image = store.ensure("postgres:16", policy="missing")   # a ResolvedImage
    image.layer_dirs, image.config.entrypoint, ...           # overlay lower dirs, bottom to top

and ``apply_layer(tarball, folder, overlay=False)`` to unpack a ``rootfs:`` tarball (it lives in
:mod:`composer.kernel.unpack`, with the chrooted process that does the work).
"""

from __future__ import annotations

from composer.images.config import ImageConfig, ResolvedImage
from composer.images.progress import PullProgress
from composer.images.reference import Reference, parse_reference
from composer.images.store import ImageStore, ImageSummary, parse_policy
from composer.kernel.unpack import LayerStats, apply_layer

__all__ = [
    "ImageConfig",
    "ImageStore",
    "ImageSummary",
    "LayerStats",
    "PullProgress",
    "Reference",
    "ResolvedImage",
    "apply_layer",
    "parse_policy",
    "parse_reference",
]
