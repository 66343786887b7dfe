"""Build the shipped dark-pattern model (``model.json``) from the Yada et al. data set.

Run at build time, not at lint time: ``python -m goodwill.lint.train [--data DIR]``. It needs
scikit-learn (the ``text`` extra) and ``dark-patterns-ec-yada/dataset.tsv.gz`` under the data
directory (``GOODWILL_DATA``, default ``../shared/data``). The result is deterministic: the solver
is deterministic, and the data are read in file order.

Only the Yada set (Apache-2.0) is used for the shipped weights; the Princeton set (GPL-3.0) is used
for evaluation only, so the package carries no GPL-derived data.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from goodwill.errors import ConfigError, MissingDependencyError
from goodwill.lint._classifier import Model, model_from_dict, terms

YADA_PATH = "dark-patterns-ec-yada/dataset.tsv.gz"
MODEL_PATH = Path(__file__).with_name("model.json")
SEED = 0


@dataclass(frozen=True)
class Example:
    page_id: str
    text: str
    category: str


def data_dir() -> Path:
    env = os.environ.get("GOODWILL_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def load_yada(root: Path | None = None) -> list[Example]:
    path = (root or data_dir()) / YADA_PATH
    if not path.exists():
        raise ConfigError(
            f"The Yada dark-pattern data set is not at {path}.",
            hint="Set GOODWILL_DATA to the folder that holds dark-patterns-ec-yada/.",
        )
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        return [
            Example(row["page_id"], row["text"], row["Pattern Category"])
            for row in reader
            if row["text"] and row["text"].strip()
        ]


def split_by_page(
    examples: Sequence[Example], test_fraction: float = 0.2, seed: int = SEED
) -> tuple[list[Example], list[Example]]:
    """Hold out whole pages: texts of one page are near-copies, and must not straddle the split."""
    pages = sorted({e.page_id for e in examples}, key=lambda p: (len(p), p))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(pages, size=round(len(pages) * test_fraction), replace=False).tolist())
    train = [e for e in examples if e.page_id not in held]
    test = [e for e in examples if e.page_id in held]
    return train, test


def fit(
    texts: Sequence[str], labels: Sequence[str], *, c: float = 10.0, min_df: int = 2
) -> dict[str, Any]:
    """Fit TF-IDF + softmax regression and return the model as the JSON-ready dict we ship."""
    try:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise MissingDependencyError(
            "scikit-learn", "text", "Training the dark-pattern model"
        ) from exc

    docs = [terms(t) for t in texts]
    df = Counter(term for doc in docs for term in set(doc))
    vocabulary = sorted(t for t, n in df.items() if n >= min_df)
    index = {t: i for i, t in enumerate(vocabulary)}
    n = len(docs)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in vocabulary])
    rows, cols, vals = [], [], []
    for r, doc in enumerate(docs):
        counts = Counter(index[t] for t in doc if t in index)
        if not counts:
            continue
        ids = np.fromiter(counts.keys(), dtype=np.intp)
        v = np.array([1.0 + math.log(c_) for c_ in counts.values()]) * idf[ids]
        v /= np.linalg.norm(v)
        rows.extend([r] * len(ids))
        cols.extend(ids.tolist())
        vals.extend(v.tolist())
    x = sparse.csr_matrix((vals, (rows, cols)), shape=(n, len(vocabulary)))
    clf = LogisticRegression(C=c, max_iter=2000, random_state=SEED)
    clf.fit(x, list(labels))
    return {
        "classes": [str(k) for k in clf.classes_],
        "vocabulary": vocabulary,
        "idf": [round(float(v), 5) for v in idf],
        "coef": [[round(float(v), 5) for v in row] for row in clf.coef_],
        "intercept": [round(float(v), 5) for v in clf.intercept_],
        "meta": {
            "trained_on": "Yada et al. 2022, dark-patterns-ec-yada/dataset.tsv.gz (Apache-2.0)",
            "n_texts": n,
            "features": "word unigrams+bigrams, digits as 0, sublinear tf-idf, l2",
            "c": c,
            "min_df": min_df,
            "seed": SEED,
        },
    }


def train_model(examples: Sequence[Example], **kwargs: Any) -> Model:
    return model_from_dict(
        fit([e.text for e in examples], [e.category for e in examples], **kwargs)
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--data", type=Path, default=None, help="folder holding dark-patterns-ec-yada/"
    )
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)
    examples = load_yada(args.data)
    model = fit([e.text for e in examples], [e.category for e in examples])
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(model['vocabulary'])} features, {len(examples)} texts)")


if __name__ == "__main__":
    main()
