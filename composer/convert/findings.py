"""What a conversion cannot carry over, said once per service and field.

A ``Finding`` names the dotted path of the field in the project file
(``services.web.ulimits``), so the CLI can point at its file and line; it is a
warning, or an error with ``--strict``.  The converter never drops a field
silently: either it maps it, or it records a finding, or the field is listed in
docs/kubernetes.md as one that needs no mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Finding:
    path: str  # dotted path in the project file: services.web.links
    message: str
    hint: str = ""

    def render(self) -> str:
        text = f"{self.path}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass
class Findings:
    """Collects findings; the same one twice (a field seen from two objects) is kept once."""

    items: set[Finding] = field(default_factory=set)

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.items.add(Finding(path, message, hint))

    def sorted(self) -> list[Finding]:
        return sorted(self.items)
