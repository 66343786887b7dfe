"""Train the sentiment head (logistic regression on MiniLM embeddings) on the airline tweets.

    .venv/bin/python benchmarks/understand_train_sentiment.py [--save-embeddings FILE.npy]

Data: ``$GOODWILL_DATA/airline-sentiment/Tweets.csv.gz`` (14,640 tweets, duplicates of
``tweet_id`` dropped). Split: 80/20 stratified by label, seed 13. The head is trained on
the 80% only and written to ``src/goodwill/understand/models/sentiment_head.json``;
the 20% is held out for ``bench_understand.py``'s evaluation (same seed, same split).
The head records the sha256 of the ONNX model it was trained on, so a test can tell when the
model was rebuilt and the head not retrained.
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


def main() -> int:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save-embeddings", type=Path, help="also save all tweets' embeddings (.npy)")
    args = ap.parse_args()
    df = load_tweets()
    y = df["airline_sentiment"].to_numpy()
    train, _ = split(y)
    t0 = time.perf_counter()
    emb = OnnxMiniLM().embed(df["text"].tolist())
    print(f"embedded {len(df)} tweets in {time.perf_counter() - t0:.1f}s")
    if args.save_embeddings:
        np.save(args.save_embeddings, emb)
    meta = json.loads((MODEL_DIR / "minilm.json").read_text())
    clf = LogisticRegression(C=4.0, max_iter=2000)
    clf.fit(emb[train], y[train])
    spec = {
        "version": "airline-lr-2",
        "embedder": OnnxMiniLM.name,
        "embedder_sha256": meta["sha256"],
        "classes": [str(c) for c in clf.classes_],
        "coef": np.round(clf.coef_, 6).tolist(),
        "intercept": np.round(clf.intercept_, 6).tolist(),
        "trained_on": "airline-sentiment Tweets.csv.gz, 80% stratified split, seed 13, "
        f"{len(train)} tweets",
        "model": "sklearn LogisticRegression(C=4.0), multinomial",
    }
    (MODEL_DIR / "sentiment_head.json").write_text(json.dumps(spec) + "\n")
    print("wrote", MODEL_DIR / "sentiment_head.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
