"""The PII insertion evaluation, shared by redaction benchmarks.

The same evaluation as ``bench_redaction`` in ``bench_understand.py`` (same texts, seed, values
and scoring), factored out so that more than one redactor can be scored on identical inputs:
real texts (airline tweets and CFPB narratives cut to 600 characters), each with one known value
of one type inserted mid-text. Recall: the inserted value was covered by a placeholder of its
type. Every other placeholder counts against its type's precision (some are real PII in the
source texts, so precision is a lower bound).

Also the cue-less names check: real first names, taken from the "X in Town purchased ..."
pop-ups recorded in the Princeton dark-patterns crawl, inserted without any of the cues our
patterns look for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

VALUES = {
    "EMAIL": ["anna.k@example.com", "j_smith+bank@mail.example.co.uk", "lee99@example.org"],
    "PHONE": ["07700 900123", "+44 20 7946 0018", "(555) 123-4567", "555-987-6543", "+1 212 555 0199", "0161 496 0000"],
    "CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
    "IBAN": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"],
    "ACCOUNT": ["account number 31926819", "sort code 40-47-84", "acct # 00123456789"],
    "POSTCODE": ["SW1A 1AA", "M1 1AE", "Springfield, IL 62704"],
    "ADDRESS": ["221 Baker Street", "1600 Pennsylvania Avenue", "12 Oak Road"],
    "NAME": ["my name is Priya Patel", "Dear Mr. Jones", "I spoke to Dwayne"],
}
# The part of each inserted value that is PII (a cue such as "account number" may stay).
PII_PART = {
    "account number 31926819": "31926819", "sort code 40-47-84": "40-47-84", "acct # 00123456789": "00123456789",
    "Springfield, IL 62704": "62704", "my name is Priya Patel": "Priya Patel", "Dear Mr. Jones": "Mr. Jones",
    "I spoke to Dwayne": "Dwayne",
}
KINDS = list(VALUES)


class SpanLike(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class Case:
    """One real text with one known value inserted: ``doc[lo:hi]`` is the PII, of ``kind``."""

    doc: str
    kind: str
    value: str
    lo: int
    hi: int


def base_texts(data: Path, n: int = 1000, seed: int = 5) -> list[str]:
    """``n // 2`` airline tweets and ``n // 2`` CFPB narratives cut to 600 characters."""
    tweets = pd.read_csv(data / "airline-sentiment" / "Tweets.csv.gz")["text"].tolist()
    cf = pd.read_csv(data / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str,
                     keep_default_na=False)["Consumer complaint narrative"].tolist()
    rng = np.random.default_rng(seed)
    return [tweets[i] for i in rng.choice(len(tweets), n // 2, replace=False)] + [
        cf[i][:600] for i in rng.choice(len(cf), n // 2, replace=False)]


def insert_at_middle(text: str, value: str, pii: str) -> tuple[str, int, int]:
    """``value`` put in after the word boundary nearest before the middle; where ``pii`` lies."""
    cut = text.rfind(" ", 0, len(text) // 2) + 1
    doc = f"{text[:cut]}{value} {text[cut:]}"
    lo = cut + value.index(pii)
    return doc, lo, lo + len(pii)


def insertion_cases(base: Sequence[str]) -> list[Case]:
    """Text i gets type ``KINDS[i % 8]``, cycling through that type's values."""
    cases = []
    for i, text in enumerate(base):
        kind = KINDS[i % len(KINDS)]
        value = VALUES[kind][(i // len(KINDS)) % len(VALUES[kind])]
        pii = PII_PART.get(value, value)
        doc, lo, hi = insert_at_middle(text, value, pii)
        cases.append(Case(doc, kind, value, lo, hi))
    return cases


@dataclass
class Scores:
    tp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fn: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    # per inserted value: [found, inserted]
    by_value: dict[str, list[int]] = field(default_factory=dict)

    def inserted(self, k: str) -> int:
        return self.tp[k] + self.fn[k]

    def recall(self, k: str) -> float:
        return self.tp[k] / max(1, self.tp[k] + self.fn[k])

    def precision(self, k: str) -> float:
        return self.tp[k] / max(1, self.tp[k] + self.fp[k])


def covers(s: SpanLike, case: Case) -> bool:
    return s.kind == case.kind and s.start <= case.lo and s.end >= case.hi


def score(cases: Sequence[Case], spans: Sequence[Sequence[SpanLike]]) -> Scores:
    """bench_redaction's scoring: a hit covers the inserted PII with its own type; every other
    placeholder is a false positive of its type."""
    sc = Scores()
    for case, found in zip(cases, spans, strict=True):
        hit = any(covers(s, case) for s in found)
        sc.tp[case.kind] += hit
        sc.fn[case.kind] += not hit
        v = sc.by_value.setdefault(case.value, [0, 0])
        v[0] += hit
        v[1] += 1
        for s in found:
            if not covers(s, case):
                sc.fp[s.kind] = sc.fp.get(s.kind, 0) + 1
    return sc


# -- names without a cue --------------------------------------------------------------------

# Strings before " in " / " from " in the pop-ups that are not a person's name.
_NOT_NAMES = {
    "another babe", "ends", "items", "low", "offer ends", "order", "sale ends", "sale ending",
    "shopper", "someone", "son", "this is",
}
_POPUP = re.compile(r"^([A-Za-z][A-Za-z'\-]+(?: [A-Za-z][A-Za-z'\-.]*)?) (?:in|from) ")

# Carrier clauses with none of the cues our patterns use ("my name is", "Dear", "Mr",
# "spoke to", "thanks", ...). Written for this check: the clause is SYNTHETIC, the names and the
# texts around them are real.
CLAUSES = ["{name} said", "{name} at the desk", "according to {name},", "{name} told me", "ask for {name}."]


def popup_names(data: Path) -> tuple[list[str], list[str]]:
    """(first names, full names) of shoppers shown in "X in Town purchased ..." pop-ups.

    Case is normalised ("BERNARD", "mark" -> "Bernard", "Mark"); a trailing initial ("Carl F.")
    is dropped, leaving the first name."""
    dp = pd.read_csv(data / "dark-patterns-princeton" / "dark-patterns.csv.gz")
    first: set[str] = set()
    full: set[str] = set()
    for s in dp["Pattern String"].dropna():
        m = _POPUP.match(s)
        if not m or m.group(1).lower() in _NOT_NAMES:
            continue
        words = [w.capitalize() for w in m.group(1).split()]
        if len(words) == 2 and len(words[1].rstrip(".")) > 1:
            full.add(" ".join(words))
        first.add(words[0])
    return sorted(first), sorted(full)


def name_cases(base: Sequence[str], names: Sequence[str], style: str) -> list[Case]:
    """Text i gets ``names[i % len(names)]``: ``bare`` (as the other types are inserted) or in
    one of :data:`CLAUSES`."""
    cases = []
    for i, text in enumerate(base):
        name = names[i % len(names)]
        value = name if style == "bare" else CLAUSES[(i // len(names)) % len(CLAUSES)].format(name=name)
        doc, lo, hi = insert_at_middle(text, value, name)
        cases.append(Case(doc, "NAME", value, lo, hi))
    return cases

