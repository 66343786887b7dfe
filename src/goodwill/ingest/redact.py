"""PII redaction: typed placeholders in place of e-mails, phones, cards, IBANs, accounts,
postcodes, street addresses and names, before a text is stored or shown.

Two paths share one list of patterns, applied in the same order:

- :func:`redact_array` works on a whole Arrow column with ``pyarrow.compute``'s RE2
  replacement, so ingest keeps its pace. Only rows that hold a card-like digit run go
  through Python, where the Luhn check tells a card (``<CARD>``) from another long number
  (``<ACCOUNT>``).
- :func:`redact_text` does the same to one text and also says where each placeholder came
  from in the original (:class:`Span`).

Names are found from context only (``my name is``, ``Dear``, ``Mr``/``Ms``, greetings and
thanks followed by a capitalised word, and support sign-offs such as ``^RR`` or ``-FR``):
a name with no such cue stays. The patterns are conservative by design; their recall and
precision per type are measured in ``benchmarks/bench_understand.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["PLACEHOLDERS", "RedactedText", "Span", "luhn_ok", "redact_array", "redact_text", "replace_spans", "trim"]

PLACEHOLDERS = ("EMAIL", "IBAN", "CARD", "PHONE", "ACCOUNT", "POSTCODE", "ADDRESS", "NAME")

_NAME_WORD = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
_STREET = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|"
    r"Close|Crescent|Terrace|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Gardens|Grove|Row"
)


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: str
    # RE2 replacement; ``\1`` keeps a cue (e.g. "my name is ") that is not itself PII.
    replacement: str
    # Group whose text is the PII (0: the whole match).
    group: int = 0


# Order matters: e-mail before anything that could eat its digits; IBAN and card before
# phone and account numbers; postcodes before names (a postcode is all capitals).
_RULES: tuple[_Rule, ...] = (
    _Rule("EMAIL", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", "<EMAIL>"),
    _Rule("IBAN", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", "<IBAN>"),
    # Card candidates: 13-19 digits, optionally grouped by spaces or dashes.
    _Rule("CARD", r"\b\d(?:[ \-]?\d){12,18}\b", "<CARD>"),
    _Rule(
        "PHONE",
        # UK: +44 or a leading 0, then 9-10 more digits in common groupings.
        r"(?:\+44\s?(?:\(0\)\s?)?|\b0)\d{2,4}[\s\-]?\d{3,4}[\s\-]?\d{3,4}\b",
        "<PHONE>",
    ),
    _Rule(
        "PHONE",
        # US/NANP: optional +1, area code (bare or in brackets), 3 + 4 digits.
        r"(?:\+?1[\s.\-]?)?(?:\(\d{3}\)|\b\d{3})[\s.\-]?\d{3}[\s.\-]\d{4}\b",
        "<PHONE>",
    ),
    _Rule(
        "ACCOUNT",
        r"(?i)(\b(?:sort\s*code|account|acct|a/c|reference|ref|policy|member|customer)\s*(?:number|no\.?|num|#|id)?\s*(?:is|:|-)?\s*)[A-Z]{0,3}\d[\d\- ]{4,16}\d\b",
        r"\1<ACCOUNT>",
        1,
    ),
    _Rule("ACCOUNT", r"\b\d{2}-\d{2}-\d{2}\b(?:\s*\d{8}\b)?", "<ACCOUNT>"),
    _Rule("ACCOUNT", r"\b\d{8,12}\b", "<ACCOUNT>"),
    _Rule("POSTCODE", r"\b(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", "<POSTCODE>"),
    _Rule("POSTCODE", r"(\b[A-Z]{2},?\s+)\d{5}(?:-\d{4})?\b", r"\1<POSTCODE>", 1),
    _Rule(
        "ADDRESS",
        rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_STREET})\b\.?",
        "<ADDRESS>",
    ),
    _Rule(
        "NAME",
        rf"((?i:my name is|my name's|i am called|this is|name:|dear|signed|regards,?|sincerely,?|spoke (?:to|with)|agent named|rep named)\s+)(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)?{_NAME_WORD}(?:\s+{_NAME_WORD})?",
        r"\1<NAME>",
        1,
    ),
    _Rule(
        "NAME",
        rf"(\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+){_NAME_WORD}(?:\s+{_NAME_WORD})?",
        r"\1<NAME>",
        1,
    ),
    _Rule(
        "NAME",
        rf"(\b(?i:hi|hello|hey|thanks|thank you|cheers),?\s+){_NAME_WORD}([,!.:])",
        r"\1<NAME>\2",
        1,
    ),
    # Support-desk sign-offs at the end of a tweet: "^RR", "-FR", "~JD", "*AS".
    _Rule("NAME", r"(\s[\^\-~*]\s?)[A-Z]{1,3}$", r"\1<NAME>", 1),
)

# ASCII classes and an end-of-text ``$`` make Python's ``re`` read the patterns as RE2 does.
_PY_RULES = [(r, re.compile(r.pattern.replace("$", r"\Z"), re.ASCII)) for r in _RULES]
_CARD_RULE = next(r for r in _RULES if r.kind == "CARD")


@dataclass(frozen=True)
class Span:
    """Where a placeholder came from: ``text[start:end]`` of the original was of ``kind``."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class RedactedText:
    text: str
    spans: list[Span] = field(default_factory=list)


