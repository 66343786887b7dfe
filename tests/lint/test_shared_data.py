"""Checks on the full public data sets in GOODWILL_DATA (default ../shared/data); skipped without them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from goodwill.lint import LintConfig, lint_text

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("GOODWILL_DATA", ROOT / ".." / "shared" / "data"))

pytestmark = pytest.mark.shared_data


def need(path: str) -> Path:
    full = DATA / path
    if not full.exists():
        pytest.skip(f"needs {full} (set GOODWILL_DATA to the shared data folder)")
    return full


def test_patterns_are_precise_on_the_held_out_yada_pages() -> None:
    need("dark-patterns-ec-yada/dataset.tsv.gz")
    from goodwill.lint.train import load_yada, split_by_page

    _, test = split_by_page(load_yada(DATA))
    cfg = LintConfig().with_overrides(classifier=False)
    flagged = [
        (e, bool([f for f in lint_text(e.text, "copy", cfg) if f.code.startswith("GW1")]))
        for e in test
    ]
    tp = sum(1 for e, hit in flagged if hit and e.category != "Not Dark Pattern")
    fp = sum(1 for e, hit in flagged if hit and e.category == "Not Dark Pattern")
    positives = sum(1 for e, _ in flagged if e.category != "Not Dark Pattern")
    assert tp / (tp + fp) >= 0.97
    assert tp / positives >= 0.6


def test_few_false_alarms_on_company_replies() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(need("twcs/twcs-complete-threads.csv.gz"), dtype=str, keep_default_na=False)
    replies = frame.loc[frame["inbound"] == "False", "text"].tolist()
    flagged = sum(1 for t in replies if any(f.code.startswith("GW1") for f in lint_text(t, "copy")))
    assert len(replies) > 1000
    assert flagged / len(replies) <= 0.01
