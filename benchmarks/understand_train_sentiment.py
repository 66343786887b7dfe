"""Train a sentiment head (logistic regression on sentence embeddings) on the airline tweets.

    .venv/bin/python benchmarks/understand_train_sentiment.py [--embedder minilm|static]
        [--save-embeddings FILE.npy]

Data: ``$GOODWILL_DATA/airline-sentiment/Tweets.csv.gz`` (14,640 tweets, duplicates of
``tweet_id`` dropped). Split: 80/20 stratified by label, seed 13. The head is trained on
the 80% only; the 20% is held out for ``bench_understand.py``'s and
``understand_static_eval.py``'s evaluations (same seed, same split).

- ``--embedder minilm`` (default) writes ``src/goodwill/understand/models/sentiment_head.json``
  and records the sha256 of the ONNX model it was trained on;
- ``--embedder static`` writes ``sentiment_head_static.json`` and records the sha256 of the
  static vectors (``minilm-static-v1.npz``).

Either way a test can tell when the embedder was rebuilt and the head not retrained.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from goodwill.understand.embed import MODEL_DIR, OnnxMiniLM  # noqa: E402
from goodwill.understand.sentiment import HEAD_FILES  # noqa: E402
from goodwill.understand.stages import Embedder  # noqa: E402
from goodwill.understand.static import StaticEmbedder  # noqa: E402

SEED = 13
DATA = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))


def load_tweets() -> pd.DataFrame:
    df = pd.read_csv(DATA / "airline-sentiment" / "Tweets.csv.gz", dtype={"tweet_id": str})
    return df.drop_duplicates("tweet_id").reset_index(drop=True)


def split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=0.2, stratify=labels, random_state=SEED)
    return np.sort(train), np.sort(test)


def embedder_and_provenance(name: str) -> tuple[Embedder, dict[str, str]]:
    """The embedder, and what the head records about the exact model file it was trained on."""
    if name == "static":
        static = StaticEmbedder()
        return static, {"version": "airline-lr-static-1", "embedder_sha256": static.meta["sha256"]}
    meta = json.loads((MODEL_DIR / "minilm.json").read_text())
    return OnnxMiniLM(), {"version": "airline-lr-3", "embedder_sha256": meta["sha256"]}


def main() -> int:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", choices=["minilm", "static"], default="minilm")
    ap.add_argument("--save-embeddings", type=Path, help="also save all tweets' embeddings (.npy)")
    args = ap.parse_args()
    df = load_tweets()
    y = df["airline_sentiment"].to_numpy()
    train, _ = split(y)
    embedder, provenance = embedder_and_provenance(args.embedder)
    t0 = time.perf_counter()
    emb = embedder.embed(df["text"].tolist())
    print(f"embedded {len(df)} tweets with {embedder.name} in {time.perf_counter() - t0:.1f}s")
    if args.save_embeddings:
        np.save(args.save_embeddings, emb)
    clf = LogisticRegression(C=4.0, max_iter=2000)
    clf.fit(emb[train], y[train])
    spec = {
        "version": provenance["version"],
        "embedder": embedder.name,
        "embedder_sha256": provenance["embedder_sha256"],
        "classes": [str(c) for c in clf.classes_],
        "coef": np.round(clf.coef_, 6).tolist(),
        "intercept": np.round(clf.intercept_, 6).tolist(),
        "trained_on": "airline-sentiment Tweets.csv.gz, 80% stratified split, seed 13, "
        f"{len(train)} tweets",
        "model": "sklearn LogisticRegression(C=4.0), multinomial",
    }
    out = MODEL_DIR / HEAD_FILES[embedder.name]
    out.write_text(json.dumps(spec) + "\n")
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
