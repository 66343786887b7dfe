"""The understand layer against a store (both engines) and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
from typer.testing import CliRunner

from goodwill.store import Store
from goodwill.understand.embed import HashingEmbedder
from goodwill.understand.sentiment import LexiconSentiment
from goodwill.understand.service import (
    enrich_store,
    fit_reasons_in_store,
    load_reason_model,
    pending_count,
    reason_report,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "understand" / "cfpb_sample.csv.gz"


def interactions(rows: pd.DataFrame, *, direction: str | None = "inbound") -> pa.Table:
    when = [dt.datetime.fromisoformat(d).replace(tzinfo=dt.UTC) for d in rows["Date received"]]
    return pa.table(
        {
            "interaction_id": [f"cfpb-{i}" for i in rows["Complaint ID"]],
            "customer_id": [f"c{i}" for i in rows["Complaint ID"]],
            "occurred_at": pa.array(when, type=pa.timestamp("us", tz="UTC")),
            "direction": [direction] * len(rows),
            "text": rows["Consumer complaint narrative"].tolist(),
        }
    )


def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)


def test_enrich_is_incremental_and_assigns_new_texts_to_existing_reasons(store: Store) -> None:
    df = sample()
    store.append("interactions", interactions(df.iloc[:45]))
    store.append("interactions", interactions(df.iloc[45:47], direction="outbound"))
    assert pending_count(store) == 45
    report = enrich_store(store, embedder=HashingEmbedder(), sentiment=LexiconSentiment(), batch_size=16)
    assert report.fitted and report.enriched == 45
    assert store.count("enrichments") == 45
    assert report.unassigned <= 2
    model = load_reason_model(store)
    assert model is not None and model.embedder == "hashing-v1"
    assert len(model.reasons) == 5  # the stated rule: round(sqrt(45 / 2))
    # Nothing new: nothing done.
    assert enrich_store(store, embedder=HashingEmbedder(), sentiment=LexiconSentiment()).enriched == 0
    # New texts go to the existing reasons, without a refit.
    store.append("interactions", interactions(df.iloc[47:]))
    again = enrich_store(store, embedder=HashingEmbedder(), sentiment=LexiconSentiment())
    assert not again.fitted and again.enriched == len(df) - 47
    assert again.reason_model == model.version
    rows = store.rows("SELECT reason_id, sentiment_label, sentiment_model FROM enrichments")
    assert {r["sentiment_model"] for r in rows} == {"lexicon-v1"}
    assert {r["sentiment_label"] for r in rows} <= {"negative", "neutral", "positive"}
    assert store.count("text_spans") == report.spans + again.spans > 0


def test_reason_report_and_refit_keep_ids(store: Store) -> None:
    store.append("interactions", interactions(sample()))
    enrich_store(store, embedder=HashingEmbedder(), sentiment=LexiconSentiment())
    rep = reason_report(store, weeks=4)
    assert rep["enriched"] == 60
    assert abs(sum(r["share"] for r in rep["reasons"]) + rep["unassigned_share"] - 1.0) < 1e-9
    first = rep["reasons"][0]
    assert first["verbatims"] and first["label"] and len(first["trend"]) <= 4
    before = load_reason_model(store)
    assert before is not None
    # Same texts, same seed: the same reasons, with the same ids.
    after = fit_reasons_in_store(store, HashingEmbedder(), seed=0)
    assert [r.reason_id for r in after.reasons] == [r.reason_id for r in before.reasons]
    assert all(old == new for old, new in after.id_changes.items())
    assert store.scalar("SELECT count(*) FROM reasons WHERE active = TRUE") == len(after.reasons)


def test_cli_enrich_and_reasons(tmp_path: Path) -> None:
    from goodwill.cli.app import app
    from goodwill.store import open_store

    db = tmp_path / "s.duckdb"
    with open_store(db) as st:
        st.append("interactions", interactions(sample()))
    runner = CliRunner()
    res = runner.invoke(app, ["enrich", "--store", str(db), "--embedder", "hashing", "--sentiment", "lexicon", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["enriched"] == 60
    res = runner.invoke(app, ["reasons", "--store", str(db), "--json", "--top", "3"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["reasons"]) == 3 and data["enriched"] == 60
    res = runner.invoke(app, ["reasons", "--store", str(db)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "Contact reasons" in res.stdout


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "empty.duckdb"
    out = subprocess.run(
        [sys.executable, "-c", "from goodwill.cli.app import main; main()", "reasons", "--store", str(db)],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == "Error: No contact reasons have been found yet. Run: goodwill enrich"
    out = subprocess.run(
        [sys.executable, "-c", "from goodwill.cli.app import main; main()", "enrich", "--store", str(db),
         "--embedder", "hashing"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 2 and "Use --embedder minilm" in out.stderr and "Traceback" not in out.stderr
