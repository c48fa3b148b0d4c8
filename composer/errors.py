"""The error tree of composer.

Every failure the user can cause or meet is one of these; only the CLI turns
them into a message and an exit status (never a traceback unless --debug)::

    ComposerError                  exit 1 unless said otherwise
    ├── SpecError                  exit 2: a bad project file; carries every SpecIssue found
    ├── CycleError(SpecError)      a depends_on cycle, named a -> b -> a
    ├── PlanError                  the project cannot be planned on this host (netem missing, port taken, ...)
    ├── StateError                 the state store is unreadable or locked by another command
    ├── HostError                  a syscall or netlink call failed; keeps the errno
    ├── ImageError                 an image could not be resolved, pulled, verified or unpacked
    │   └── RegistryError          the registry answered with an error (status and code kept)
    ├── ContainerError             a container failed to start, exited badly, or is unhealthy
    ├── NotRootError               composer needs root for this verb
    └── RootlessError              exit 2: this host cannot run composer without root (and why)

Errors are translated at the boundary by errno (``OSError.errno``,
``NetlinkError.code``), never by matching message text.
"""

from __future__ import annotations

import errno as errno_module
import os
from dataclasses import dataclass, field


class ComposerError(Exception):
    """Base of every error composer reports to the user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem in a project file, with its place and a way to fix it."""

    file: str
    line: int
    column: int
    path: str  # dotted field path, e.g. services.web.deploy.resources.limits.memory
    message: str
    hint: str = field(default="", compare=False)

    @classmethod
    def at(cls, where: tuple[str, int, int], path: str, message: str, hint: str = "") -> SpecIssue:
        """An issue at ``where`` (the (file, line, column) a project's ``locate()`` returns)."""
        return cls(where[0], where[1], where[2], path, message, hint)

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class SpecError(ComposerError):
    """The project file is invalid; ``issues`` holds every problem found, sorted by place."""

    exit_code = 2

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues)
        count = len(self.issues)
        head = f"the project file has {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join("  " + i.render() for i in self.issues))


class CycleError(SpecError):
    """A dependency cycle; ``cycle`` lists the services, first repeated last."""

    def __init__(self, cycle: list[str], issue: SpecIssue) -> None:
        self.cycle = cycle
        super().__init__([issue])


class PlanError(ComposerError):
    """The desired state cannot be reached on this host; found before anything is created."""

    exit_code = 2


class StateError(ComposerError):
    """The state store cannot be read, written or locked."""


class HostError(ComposerError):
    """A host operation failed; ``errno`` is the kernel's error number when there is one."""

    def __init__(self, message: str, *, errno: int | None = None, hint: str | None = None) -> None:
        if errno is not None:
            name = errno_module.errorcode.get(errno, str(errno))
            message = f"{message}: {os.strerror(errno)} ({name})"
        super().__init__(message, hint=hint)
        self.errno = errno


class ImageError(ComposerError):
    """An image could not be resolved, pulled, verified or unpacked."""


class RegistryError(ImageError):
    """The registry answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ContainerError(ComposerError):
    """A container failed to start, exited with an error, or never became healthy."""


class NotRootError(ComposerError):
    """Creating containers needs root for now."""

    def __init__(self, verb: str) -> None:
        super().__init__(
            f"`composer {verb}` needs root: it creates namespaces, cgroups, mounts and interfaces",
            hint="run it as root (sudo composer ...); rootless mode is not supported yet",
        )


class RootlessError(ComposerError):
    """Without root, a prerequisite of the host is missing; found before anything is created."""

    exit_code = 2
