"""Expectation and effort spans."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from goodwill.understand.spans import KeywordSpanTagger, PatternSpanTagger


def kinds(text: str) -> dict[str, str]:
    found = PatternSpanTagger().tag(pa.array([text]))
    return {k: t for k, t in zip(found.kind, found.text, strict=True)}


def test_expectation_spans() -> None:
    assert kinds("I was told I'd get a refund by now.")["expectation"] == "I was told I'd get a refund by now"
    assert "expectation" in kinds("The servicer promised to remove the late fee within 30 days")
    assert "expectation" in kinds("My card was supposed to arrive last week")


def test_repeat_contact_and_effort_spans() -> None:
    assert kinds("This is the third time I'm calling about this")["repeat_contact"] == "the third time I'm calling about this"
    assert "repeat_contact" in kinds("I have called them several times and nothing changed")
    got = kinds("I was on hold for 2 hours and then transferred three times")
    assert got["effort"].startswith("on hold for 2 hours")


def test_offsets_point_into_the_text_and_rows_are_kept() -> None:
    texts = ["nothing here", "Still waiting for my refund! I expected it last month."]
    found = PatternSpanTagger().tag(pa.array(texts))
    assert set(found.row.tolist()) == {1}
    for r, s, e, t in zip(found.row, found.start, found.end, found.text, strict=True):
        assert texts[r][s:e].strip() == t


def test_plain_text_has_no_spans_and_the_keyword_baseline_is_cruder() -> None:
    assert len(PatternSpanTagger().tag(pa.array(["Please update my address."]))) == 0
    baseline = KeywordSpanTagger().tag(pa.array(["I told my friend to hold the door again"]))
    assert sorted(baseline.kind) == ["effort", "expectation", "repeat_contact"]
    assert len(PatternSpanTagger().tag(pa.array(["I told my friend to hold the door again"]))) == 0


def test_precision_on_hand_labelled_cfpb_narratives() -> None:
    # 100 CFPB narratives labelled by hand (tests/data/understand/README.md). The tagger's recall
    # is low (see benchmarks/results/understand.md); what it finds should mostly be right.
    import numpy as np
    import pandas as pd

    path = Path(__file__).resolve().parents[1] / "data" / "understand" / "span_labels.csv"
    labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    cfpb = labels[labels["source"] == "cfpb"].reset_index(drop=True)
    assert len(cfpb) == 100 and cfpb["id"].is_unique
    found = PatternSpanTagger().tag(cfpb["text"].tolist())
    # Floors a little under what the shipped patterns score, so a pattern that breaks shows.
    for kind, min_hits, min_precision in (("expectation", 15, 0.85), ("repeat_contact", 6, 0.75), ("effort", 3, 0.6)):
        truth = cfpb[kind].astype(int).to_numpy() == 1
        hit = np.zeros(len(cfpb), dtype=bool)
        hit[[r for r, k in zip(found.row, found.kind, strict=True) if k == kind]] = True
        assert hit.sum() >= min_hits, (kind, int(hit.sum()))
        assert (hit & truth).sum() / hit.sum() >= min_precision, (kind, int((hit & truth).sum()), int(hit.sum()))
