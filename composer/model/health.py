"""A healthcheck ``test`` as the argv the supervisor runs, with compose's and Docker's rules.

A test comes from the project file (``healthcheck.test``) or from an image's
config (``Healthcheck.Test``); both use Docker's forms:

==============================  ==============================================
``"curl -f localhost"``         a string: the same as ``["CMD-SHELL", text]``
                                (compose-go's loader)
``["CMD", ARG, ...]``           exec the arguments directly
``["CMD-SHELL", TEXT, ...]``    ``/bin/sh -c TEXT ...``: the items after
                                CMD-SHELL follow the shell, as Docker appends
                                them (not joined: a second item is ``$0``)
``["NONE", ...]``               disabled
``[]``                          no test of its own (an image's test is kept)
==============================  ==============================================

Composer also reads the string ``"NONE"`` as disabled (compose-go would run a
command named NONE), the one spelling where a string is not a shell command.
Any other first item is an error: Docker would not run the check either
(it logs "unknown healthcheck type" and never reports the container healthy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TEST_KINDS = ("CMD", "CMD-SHELL", "NONE")
DEFAULT_SHELL = ("/bin/sh", "-c")  # Docker's on Linux, unless the image sets SHELL


def as_test_list(test: str | Sequence[str]) -> list[str]:
    """The list form of a test: a string becomes ``[CMD-SHELL, text]`` (``"NONE"`` becomes ``[NONE]``)."""
    if isinstance(test, str):
        return ["NONE"] if test.strip() == "NONE" else ["CMD-SHELL", test]
    return list(test)


def health_argv(test: str | Sequence[str], shell: Sequence[str] = DEFAULT_SHELL) -> tuple[str, ...] | None:
    """The argv a health probe runs, or None when the test is empty or NONE (no probe).

    ``shell`` is what CMD-SHELL runs the text with (an image's ``SHELL``).
    Raises ValueError for a list that does not start with CMD, CMD-SHELL or
    NONE, and for CMD or CMD-SHELL without a command after it.
    """
    items = as_test_list(test)
    if not items or items[0] == "NONE":
        return None
    kind, rest = items[0], tuple(items[1:])
    if kind not in TEST_KINDS:
        raise ValueError(f"the first item of a test list must be CMD, CMD-SHELL or NONE, got {kind!r}")
    if not rest or not rest[0].strip():
        raise ValueError(f"{kind} needs a command after it")
    return rest if kind == "CMD" else (*shell, *rest)


@dataclass(frozen=True)
class HealthCheck:
    """A healthcheck ready to run: ``argv`` inside the container, timings in seconds."""

    argv: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0
