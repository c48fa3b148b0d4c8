"""The restart policy, parsed once: compose's ``restart:`` text as a value.

The forms are Docker's: ``no``, ``always``, ``unless-stopped``, ``on-failure``
and ``on-failure:N``.  Everything that needs to know what a policy means (the
models' validator, reconcile's "a one-shot that completed stays done", the
supervisor's "restart after this exit?") asks a ``RestartPolicy`` instead of
looking at the text again.

Rules kept here, each as Docker applies them:

* A maximum retry count is allowed with ``on-failure`` only, as a decimal
  number; ``on-failure:0`` means no limit (Docker's ``MaximumRetryCount`` 0),
  so it is the same value as ``on-failure`` and prints as ``on-failure``.
* ``on-failure`` restarts after a non-zero exit code only, ``always`` and
  ``unless-stopped`` after any exit; none of them restarts a container the
  user stopped (the caller knows that, not the policy).
* ``no`` and ``on-failure`` are one-shot policies: a container that exited 0
  under them is done, and ``up`` again does not start it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard

PolicyName = Literal["no", "always", "on-failure", "unless-stopped"]
POLICY_NAMES: tuple[PolicyName, ...] = ("no", "always", "on-failure", "unless-stopped")

_FORMS = "no, always, on-failure, on-failure:N or unless-stopped"


def _is_name(text: str) -> TypeGuard[PolicyName]:
    return text in POLICY_NAMES


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """One restart policy: its ``name`` and, for ``on-failure:N``, ``max_retries`` N (None: no limit)."""

    name: PolicyName = "no"
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if self.max_retries is not None and self.name != "on-failure":
            raise ValueError(f"a maximum retry count is only allowed with on-failure, not {self.name}")
        if self.max_retries is not None and self.max_retries < 1:
            raise ValueError(f"the maximum retry count must be 1 or more, got {self.max_retries}")

    @classmethod
    def parse(cls, text: str) -> RestartPolicy:
        """``"on-failure:3"`` -> ``RestartPolicy("on-failure", 3)``; ValueError names the accepted forms."""
        name, sep, count = text.partition(":")
        if not _is_name(name):
            raise ValueError(f"invalid restart policy {text!r}: use {_FORMS}")
        if not sep:
            return cls(name)
        if name != "on-failure":
            raise ValueError(
                f"invalid restart policy {text!r}: only on-failure takes a maximum retry count (on-failure:N)"
            )
        if not (count.isascii() and count.isdigit()):
            raise ValueError(
                f"invalid restart policy {text!r}: the maximum retry count must be a number (on-failure:3)"
            )
        retries = int(count)
        return cls(name, retries or None)  # on-failure:0 is Docker's "no limit"

    @property
    def is_one_shot(self) -> bool:
        """``no`` and ``on-failure``: a run that exited 0 is complete and is not started again."""
        return self.name in ("no", "on-failure")

    def restarts_after(self, exit_code: int | None, restart_count: int) -> bool:
        """Whether a container that exited with ``exit_code`` (None: unknown) is restarted.

        ``restart_count`` is how many times it was restarted already; a stop by
        the user is the caller's to check first (no policy restarts it).
        """
        if self.name in ("always", "unless-stopped"):
            return True
        if self.name == "on-failure":
            failed = exit_code is not None and exit_code != 0
            return failed and (self.max_retries is None or restart_count < self.max_retries)
        return False

    def __str__(self) -> str:
        """Compose's text: ``no``, ``always``, ``unless-stopped``, ``on-failure`` or ``on-failure:N``."""
        return self.name if self.max_retries is None else f"{self.name}:{self.max_retries}"
