"""Expectations and effort heard in a customer's words, as tagged spans.

Kinds:

- ``expectation``: what the customer was told or expected ("I was told I'd get a refund by
  now", "they promised to call back", "should have arrived last week").
- ``repeat_contact``: contacting again ("third time I'm calling", "called again", "still no
  answer", "for the 5th time").
- ``effort``: effort spent ("on hold for 2 hours", "spent hours", "been waiting 3 weeks",
  "transferred five times").

The tagger is a list of patterns; a span runs from the cue to the end of its clause (at most
~120 characters), so a promise measure can read what was expected.
"""

from __future__ import annotations

import re
from typing import ClassVar

import numpy as np
import pyarrow as pa

from goodwill.understand.embed import texts_of
from goodwill.understand.stages import TextSpans

__all__ = ["KeywordSpanTagger", "PatternSpanTagger"]

_NUM = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|several|many|multiple|few|couple of)"
_ORD = r"(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(?:st|nd|rd|th)|umpteenth|hundredth|millionth)"
_UNIT = r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
_CLAUSE = r"[^.!?;\n]{0,120}"

_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "expectation",
        r"\b(?:i|we)\s+(?:was|were|have been|had been|'ve been|am|are)\s+(?:told|promised|assured|informed|advised|guaranteed)\b" + _CLAUSE,
    ),
    (
        "expectation",
        r"\b(?:they|he|she|you|the (?:agent|rep|representative|company|bank|lender|servicer))\s+(?:promised|assured|guaranteed|said (?:that )?(?:i|we|it|they|you) (?:would|will|'d)|told me (?:that )?(?:i|it|they|you) (?:would|will|'d))" + _CLAUSE,
    ),
    (
        "expectation",
        r"\b(?:was|were|is|are) (?:supposed|meant|due|expected) to\b" + _CLAUSE,
    ),
    ("expectation", r"\b(?:should|would) have (?:been|arrived|received|got|gotten|had|heard)\b" + _CLAUSE),
    ("expectation", r"\b(?:i|we) (?:expected|expect|was expecting|were expecting)\b" + _CLAUSE),
    ("expectation", r"\b(?:by now|as promised|never (?:received|got|arrived|came|happened))\b" + _CLAUSE),
    (
        "repeat_contact",
        r"\b(?:(?:for )?the )?" + _ORD + r" (?:time|call|attempt|email|letter|complaint|request)\b" + _CLAUSE,
    ),
    (
        "repeat_contact",
        r"\b(?:called|phoned|emailed|contacted|written|wrote|tweeted|messaged|reached out|spoken|spoke|complained)\s+(?:(?:to )?(?:them|you|him|her|it|the \w+|customer service|support) )?(?:again|" + _NUM + r" times|numerous times|multiple times|repeatedly|several times|many times|over and over)\b" + _CLAUSE,
    ),
    ("repeat_contact", r"\b(?:still (?:no|not|haven't|hasn't|waiting)|yet again|once again|again and again)\b" + _CLAUSE),
    (
        "effort",
        r"\b(?:on hold|waited|waiting|been waiting|wait(?:ing)? time of|stuck)\s+(?:for\s+)?(?:over\s+|almost\s+|nearly\s+|more than\s+)?" + _NUM + r"\+?\s*" + _UNIT + r"\b" + _CLAUSE,
    ),
    ("effort", r"\b(?:spent|wasted|taken|took)\s+(?:over\s+|nearly\s+|more than\s+)?" + _NUM + r"\s+" + _UNIT + r"\b" + _CLAUSE),
    ("effort", r"\b(?:transferred|passed|bounced)\s+(?:around|" + _NUM + r" times|from\b)" + _CLAUSE),
    ("effort", r"\b(?:on hold|hold time|endless(?:ly)?|run ?around|jump(?:ing)? through hoops)\b" + _CLAUSE),
)

_COMPILED = [(kind, re.compile(p, re.IGNORECASE)) for kind, p in _PATTERNS]


def _collect(items: list[str], rules: list[tuple[str, re.Pattern[str]]]) -> TextSpans:
    rows: list[int] = []
    kinds: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    texts: list[str] = []
    for i, t in enumerate(items):
        found: list[tuple[int, int, str]] = []
        for kind, rx in rules:
            for m in rx.finditer(t):
                s, e = m.start(), m.end()
                # One span per kind for overlapping cues: keep the first (longest from the left).
                if any(k == kind and s < fe and e > fs for fs, fe, k in found):
                    continue
                found.append((s, e, kind))
        for s, e, kind in sorted(found):
            rows.append(i)
            kinds.append(kind)
            starts.append(s)
            ends.append(e)
            texts.append(t[s:e].strip())
    return TextSpans(np.array(rows, dtype=np.int64), kinds, np.array(starts, dtype=np.int64),
                     np.array(ends, dtype=np.int64), texts)


class PatternSpanTagger:
    name = "spans-patterns-v1"

    def tag(self, texts: pa.Array | list[str]) -> TextSpans:
        return _collect(texts_of(texts), _COMPILED)


class KeywordSpanTagger:
    """The baseline: a single keyword per kind, the span being the keyword itself."""

    name = "spans-keywords-v1"
    _RULES: ClassVar[list[tuple[str, re.Pattern[str]]]] = [
        ("expectation", re.compile(r"\b(?:told|promised)\b", re.IGNORECASE)),
        ("repeat_contact", re.compile(r"\bagain\b", re.IGNORECASE)),
        ("effort", re.compile(r"\b(?:hold|hours)\b", re.IGNORECASE)),
    ]

    def tag(self, texts: pa.Array | list[str]) -> TextSpans:
        return _collect(texts_of(texts), self._RULES)
