"""A cheap, exact pre-check for each rule regex: the words a match cannot do without.

Most texts match none of the rules, and running some sixty regexes over each of them is most of
the lint's time. From a regex's parse tree we derive *needles*: lower-case ASCII strings, at least
one of which occurs in every text the regex can match (``hurry|act\\s+now`` needs "hurry" or
"act"). A text holding none of them is skipped without running the regex. The needles are derived,
never declared, so a company's own rules get the same speed and cannot get it wrong.

The check is exact, not a heuristic: a needle is only ever a run of literal characters that every
match must contain in order, and the text is folded the way ``re.IGNORECASE`` compares it. Anything
the derivation does not understand yields no needles, which means "always run the regex".
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

# The parser behind ``re.compile``. Private, but stable across 3.11-3.13 in what is used here; if
# it changes shape, `needles` answers None for that regex and the lint only loses speed.
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

# Runs of alternatives are multiplied out ("don'?t" gives "dont" and "don't") up to this many.
_MAX_ALTERNATIVES = 16
_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}
_GROUPS = {_c.SUBPATTERN, getattr(_c, "ATOMIC_GROUP", _c.SUBPATTERN)}

# The only non-ASCII characters that ``re.IGNORECASE`` treats as equal to an ASCII character
# (checked over every code point in tests/lint/test_prefilter.py). Folding them, then lower-casing,
# turns every ignore-case match of an ASCII needle into a plain substring of the folded text.
IGNORECASE_FOLD = str.maketrans({"\u017f": "s", "\u0130": "i", "\u0131": "i", "\u212a": "k"})

# (exact, required): `exact` is every string the node can match, when that set is small and
# literal; `required` is a set of strings one of which every match contains. None: unknown.
_Info = tuple[frozenset[str] | None, frozenset[str] | None]
_EMPTY: frozenset[str] = frozenset({""})


def fold(text: str) -> str:
    """The text as the needles are looked for in it."""
    return text.lower() if text.isascii() else text.translate(IGNORECASE_FOLD).lower()


def _literal(code: int) -> str | None:
    char = chr(code)
    return char.lower() if char.isascii() else None


def _usable(strings: frozenset[str] | None) -> frozenset[str] | None:
    return strings if strings and all(strings) else None


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective of two requirements: longer shortest needle, then fewer needles."""
    if a is None or b is None:
        return a or b

    def score(s: frozenset[str]) -> tuple[int, int]:
        return min(len(x) for x in s), -len(s)

    return a if score(a) >= score(b) else b


def _node(op: Any, av: Any) -> _Info:
    if op is _c.LITERAL:
        char = _literal(av)
        return (frozenset({char}), None) if char is not None else (None, None)
    if op is _c.IN:
        chars = {_literal(v) if o is _c.LITERAL else None for o, v in av}
        if None in chars or len(chars) > 4:
            return None, None
        return frozenset(c for c in chars if c is not None), None
    if op in _ZERO_WIDTH:
        return _EMPTY, None
    if op in _GROUPS:
        return _sequence(av[-1])
    if op is _c.BRANCH:
        infos = [_sequence(branch) for branch in av[1]]
        exacts = [e for e, _ in infos if e is not None]
        exact = frozenset().union(*exacts) if len(exacts) == len(infos) else None
        reqs = [_usable(e) or r for e, r in infos]
        required = (
            frozenset().union(*(r for r in reqs if r is not None))
            if all(r is not None for r in reqs)
            else None
        )
        if exact is not None and len(exact) > _MAX_ALTERNATIVES:
            exact = None
        return exact, required
    if op in _REPEATS:
        low, high, body = av
        exact, required = _sequence(body)
        if low == 0:
            if high == 1 and exact is not None:
                return exact | _EMPTY, None
            return None, None
        if low == high == 1:
            return exact, required
        return None, _usable(exact) or required
    return None, None


def _sequence(items: Iterable[tuple[Any, Any]]) -> _Info:
    best: frozenset[str] | None = None
    run: frozenset[str] = _EMPTY
    whole = True
    for op, av in items:
        exact, required = _node(op, av)
        if exact is not None:
            joined = frozenset(a + b for a in run for b in exact)
            if len(joined) <= _MAX_ALTERNATIVES:
                run = joined
                continue
            required = _usable(exact)
        whole = False
        best = _better(best, _usable(run))
        best = _better(best, required)
        run = _EMPTY
    best = _better(best, _usable(run))
    return (run if whole else None), best


def _minimal(strings: frozenset[str]) -> tuple[str, ...]:
    # "stock" already finds "stocks": keep only needles that contain no other needle.
    return tuple(sorted(s for s in strings if not any(o != s and o in s for o in strings)))


def needles(source: str) -> tuple[str, ...] | None:
    """Strings one of which (after `fold`) is in every text ``source`` matches; None if unknown."""
    try:
        parsed = _parser.parse(source, 0)
        exact, required = _sequence(list(parsed))
    except Exception:  # any surprise from a private parser means "no pre-check", not an error
        return None
    found = _usable(exact) or required
    return _minimal(found) if found else None


class NeedleIndex:
    """Which of many needles a folded text holds, without looking for each one in it.

    A needle of letters and digits only can occur only inside one run of letters and digits,
    so the text's few runs are looked up in a cache of "needles inside this word" instead of
    looking for a couple of hundred needles in every text. The rest are looked for directly.
    """

    _WORDS_KEPT = 50_000

    def __init__(self, needles: Iterable[str]) -> None:
        unique = sorted(set(needles))
        self.in_words = tuple(n for n in unique if _RUN.fullmatch(n))
        self.others = tuple(n for n in unique if not _RUN.fullmatch(n))
        self._by_word: dict[str, frozenset[str]] = {}

    def present(self, folded: str) -> set[str]:
        found = {n for n in self.others if n in folded}
        cache = self._by_word
        for word in set(_RUN.findall(folded)):
            inside = cache.get(word)
            if inside is None:
                if len(cache) >= self._WORDS_KEPT:
                    cache.clear()
                inside = cache[word] = frozenset(n for n in self.in_words if n in word)
            found |= inside
        return found


_RUN = re.compile("[a-z0-9]+")
