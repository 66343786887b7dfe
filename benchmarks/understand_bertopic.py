"""Run BERTopic's default pipeline on precomputed embeddings; called by bench_understand.py.

    /tmp/btvenv/bin/python benchmarks/understand_bertopic.py TEXTS.json EMB.npy OUT.json

BERTopic is not a goodwill dependency (it pulls torch through sentence-transformers), so it
runs in a separate, throw-away venv:

    python3 -m venv /tmp/btvenv
    /tmp/btvenv/bin/pip install --no-deps bertopic==0.17.4
    /tmp/btvenv/bin/pip install umap-learn hdbscan scikit-learn pandas numpy plotly tqdm pyyaml

The embeddings are goodwill's (the shipped int8 MiniLM), so only the topic step differs. Two
fits run in this one fresh process: the first pays numba's JIT compilation (as a first fit in
any new process does), the second is warm. BERTopic's defaults set no UMAP seed, so the two
fits also show its run-to-run spread.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    texts_path, emb_path, out_path = sys.argv[1:4]
    t = time.perf_counter()
    import numpy as np
    from bertopic import BERTopic

    t_import = time.perf_counter() - t
    with open(texts_path) as f:
        texts = json.loads(f.read())
    emb = np.load(emb_path)
    fits = []
    for _ in range(2):
        t = time.perf_counter()
        topics, _ = BERTopic().fit_transform(texts, embeddings=emb)
        fits.append({"seconds": time.perf_counter() - t, "topics": [int(x) for x in topics]})
    import bertopic

    with open(out_path, "w") as f:
        json.dump({"version": bertopic.__version__, "import_seconds": t_import, "fits": fits}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
