"""Daemonless image builds from Dockerfiles, on composer's own runtime and image store.

::

    dockerfile.py  BuildKit's grammar (through the ``dockerfile`` package) -> stages; word expansion
    context.py     the build context: .dockerignore, COPY sources, their content digest
    layers.py      a stack of layer folders read without mounting; a folder packed into an OCI layer
    files.py       COPY/ADD/WORKDIR results written into a new layer folder
    runner.py      RUN in a composer container; its overlay upper dir becomes the layer
    cache.py       the build cache (chained step keys -> layers)
    stage.py       a stage's state and the instructions that only change its config (pure)
    builder.py     one build: stages, steps, cache, the OCI image recorded in the store
    compose.py     the compose ``build:`` section -> build requests; which services to build
"""

from __future__ import annotations

from composer.images.builder.builder import Builder, BuildRequest, BuildResult, OutputLine, StepEvent
from composer.images.builder.dockerfile import BuildError, parse_dockerfile

__all__ = [
    "BuildError",
    "BuildRequest",
    "BuildResult",
    "Builder",
    "OutputLine",
    "StepEvent",
    "parse_dockerfile",
]
