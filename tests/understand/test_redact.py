"""PII redaction: each type on known values placed into real CFPB narratives, and the
vectorised Arrow path agreeing with the one-text path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.ingest.redact import luhn_ok, redact_array, redact_text

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "understand" / "cfpb_sample.csv.gz"

CASES = [
    ("EMAIL", "jane.doe+bank@mail.example.co.uk"),
    ("PHONE", "07700 900123"),
    ("PHONE", "+44 20 7946 0018"),
    ("PHONE", "(555) 123-4567"),
    ("PHONE", "+1 212-555-0199"),
    ("CARD", "4111 1111 1111 1111"),
    ("CARD", "5500-0000-0000-0004"),
    ("IBAN", "GB82 WEST 1234 5698 7654 32"),
    ("IBAN", "DE89370400440532013000"),
    ("POSTCODE", "SW1A 1AA"),
    ("ADDRESS", "221 Baker Street"),
]


def narratives() -> list[str]:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)["Consumer complaint narrative"].tolist()


def test_each_type_is_replaced_by_its_placeholder_inside_real_text() -> None:
    base = narratives()
    for i, (kind, value) in enumerate(CASES):
        text = f"{base[i][:200]} You can reach me at {value} if needed. {base[i][200:400]}"
        out = redact_text(text)
        assert value not in out.text, (kind, out.text)
        assert f"<{kind}>" in out.text, (kind, out.text)
        assert any(text[s.start : s.end] == value and s.kind == kind for s in out.spans), out.spans


def test_names_from_context_and_support_signoffs() -> None:
    cases = {
        "Hello, my name is Priya Patel and I need help.": "Hello, my name is <NAME> and I need help.",
        "Dear Mr. Smith, the loan is overdue.": "Dear <NAME>, the loan is overdue.",
        "I spoke to Dwayne at the branch.": "I spoke to <NAME> at the branch.",
        "@115716 What information is incorrect? ^RR": "@115716 What information is incorrect? ^<NAME>",
        "Please DM us your order number. -FR": "Please DM us your order number. -<NAME>",
    }
    for text, expected in cases.items():
        assert redact_text(text).text == expected


def test_accounts_and_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    out = redact_text("Charged on 4111 1111 1111 1112 and my account number is 12345678")
    assert out.text == "Charged on <ACCOUNT> and my account number is <ACCOUNT>"
    assert redact_text("sort code 12-34-56").text == "sort code <ACCOUNT>"


def test_ordinary_numbers_and_masked_text_stay() -> None:
    for text in (
        "Flight 1234 delayed 3 hours on 12/05/2015, cost me $1,200.00",
        "On XX/XX/XXXX I paid {$250.00} to XXXX XXXX.",
        "I called them 3 times in 2024 about loan 42.",
    ):
        assert redact_text(text).text == text


def test_array_path_matches_text_path_on_real_narratives_and_keeps_nulls() -> None:
    texts: list[str | None] = narratives()
    texts = [*texts, None, "", *(f"mail {v} now" for _, v in CASES)]
    out = redact_array(pa.array(texts, type=pa.string())).to_pylist()
    assert out == [None if t is None else redact_text(t).text for t in texts]
    assert out[len(narratives())] is None


def test_array_path_accepts_chunked_and_large_strings() -> None:
    arr = pa.chunked_array([["mail a@b.com"], ["call 07700 900123"]], type=pa.large_string())
    assert redact_array(arr).to_pylist() == ["mail <EMAIL>", "call <PHONE>"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.sampled_from(list("abcXYZ 0123456789@.-+()^~\n,!MrDeaiyhsnm")),
            max_size=60,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_array_and_text_paths_agree_on_arbitrary_text(texts: list[str]) -> None:
    assert redact_array(pa.array(texts)).to_pylist() == [redact_text(t).text for t in texts]