def luhn_ok(digits: str) -> bool:
    """True when a digit string passes the Luhn check used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_kind(match_text: str) -> str:
    digits = re.sub(r"\D", "", match_text)
    return "CARD" if 13 <= len(digits) <= 19 and luhn_ok(digits) else "ACCOUNT"


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` without leading and trailing space, as offsets."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


Origin = list[tuple[int, int]]


def _replace(out: str, origin: Origin, found: Iterable[tuple[int, int, str]]) -> tuple[str, Origin, list[Span]]:
    """Replace non-overlapping ``(start, end, kind)`` of ``out`` (in order) with placeholders.

    ``origin[i]`` is the (start, end) in the original text of ``out[i]``; the new text comes with
    its own origin, so spans found in an already redacted text still point into the original."""
    pieces: list[str] = []
    new_origin: Origin = []
    spans: list[Span] = []
    pos = 0
    for s, e, kind in found:
        placeholder = f"<{kind}>"
        pieces.append(out[pos:s])
        new_origin.extend(origin[pos:s])
        o_start, o_end = origin[s][0], origin[e - 1][1]
        pieces.append(placeholder)
        new_origin.extend([(o_start, o_end)] * len(placeholder))
        spans.append(Span(o_start, o_end, kind))
        pos = e
    if not spans:
        return out, origin, spans
    pieces.append(out[pos:])
    new_origin.extend(origin[pos:])
    return "".join(pieces), new_origin, spans


def _matches(rule: _Rule, rx: re.Pattern[str], text: str) -> Iterator[tuple[int, int, str]]:
    for m in rx.finditer(text):
        g = rule.group
        s, e = m.span(g) if g == 0 else (m.end(g), _pii_end(m, g))
        if s < e:
            yield s, e, _card_kind(m.group(0)) if rule is _CARD_RULE else rule.kind


def replace_spans(text: str, spans: Sequence[Span]) -> RedactedText:
    """Only the given spans (sorted, not overlapping) replaced by their placeholders."""
    out, _, kept = _replace(text, [(i, i + 1) for i in range(len(text))], [(s.start, s.end, s.kind) for s in spans])
    return RedactedText(out, kept)


def redact_text(text: str, *, first: Sequence[Span] = ()) -> RedactedText:
    """Redact one text; spans point into the original text.

    ``first``: spans found by something else (another redactor's names), sorted and not
    overlapping, replaced before goodwill's patterns run over what is left."""
    origin: Origin = [(i, i + 1) for i in range(len(text))]
    out, origin, spans = _replace(text, origin, [(sp.start, sp.end, sp.kind) for sp in first])
    for rule, rx in _PY_RULES:
        out, origin, found = _replace(out, origin, _matches(rule, rx, out))
        spans.extend(found)
    spans.sort(key=lambda sp: sp.start)
    return RedactedText(out, spans)


def _pii_end(m: re.Match[str], cue_group: int) -> int:
    # The PII runs from the end of the cue to the end of the match, less a kept trailing group.
    if m.re.groups > cue_group:
        return m.start(cue_group + 1)
    return m.end(0)


def _redact_cards_py(arr: pa.Array) -> pa.Array:
    rx = re.compile(_CARD_RULE.pattern, re.ASCII)

    def sub(t: str | None) -> str | None:
        if t is None:
            return None
        return rx.sub(lambda m: f"<{_card_kind(m.group(0))}>", t)

    return pa.array([sub(t) for t in arr.to_pylist()], type=pa.string())


def _apply(arr: pa.Array, fn: Callable[[pa.Array], pa.Array], mask: pa.Array) -> pa.Array:
    """Apply ``fn`` to the rows where ``mask`` holds and put the results back in place."""
    idx = pc.indices_nonzero(mask)
    if len(idx) == 0:
        return arr
    changed = fn(pc.take(arr, idx))
    return pc.replace_with_mask(arr, mask, changed)


def redact_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Redact a whole string column; nulls stay null. Vectorised RE2 except for card candidates."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if not pa.types.is_string(arr.type):
        raise TypeError(f"redact_array needs a string array, got {arr.type}")
    if len(arr) == 0:
        return arr
    # Most texts hold no PII cue at all; skip them in one pass.
    cue = pc.fill_null(pc.match_substring_regex(arr, _ANY_CUE), False)
    return _apply(arr, _redact_rows, cue)


def _redact_rows(arr: pa.Array) -> pa.Array:
    for rule in _RULES:
        if rule is _CARD_RULE:
            has = pc.fill_null(pc.match_substring_regex(arr, rule.pattern), False)
            arr = _apply(arr, _redact_cards_py, has)
        else:
            arr = pc.replace_substring_regex(arr, rule.pattern, rule.replacement)
    return arr


# A row needs the full treatment only if it has '@', a run of 5+ digits (possibly grouped),
# a capitalised word after a cue, or a trailing sign-off.
_ANY_CUE = (
    r"@|\d[\d \-().]{3,}\d|\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b|"
    r"\b(?i:name|dear|signed|regards|sincerely|spoke|agent|rep|this is|hi|hello|hey|thanks|thank you|cheers)\b|"
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\b|\s[\^\-~*]\s?[A-Z]{1,3}$|"
    rf"\b(?:{_STREET})\b"
)
