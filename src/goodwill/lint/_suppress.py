"""Inline suppressions: ``goodwill: noqa GW101 -- reason``, and the ``noqa-file`` form for a whole file.

A line directive covers its own line; written on a line of its own (a comment and nothing else),
it covers the next line, which is how a comment sits above a line of HTML. Codes may be prefixes
(GW1 covers GW101-GW199); no code covers every rule. The reason after `` -- `` is required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(
    r"goodwill:\s*noqa(?P<file>-file)?\b(?P<codes>(?:[\s,]+GW\d{1,3})*)(?:\s+--\s*(?P<reason>.*))?",
    re.I,
)
_CODE = re.compile(r"GW\d{1,3}", re.I)
_COMMENT_CLOSE = re.compile(r"\s*(?:-->|--\}\}|#\}|\*/|\}\}|%\})\s*$")
_COMMENT_ONLY = re.compile(
    r"^\s*(?:<!--.*?-->|\{\{!--.*?--\}\}|\{#.*?#\}|/\*.*?\*/|(?:#|//|--|;|%)\s.*|(?:#|//).*)\s*$"
)


@dataclass(frozen=True, slots=True)
class Suppression:
    codes: tuple[str, ...]  # empty: every code
    reason: str
    whole_file: bool
    lines: frozenset[int]
    start: int
    end: int
    line: int

    def covers(self, code: str, line: int) -> bool:
        if not self.whole_file and line not in self.lines:
            return False
        return not self.codes or any(code.startswith(c) for c in self.codes)


def find_suppressions(text: str) -> list[Suppression]:
    found: list[Suppression] = []
    offset = 0
    for number, raw_line in enumerate(text.split("\n"), start=1):
        for m in _DIRECTIVE.finditer(raw_line):
            reason = _COMMENT_CLOSE.sub("", m.group("reason") or "").strip()
            codes = tuple(c.upper() for c in _CODE.findall(m.group("codes") or ""))
            lines = {number}
            if _COMMENT_ONLY.match(raw_line):
                lines.add(number + 1)
            found.append(
                Suppression(
                    codes=codes,
                    reason=reason,
                    whole_file=bool(m.group("file")),
                    lines=frozenset(lines),
                    start=offset + m.start(),
                    end=offset + m.end(),
                    line=number,
                )
            )
        offset += len(raw_line) + 1
    return found
