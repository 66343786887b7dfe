from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from goodwill.errors import ConfigError
from goodwill.ingest import ingest_file
from goodwill.measure import report as rp
from goodwill.measure.simulate import SimAssumptions, auc, validate_silence
from goodwill.store import Store, open_store

from .helpers import CORE_DATA, PROMISE_DATA


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, 5, 300).astype(float)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_simulated_validation_is_labelled_seeded_and_finds_the_planted_signal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = SimAssumptions(customers=1500, seed=3)
    with open_store(tmp_path / "a.duckdb") as s1:
        r1 = validate_silence(s1, a, resamples=40, ks=(50,))
    with open_store(tmp_path / "b.duckdb") as s2:
        r2 = validate_silence(s2, a, resamples=40, ks=(50,))
    assert r1["label"] == "simulated" and r1["assumptions_text"][0].startswith("SIMULATED")
    assert r1["metrics"] == r2["metrics"]
    m = r1["metrics"]
    base = m["plain recency (baseline)"]["p@50"]["value"]
    saf = m["silence after failure"]["p@50"]
    # The simulation plants leaving after failure; the measure must find it better than recency.
    assert saf["value"] > base and saf["gain_ci95"][0] > 0
    lo, hi = saf["ci95"]
    assert lo <= saf["value"] <= hi


@pytest.fixture
def built(store: Store) -> Store:
    ingest_file(store, CORE_DATA / "cfpb-150.csv.gz", "cfpb")
    ingest_file(store, CORE_DATA / "telco-200.csv", "telco")
    ingest_file(store, PROMISE_DATA / "olist_sample.csv.gz", "olist")
    out = rp.build_measures(store)
    assert out["rebuilt"] and rp.build_measures(store)["rebuilt"] is False
    return store


def test_report_has_the_four_outcomes_groups_and_evidence(built: Store) -> None:
    d = rp.report_data(built)
    assert d["group_by"] == "age_band" and "not the same as vulnerability" in d["groups_note"]
    assert d["poor_outcomes"] and all(
        e["fact_id"] for p in d["poor_outcomes"] for e in p["entries"]
    )
    html = rp.render_html(built)
    for heading in (
        "1. Products and services",
        "2. Price and value",
        "3. Consumer understanding",
        "4. Consumer support",
    ):
        assert heading in html
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert d["ledger"]["rules_version"] in html
    assert 'class="verbatim"' in html  # a customer's own words beside a poor outcome


def test_pdf_when_chromium_is_present(duck_store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if rp.find_chromium() is None:
        with pytest.raises(ConfigError, match="apt-get install -y chromium"):
            rp.write_pdf("<p>x</p>", tmp_path / "x.pdf")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    ingest_file(duck_store, CORE_DATA / "cfpb-150.csv.gz", "cfpb")
    rp.build_measures(duck_store)
    out = rp.write_pdf(rp.render_html(duck_store), tmp_path / "r.pdf")
    assert out.read_bytes()[:5] == b"%PDF-"


def test_pdf_without_chromium_says_how_to_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="apt-get install -y chromium"):
        _no_browser(tmp_path)


def _no_browser(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    from unittest import mock

    with mock.patch.object(shutil, "which", return_value=None):
        rp.write_pdf("<p>x</p>", tmp_path / "x.pdf")


def test_charts_draw_negative_bars_left_in_red() -> None:
    svg = rp.bar_chart([("a", 2.0), ("b", -1.0)], title="t")
    assert svg.count("<rect") == 2 and "#b3382c" in svg and "#2f7d4f" in svg
    assert rp.line_chart([("m", 1.0)], title="t") == ""
