"""The one result type of the lint: a small frozen dataclass, easy to serialise."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Source = Literal["pattern", "classifier", "lexicon", "suppression"]
Kind = Literal["copy", "internal"]

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the lint found: where it is, what rule it breaks, and what to write instead.

    ``start``/``end`` are character offsets into the linted text; ``line``/``col`` are 1-based,
    as editors and ruff show them. ``path`` is empty for text linted without a file.
    """

    code: str
    category: str
    message: str
    start: int
    end: int
    line: int
    col: int
    basis: str
    severity: Severity
    source: Source
    excerpt: str = ""
    suggestion: str | None = None
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.start, self.end, self.code)
