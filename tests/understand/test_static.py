"""The static embedder distilled from MiniLM, its sentiment head, and choosing an embedder."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from goodwill.errors import ConfigError
from goodwill.store import Store
from goodwill.understand.embed import MODEL_DIR, HashingEmbedder, OnnxMiniLM
from goodwill.understand.sentiment import HeadSentiment, LexiconSentiment, VaderSentiment
from goodwill.understand.service import (
    enrich_store,
    fit_reasons_in_store,
    load_reason_model,
    make_embedder,
    make_sentiment,
    reason_report,
)
from goodwill.understand.stages import Embedder
from goodwill.understand.static import STATIC_META, STATIC_VECTORS, StaticEmbedder

from .test_service import interactions, sample

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "My flight was cancelled and I want my money back.",
    "They cancelled my flight; please refund me.",
    "The credit bureau reports a debt that is not mine.",
    "",
]


@pytest.fixture(scope="module")
def static() -> StaticEmbedder:
    return StaticEmbedder()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shapes_norms_and_meaning(static: StaticEmbedder) -> None:
    assert isinstance(static, Embedder)
    emb = static.embed(pa.array([*TEXTS, None]))
    assert emb.shape == (5, static.dim) and emb.dtype == np.float32
    assert static.dim == 256
    assert np.allclose(np.linalg.norm(emb[:3], axis=1), 1.0, atol=1e-5)
    # No known token (empty, null, emoji only): a zero vector, which no reason is near.
    assert not emb[3:].any()
    assert not static.embed(["😀😀"]).any()
    assert emb[0] @ emb[1] > 0.6 > 0.3 > emb[0] @ emb[2]


def test_embedding_is_the_normalised_sum_of_token_vectors(static: StaticEmbedder) -> None:
    # A plain loop over the shipped vectors, against the sparse product.
    text = "Lost my bag at the airport, nobody answers; unacceptable!!"
    ids = static.tokenizer.encode(text, add_special_tokens=False).ids
    vectors = np.load(MODEL_DIR / STATIC_VECTORS)["vectors"].astype(np.float64)
    want = sum(vectors[i] for i in ids)
    want = want / np.linalg.norm(want)
    assert np.allclose(static.embed([text])[0], want, atol=1e-5)


def test_deterministic_and_independent_of_batch_mates(static: StaticEmbedder) -> None:
    texts = [*sample()["Consumer complaint narrative"].tolist()[:20], *TEXTS]
    alone = np.stack([static.embed([t])[0] for t in texts])
    together = static.embed(texts)
    assert np.array_equal(together, static.embed(texts))
    assert np.array_equal(alone, together)
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = static.embed(pa.chunked_array([[texts[i] for i in order[:7]], [texts[i] for i in order[7:]]]))
    assert np.array_equal(shuffled, together[order])
    # Chunking inside embed (to bound memory) changes nothing either.
    assert np.array_equal(StaticEmbedder(chunk=3).embed(texts), together)


def test_long_texts_are_not_truncated(static: StaticEmbedder) -> None:
    long = " ".join(sample()["Consumer complaint narrative"].tolist()[:10])
    ids = static.encode_ids([long])[0]
    assert len(ids) > 1000
    cut = static.tokenizer.decode(ids[:254])
    a, b = static.embed([long, cut])
    assert a @ b < 0.999


def test_shipped_vectors_match_their_provenance() -> None:
    meta = json.loads((MODEL_DIR / STATIC_META).read_text())
    assert meta["name"] == StaticEmbedder.name
    assert meta["sha256"] == sha256(MODEL_DIR / STATIC_VECTORS)
    # Distilled from the model that ships: a rebuilt ONNX model needs rebuilt vectors.
    assert meta["source_model_sha256"] == sha256(MODEL_DIR / "all-MiniLM-L6-v2.int8.onnx")
    assert meta["tokenizer_sha256"] == sha256(MODEL_DIR / "tokenizer.json")
    assert (MODEL_DIR / STATIC_VECTORS).stat().st_size < 16_000_000
    with np.load(MODEL_DIR / STATIC_VECTORS) as f:
        assert f["vectors"].dtype == np.float16 and f["vectors"].shape == (30522, meta["dim"])
    # Trained only on texts outside the evaluation sets, and says which.
    assert set(meta["training"]["parts"]) == {"air", "twcs", "cfpb"}
    assert "half a" in meta["training"]["description"]["cfpb"]


def test_vectors_are_package_data() -> None:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["goodwill"]
    rel = f"understand/models/{STATIC_VECTORS}"
    assert any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(STATIC_VECTORS, p.removeprefix("**/")) for p in patterns)


def test_head_was_trained_on_the_shipped_vectors() -> None:
    # Rebuilt vectors move every embedding; a head trained on the old ones scores noise.
    spec = json.loads((MODEL_DIR / "sentiment_head_static.json").read_text())
    assert spec["embedder"] == StaticEmbedder.name
    assert spec["embedder_sha256"] == sha256(MODEL_DIR / STATIC_VECTORS), (
        "retrain: python benchmarks/understand_train_sentiment.py --embedder static"
    )


def test_each_embedder_gets_its_own_head(static: StaticEmbedder) -> None:
    head = HeadSentiment.for_embedder(static.name)
    assert head.embedder == static.name and head.coef.shape[1] == static.dim
    texts = ["Thank you so much, the crew were wonderful!", "Lost my bag and nobody answers the phone. Worst airline ever."]
    s = head.score(texts, static.embed(texts))
    assert s.label.to_pylist() == ["positive", "negative"]
    assert s.score[0] > 0.5 and s.score[1] < -0.5
    assert HeadSentiment.for_embedder(OnnxMiniLM.name).embedder == OnnxMiniLM.name
    # MiniLM's head given static vectors: a clear error, not a broadcast failure or noise.
    with pytest.raises(ConfigError, match="reads 384-dimensional all-MiniLM-L6-v2-int8 embeddings; it was given 256"):
        HeadSentiment().score(texts, static.embed(texts))
    with pytest.raises(ConfigError) as err:
        HeadSentiment.for_embedder(HashingEmbedder.name)
    assert str(err.value) == (
        "No sentiment head was trained on hashing-v1 embeddings. "
        "Use --embedder minilm or static, or --sentiment vader or lexicon."
    )


def test_make_embedder_and_sentiment_by_command_names() -> None:
    assert isinstance(make_embedder("static"), StaticEmbedder)
    head = make_sentiment("head", "static")
    assert isinstance(head, HeadSentiment) and head.embedder == StaticEmbedder.name
    minilm_head = make_sentiment("head")
    assert isinstance(minilm_head, HeadSentiment) and minilm_head.embedder == OnnxMiniLM.name
    assert isinstance(make_sentiment("vader", "static"), VaderSentiment)
    with pytest.raises(ConfigError, match="Use 'minilm', 'static' or 'hashing'"):
        make_embedder("word2vec")
    with pytest.raises(ConfigError, match="Use 'minilm', 'static' or 'hashing'"):
        make_sentiment("head", "word2vec")


def test_missing_vectors_say_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        StaticEmbedder(tmp_path)
    assert err.value.hint == "Build them with: nice -n 19 python benchmarks/understand_build_static.py"


def test_changing_embedder_never_mixes_spaces_or_ids(store: Store) -> None:
    df = sample()
    store.append("interactions", interactions(df.iloc[:40]))
    enrich_store(store, embedder=HashingEmbedder(), sentiment=LexiconSentiment())
    old = load_reason_model(store)
    assert old is not None and old.embedder == "hashing-v1"
    store.append("interactions", interactions(df.iloc[40:]))
    static = StaticEmbedder()
    report = enrich_store(store, embedder=static, sentiment=HeadSentiment.for_embedder(static.name))
    assert report.fitted and report.enriched == len(df) - 40
    new = load_reason_model(store)
    assert new is not None and new.embedder == static.name
    assert {len(r.centroid) for r in new.reasons} == {static.dim}
    assert {r["embedder"] for r in store.rows("SELECT embedder FROM reasons WHERE active = TRUE")} == {static.name}
    # No reason carries over from the other space, and no new reason reuses an old id: the texts
    # enriched under the hashing reasons are not counted under a static one.
    assert min(new.ids) > max(old.ids)
    rep = reason_report(store)
    counted = sum(r["count"] for r in rep["reasons"])
    assigned_static = store.scalar(
        "SELECT count(*) FROM enrichments WHERE embedder = ? AND reason_id IS NOT NULL", [static.name]
    )
    assert counted == assigned_static
    # A refit with the same embedder keeps the ids; with another, it moves above all of them.
    again = fit_reasons_in_store(store, static)
    assert [r.reason_id for r in again.reasons] == [r.reason_id for r in new.reasons]
    back = fit_reasons_in_store(store, HashingEmbedder())
    assert min(back.ids) > max(new.ids)
    assert back.id_changes == {int(i): None for i in new.ids}


def test_cli_enrich_with_the_static_embedder(tmp_path: Path) -> None:
    from goodwill.cli.app import app
    from goodwill.store import open_store

    db = tmp_path / "s.duckdb"
    with open_store(db) as st:
        st.append("interactions", interactions(sample()))
    runner = CliRunner()
    res = runner.invoke(app, ["enrich", "--store", str(db), "--embedder", "static", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["enriched"] == 60 and out["fitted_reasons"]
    with open_store(db) as st:
        rows = st.rows("SELECT DISTINCT embedder, sentiment_model FROM enrichments")
        labels = {r["sentiment_label"] for r in st.rows("SELECT sentiment_label FROM enrichments")}
    assert rows == [{"embedder": "minilm-static-v1", "sentiment_model": "head-airline-lr-static-1"}]
    # CFPB complaints: the head calls most of them negative.
    assert "negative" in labels
    res = runner.invoke(app, ["reasons", "--store", str(db), "--json", "--top", "3"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["embedder"] == "minilm-static-v1" and len(data["reasons"]) == 3


@pytest.mark.shared_data
def test_static_head_beats_vader_on_held_out_airline_tweets(shared_data: Path, static: StaticEmbedder) -> None:
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(shared_data / "airline-sentiment" / "Tweets.csv.gz", dtype={"tweet_id": str})
    df = df.drop_duplicates("tweet_id").reset_index(drop=True)
    y = df["airline_sentiment"].to_numpy()
    _, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=13)
    texts = df["text"].to_numpy()[np.sort(test)].tolist()
    truth = y[np.sort(test)]
    head = HeadSentiment.for_embedder(static.name).score(texts, static.embed(texts)).label.to_pylist()
    vader = VaderSentiment().score(texts, None).label.to_pylist()
    f_head = f1_score(truth, head, average="macro")
    f_vader = f1_score(truth, vader, average="macro")
    assert f_head > 0.65 and f_head > f_vader + 0.15, (f_head, f_vader)


def test_build_solver_matches_a_dense_ridge_solve() -> None:
    import scipy.sparse as sp
    from benchmarks.understand_build_static import pcg

    rng = np.random.default_rng(3)
    a = sp.random(60, 40, density=0.15, random_state=4, format="csr")
    y = rng.normal(size=(60, 5))
    x0 = rng.normal(size=(40, 5))
    lam = 0.1
    got, _ = pcg(a, y, x0, lam, tol=1e-10)
    dense = a.toarray()
    want = np.linalg.solve(dense.T @ dense + lam * np.eye(40), dense.T @ y + lam * x0)
    assert np.allclose(got, want, atol=1e-6)


def test_build_keeps_the_evaluation_halves_apart() -> None:
    from benchmarks.understand_build_static import cfpb_halves

    a, b = cfpb_halves(7293)
    assert len(a) == 3646 and len(b) == 3647
    assert not set(a.tolist()) & set(b.tolist()) and len(set(a.tolist()) | set(b.tolist())) == 7293
    assert np.array_equal(cfpb_halves(7293)[0], a)


def test_a_cluster_worker_scores_static_vectors_with_the_static_head(static: StaticEmbedder) -> None:
    # Workers build their own enricher from names; they once took the MiniLM head for any embedder.
    import datetime as dt

    from goodwill.understand.cluster import EnrichSpec, _enrich_batches
    from goodwill.understand.reasons import fit_reasons

    texts = ["My refund never arrived.", "Thank you, the agent was great!", "Why was my card charged twice?"]
    model = fit_reasons(static.embed(texts), texts, k=2, seed=0, embedder=static.name)
    batch = pa.record_batch({"interaction_id": ["a", "b", "c"], "customer_id": ["x", "y", "z"],
                             "occurred_at": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * 3,
                                                     pa.timestamp("us", tz="UTC")),
                             "text": texts})
    spec = EnrichSpec("static", "head", model, dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    out = pa.Table.from_batches(list(_enrich_batches(spec, iter([batch]))))
    assert set(out.column("sentiment_model").to_pylist()) == {HeadSentiment.for_embedder(static.name).name}
    assert out.column("sentiment_label").to_pylist()[:2] == ["negative", "positive"]
