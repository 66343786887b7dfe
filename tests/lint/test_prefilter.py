# goodwill: noqa-file -- these tests quote the dark patterns and belittling words the lint must catch.
"""The needle pre-check skips regexes that cannot match, and never one that can.

The fast path (needles looked for first) must give exactly the findings of the plain path (every
regex on every text): on the committed Yada sample, on the example templates and on texts made to
trip it up (ignore-case look-alikes such as the long s, markup, template placeholders).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.lint import LintConfig, lint_paths, lint_text, load_config, load_rules
from goodwill.lint._prefilter import IGNORECASE_FOLD, NeedleIndex, fold, needles
from goodwill.lint._text import format_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests/data/lint/yada-sample.tsv"
EXAMPLES = ROOT / "examples/templates"
FAST = LintConfig()
PLAIN = FAST.with_overrides(prefilter=False)


def sample_texts() -> list[str]:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        return [row["text"] for row in csv.DictReader(fh, delimiter="\t")]


TRICKY = [
    "HURRY! ONLY 2 LEFT IN STOCK",
    "\u017felling fa\u017ft",  # long s: re.IGNORECASE reads it as "selling fast"
    "L\u0130M\u0130TED T\u0130ME only",  # dotted capital I
    "Don\u2019t miss out, offer ends tonight",
    "No thanks, I\u2019d rather pay full price.",
    "<p>Only {{ n }} left</p><button value='Maybe later'>x</button>",
    "Only *|COUNT|* left at this price",
    "our whales and the muppet show, the Muppets",
    "target_customers = segment(churners, bad_payers)",
    "purchased 3 minutes ago by someone in Leeds",
    "",
    "   \n\n",
    "\u212aaren\u017f and \u0131d10t",
]


def findings_both_ways(text: str, kind: str, fmt: str = "plain") -> tuple[list, list]:
    fast = lint_text(text, kind, FAST, fmt=fmt)  # type: ignore[arg-type]
    plain = lint_text(text, kind, PLAIN, fmt=fmt)  # type: ignore[arg-type]
    return fast, plain


@pytest.mark.parametrize("kind", ["copy", "internal"])
def test_fast_path_equals_plain_path_on_the_test_corpus(kind: str) -> None:
    texts = sample_texts() + TRICKY
    total = 0
    for text in texts:
        fast, plain = findings_both_ways(text, kind)
        assert fast == plain, text
        total += len(fast)
    # The comparison means something only if the corpus has findings to lose.
    assert total >= (30 if kind == "copy" else 3)


@pytest.mark.parametrize("kind", ["copy", "internal"])
@pytest.mark.parametrize(
    "path", sorted(p for p in EXAMPLES.rglob("*") if p.is_file()), ids=lambda p: p.name
)
def test_fast_path_equals_plain_path_on_each_example_template(path: Path, kind: str) -> None:
    text = path.read_text(encoding="utf-8")
    fast, plain = findings_both_ways(text, kind, format_for(str(path)))
    assert fast == plain


def test_fast_path_equals_plain_path_on_the_examples_as_the_cli_lints_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)  # the example config's exclude globs are relative to the root
    config = load_config(EXAMPLES / "goodwill-lint.yaml")
    fast = lint_paths(["examples/templates"], config)
    plain = lint_paths(["examples/templates"], config.with_overrides(prefilter=False))
    assert fast == plain
    assert len(fast) >= 15


def test_long_s_is_found_on_the_fast_path() -> None:
    # The regex matches it under IGNORECASE; a pre-check that only lower-cased would skip it.
    assert [f.code for f in lint_text("\u017felling fa\u017ft", "copy", FAST)] == ["GW102"]


def test_fold_covers_every_character_ignorecase_equates_with_ascii() -> None:
    every = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    lookalikes = set(re.findall(r"[\x00-\x7f]", every, re.IGNORECASE))
    assert {chr(c) for c in IGNORECASE_FOLD} == lookalikes
    for char in lookalikes:
        assert re.fullmatch(re.escape(fold(char)), char, re.IGNORECASE)
    # And lower-casing makes no other character ASCII, so folded ASCII runs stay exact.
    assert [c for c in every if c not in lookalikes and any(x.isascii() for x in c.lower())] == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"\bhurry\b", ("hurry",)),
        (r"\b(?:hurry|act\s+now)\b", ("act", "hurry")),
        (r"\bdon'?t\b", ("don't", "dont")),
        (r"(?<![A-Za-z0-9])(?:muppets?)(?![A-Za-z0-9])", ("muppet",)),
        (r"Only\s+\d+\s+LEFT", ("only",)),  # the longer of two required words, lower-cased
        (r"\bcompare\s+at\b|\brrp\b", ("compare", "rrp")),
        (r"(?:very\s+)?good", ("good",)),
        (r"x+yz", ("yz",)),
        (r"[^a]bc*", ("b",)),  # a negated class breaks the run; "c*" may be absent
    ],
)
def test_needles_derived_from_the_regex(source: str, expected: tuple[str, ...]) -> None:
    assert needles(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        r"\d+\s*\w+",  # nothing literal
        r"(?:left)?\s*\w+",  # the only literal is optional
        r"hurry|\d+",  # one alternative has no literal
        "(",  # not a regex at all
    ],
)
def test_no_needles_when_no_word_is_required(source: str) -> None:
    assert needles(source) is None


def test_every_shipped_pattern_gets_needles() -> None:
    # A pattern without needles still works, it only runs on every text; all shipped ones have them.
    missing = [r.code for r in load_rules() for p in r.patterns if not p.needles]
    assert missing == []


def test_needle_index_matches_looking_for_each_needle() -> None:
    index = NeedleIndex(["sale", "ends", "don't", ":", "10t", "sale"])
    for text in ["Sale ends 10:00", "wholesale", "don't", "id10t", "", "sal e"]:
        folded = fold(text)
        assert index.present(folded) == {
            n for n in ["sale", "ends", "don't", ":", "10t"] if n in folded
        }


_WORDS = sorted({n for r in load_rules() for p in r.patterns for n in p.needles or ()})
_TEXT = st.lists(
    st.one_of(
        st.sampled_from(_WORDS),
        st.sampled_from([" ", "  ", "\n", ", ", ". ", "! ", "'", "\u2019", "-", "_", ":"]),
        st.sampled_from(["2", "14", "3 ", "12:30:00", "\u017f", "\u0130", "\u212a", "\u0131"]),
        st.text(alphabet="abcdeilnorstuyABCDE \u017f", max_size=6),
    ),
    max_size=14,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
def test_no_pattern_matches_a_text_without_its_needles(text: str) -> None:
    folded = fold(text)
    for rule in load_rules():
        for pattern in rule.patterns:
            if pattern.needles and not any(n in folded for n in pattern.needles):
                assert pattern.regex.search(text) is None, (rule.code, pattern.regex.pattern)


@settings(max_examples=150, deadline=None)
@given(text=_TEXT)
def test_fast_path_equals_plain_path_on_generated_texts(text: str) -> None:
    for kind in ("copy", "internal"):
        fast, plain = findings_both_ways(text, kind)
        assert fast == plain
