"""Heard expectations and promises on held-out real data, beside the keyword baselines.

The grammar fixes this file guards were found on the Olist dev half and on the fresh TWCS labels;
the Olist test half was never read.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from goodwill.understand.heard_promises import read_commitments, read_expectations

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "tests" / "data" / "promises"
MADE = dt.datetime(2017, 10, 31, 22, 10, 10, tzinfo=dt.UTC)


def _unmet(text: str) -> list[tuple[str, str]]:
    return [(e.kind, e.action) for e in read_expectations(text) if e.kind == "unmet"]


@pytest.mark.parametrize(
    "text",
    [
        "a entrega atrasou demais eu já estava cancelando",
        "até o momento eu n recebi o produto",
        "embora ainda não tenha recebido o produto",
        "demorou mas chegou",
        "só veio a lancheira falta a mochila",
        "comprei 2 transformadores porém veio apenas um",
        "produto não entregue",
    ],
)
def test_portuguese_unmet_delivery_is_heard(text: str) -> None:
    assert ("unmet", "deliver") in _unmet(text), text


@pytest.mark.parametrize(
    "text",
    [
        "chegou sem atraso, recomendo",
        "não demorou nada, produto ótimo",
        "entrega rápida, produto ótimo",
    ],
)
def test_a_met_delivery_is_not_unmet(text: str) -> None:
    assert _unmet(text) == [], text


@pytest.mark.parametrize(
    "text",
    [
        "We'll absolutely pass on your feedback to our developers.",
        "I will definitely pass that insight over to our tech team.",
        "Don't worry, we'll let the right team know it's something you'd like to see again.",
    ],
)
def test_an_adverb_does_not_turn_feedback_into_a_promise(text: str) -> None:
    assert not read_commitments(text, MADE).is_promise, text


def test_an_adverb_keeps_a_real_promise() -> None:
    r = read_commitments("We'll definitely refund the delivery charge.", MADE)
    assert r.is_promise and r.promises[0].action == "refund"


def test_label_files_are_ids_and_labels_only() -> None:
    fresh = [json.loads(x) for x in (LABELS / "fresh_tweet_labels.jsonl").read_text().splitlines()]
    cfpb = [
        json.loads(x) for x in (LABELS / "cfpb_expectation_labels.jsonl").read_text().splitlines()
    ]
    assert len(fresh) == 419 and len({r["tweet_id"] for r in fresh}) == 419
    assert len(cfpb) == 120 and len({r["complaint_id"] for r in cfpb}) == 120
    assert not any("text" in r for r in fresh + cfpb)
    for r in fresh:
        assert not (r["is_promise"] and r["vague"])
        assert (r["action"] is not None) == r["is_promise"]


@pytest.fixture
def evals(shared_data: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GOODWILL_DATA", str(shared_data))
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    sys.modules.pop("promises_eval_expectations", None)
    import promises_eval_expectations as mod

    return mod


@pytest.mark.shared_data
def test_fresh_tweets_are_the_unlabelled_company_tweets_in_seeded_order(evals) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    tw = pd.read_csv(
        evals.DATA / "twcs" / "twcs-complete-threads.csv.gz", dtype=str, keep_default_na=False
    )
    seen = {
        json.loads(x)["tweet_id"]
        for x in (evals.DATA / "twcs" / "promise-labels.jsonl").read_text().splitlines()
    }
    order = tw[(tw.inbound == "False") & ~tw.tweet_id.isin(seen)].sample(
        frac=1, random_state=evals.SPLIT_SEED
    )
    assert [r["tweet_id"] for r in evals.load_fresh()] == order.tweet_id.tolist()


@pytest.mark.shared_data
def test_held_out_tweets_grammar_beats_keywords(evals) -> None:  # type: ignore[no-untyped-def]
    res = evals.fresh_eval(evals.load_fresh())
    assert res["grammar"]["is_promise"]["f1"] > res["keyword baseline"]["is_promise"]["f1"]
    assert res["grammar"]["is_promise"]["f1"] >= 0.6


@pytest.mark.shared_data
def test_olist_test_half_unmet_beats_keywords(evals) -> None:  # type: ignore[no-untyped-def]
    res = evals.olist_eval(evals.load_olist())
    rows = res["rows"][("test", False)]
    assert rows["detector: kind unmet"]["f1"] > rows["keyword baseline"]["f1"] + 0.3
    assert rows["detector: kind unmet"]["recall"] >= 0.7
    assert rows["detector: kind unmet"]["precision"] >= 0.8
    sat_unmet, sat_n = res["satisfied_unmet"]
    assert sat_unmet / sat_n < 0.02


@pytest.mark.shared_data
def test_cfpb_sample_detector_beats_keywords(evals) -> None:  # type: ignore[no-untyped-def]
    res = evals.cfpb_eval(evals.load_cfpb())
    assert res["rows"]["detector: any expectation"]["f1"] > res["rows"]["keyword baseline"]["f1"]
