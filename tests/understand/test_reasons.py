"""Contact reasons: reproducible, incremental, stable ids, few outliers, emerging reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from goodwill.understand.reasons import (
    _keywords,
    default_k,
    emerging_reasons,
    fit_reasons,
    spherical_kmeans,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "understand" / "cfpb_sample.csv.gz"


def blobs(seed: int, k: int = 5, per: int = 60, d: int = 32, spread: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.repeat(centres, per, axis=0) + rng.normal(scale=spread, size=(k * per, d))
    return x.astype(np.float32), np.repeat(np.arange(k), per)


def texts_for(labels: np.ndarray) -> list[str]:
    words = ["refund late", "card fraud", "credit report", "loan payment", "login password"]
    return [f"{words[c]} case {i}" for i, c in enumerate(labels)]


def test_default_k_rule() -> None:
    assert default_k(10) == 2
    assert default_k(7293) == 60
    assert default_k(1_000_000) == 120


def test_kmeans_recovers_clusters_and_is_reproducible() -> None:
    x, y = blobs(1)
    c1, l1 = spherical_kmeans(x, 5, seed=3)
    c2, l2 = spherical_kmeans(x, 5, seed=3)
    assert np.array_equal(l1, l2) and np.array_equal(c1, c2)
    assert adjusted_rand_score(y, l1) == 1.0


def test_fit_assign_and_outliers() -> None:
    x, y = blobs(2)
    model = fit_reasons(x, texts_for(y), k=5, seed=0, embedder="test")
    assert len(model.reasons) == 5 and model.unassigned_share <= 0.02
    assert sorted(r.reason_id for r in model.reasons) == [1, 2, 3, 4, 5]
    ids, _ = model.assign(x)
    assert (ids >= 0).mean() >= 0.98
    assert adjusted_rand_score(y, ids) > 0.95
    # A text unlike any reason stays unassigned rather than being forced into one.
    far = -x[:1]
    far_ids, far_dist = model.assign(far)
    assert far_ids[0] == -1 and far_dist[0] > model.threshold
    for r in model.reasons:
        assert len(r.representatives) == 3 and r.label


def test_refit_keeps_ids_where_reasons_persist_and_adds_new_ones() -> None:
    x, y = blobs(4, k=4)
    first = fit_reasons(x, texts_for(y), k=4, seed=0)
    # New data: the same four reasons (fresh noise) plus a fifth that did not exist.
    x2, y2 = blobs(4, k=5)
    x2 = x2 + np.random.default_rng(9).normal(scale=0.02, size=x2.shape).astype(np.float32)
    second = fit_reasons(x2, texts_for(y2), k=5, seed=7, previous=first)
    old_of = {int(c): int(first.assign(x[y == c])[0][0]) for c in range(4)}
    new_of = {int(c): int(second.assign(x2[y2 == c])[0][0]) for c in range(5)}
    for c in range(4):
        assert new_of[c] == old_of[c]
    assert new_of[4] == 5
    assert all(second.id_changes[i] == i for i in range(1, 5))


def test_a_refit_leaves_texts_in_their_reasons_when_the_data_did_not_move() -> None:
    # No cluster structure at all: any k-means partition is one of many, so a fresh fit with
    # another seed would cut the cloud elsewhere. A refit starts from the old reasons instead.
    rng = np.random.default_rng(12)
    x = rng.normal(size=(1200, 16)).astype(np.float32)
    texts = [f"text {i}" for i in range(len(x))]
    first = fit_reasons(x, texts, k=8, seed=0)
    before, _ = first.assign(x)
    more = np.vstack([x, rng.normal(size=(120, 16)).astype(np.float32)])
    second = fit_reasons(more, [*texts, *(f"new {i}" for i in range(120))], k=8, seed=5, previous=first)
    after, _ = second.assign(x)
    assert (after == before).mean() >= 0.9
    cold = fit_reasons(more, [*texts, *(f"new {i}" for i in range(120))], k=8, seed=5, previous=first,
                       warm_start=False)
    assert (cold.assign(x)[0] == before).mean() < (after == before).mean()


def test_new_reasons_never_take_an_id_the_store_has_used() -> None:
    x, y = blobs(4, k=4)
    first = fit_reasons(x, texts_for(y), k=4, seed=0)
    # Ids up to 9 were used by models before this one (since retired); the store says so.
    x2, y2 = blobs(4, k=5)
    second = fit_reasons(x2, texts_for(y2), k=5, seed=7, previous=first, first_new_id=10)
    assert sorted(second.ids.tolist()) == [1, 2, 3, 4, 10]
    fresh = fit_reasons(x, texts_for(y), k=4, seed=0, first_new_id=10)
    assert sorted(fresh.ids.tolist()) == [10, 11, 12, 13]


def test_a_text_distance_does_not_depend_on_its_batch() -> None:
    # A Spark partition and a local run batch texts differently; stored distances must agree
    # to the precision they are compared and shown at.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 384)).astype(np.float32)
    model = fit_reasons(x[:600], [f"t{i}" for i in range(600)], k=20, seed=0)
    ids, dist = model.assign(x)
    for i in range(0, 3000, 97):
        one_id, one_dist = model.assign(x[i : i + 1])
        assert one_id[0] == ids[i] and abs(one_dist[0] - dist[i]) < 1e-12


def test_keywords_label_real_cfpb_issues() -> None:
    df = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    issues = sorted(df["Issue"].unique())
    labels = np.array([issues.index(i) for i in df["Issue"]])
    kws = _keywords(df["Consumer complaint narrative"].tolist(), labels, len(issues))
    by_issue = dict(zip(issues, kws, strict=True))
    report = " ".join(by_issue["Incorrect information on your report"])
    assert "report" in report or "credit" in report, by_issue
    assert not any("xxxx" in w for ws in kws for w in ws)


def test_emerging_reason_is_flagged_with_evidence() -> None:
    weeks = [f"2026-{m:02d}-01" for m in range(1, 11)]
    totals = dict.fromkeys(weeks, 1000)
    steady = {w: 100 for w in weeks}
    rising = {w: (10 if i < 6 else 60) for i, w in enumerate(weeks)}
    found = emerging_reasons({1: steady, 2: rising}, totals, recent_weeks=4)
    assert [e.reason_id for e in found] == [2]
    e = found[0]
    assert e.recent_count == 240 and e.baseline_count == 60 and e.p_value < 1e-6
    assert "240/4000" in e.evidence()
    assert emerging_reasons({1: steady}, dict(list(totals.items())[:3])) == []
