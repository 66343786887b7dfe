"""Build the static embedder's token vectors from the shipped int8 MiniLM (no torch, no download).

    nice -n 19 .venv/bin/python benchmarks/understand_build_static.py [--corpus tweets+cfpb-a]
        [--dim 256] [--no-refine] [--out-dir DIR] [--cache DIR]

Recipe (model2vec's distillation, then a closed-form version of tokenlearn's refinement):

1. **Distil.** Every vocabulary token alone, ``[CLS] tok [SEP]``, through the shipped ONNX model
   (its output is the mean-pooled, L2-normalised sentence embedding). ``[PAD]``, ``[UNK]``,
   ``[CLS]``, ``[SEP]``, ``[MASK]`` and the 994 ``[unused*]`` tokens get zero vectors. PCA
   (centred, on the kept tokens) to ``--dim`` dimensions.
2. **Weigh.** SIF weights ``a / (a + p(token))`` with ``a = 1e-3`` and ``p`` the token's
   frequency in the training corpus (add-0.1 smoothing, so a token never seen weighs ~1). The
   id order of BERT's WordPiece vocabulary is not a usable Zipf rank (the first 2,000 ids are
   special tokens and single characters), so model2vec's rank-based estimate does not apply.
3. **Refine** (unless ``--no-refine``). Token vectors ``X`` solve the ridge problem
   ``min ||A X - Y||^2 + lam ||X - s X0||^2`` by preconditioned conjugate gradients, where a
   row of ``A`` is a training text's SIF-weighted mean of token counts (the first 254 tokens,
   the window MiniLM sees), ``Y`` is MiniLM's embedding of that text, centred on the training
   mean and projected by the same PCA, ``X0`` the distilled vectors and ``s`` the least-squares
   scale of ``A X0`` to ``Y``. Tokens absent from the corpus keep ``s X0``.
4. **Ship** ``w * X`` as float16: a text's embedding is then the L2-normalised sum of its
   tokens' rows, whatever its length (no truncation).

Training corpus (``--corpus``), never an evaluation text:

- ``tweets``: the airline tweets of the sentiment head's 80% training split (seed 13; the 20%
  is held out) and every non-empty TWCS tweet;
- ``tweets+cfpb-a`` (the shipped vectors): the same plus half ``a`` of the 7,293 CFPB narratives
  (:func:`cfpb_halves`, seed 13). Half ``b`` is the contact-reason evaluation set;
- ``tweets+cfpb-b``: half ``b`` instead, for a swapped check;
- ``none``: no corpus; equivalent to ``--no-refine`` with uniform weights.

Choices (256 dimensions, ``a = 1e-3``, ``lam = 0.1``) were made on validation splits only: the
vectors refined on 75% of the training tweets and 75% of CFPB half ``a``, then a head trained on
the same 75% of tweets scored on the other 25%, and NMI of reasons on the other 25% of half
``a``. Smaller ``lam`` fits reasons better and sentiment worse (0.03: NMI 0.402, macro-F1 0.690;
0.1: 0.385, 0.711; 0.3: 0.376, 0.717); 128 dimensions lost 0.03 macro-F1.

Texts whose exact wording occurs in an evaluation set (the held-out tweets; the other CFPB half)
are dropped from training. MiniLM's embeddings of each whole corpus are cached under ``--cache``
(keyed by the model's and the texts' hashes), so a rebuild or ``understand_static_eval.py``
reuses them. Deterministic: no random step besides the seeded splits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from goodwill.understand.embed import MAX_TOKENS, MODEL_DIR, OnnxMiniLM  # noqa: E402
from goodwill.understand.static import (  # noqa: E402
    STATIC_META,
    STATIC_VECTORS,
    StaticEmbedder,
    load_tokenizer,
    token_ids,
)
from understand_train_sentiment import load_tweets, split  # noqa: E402

SEED = 13
DATA = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))
CACHE = Path(os.environ.get("GOODWILL_CACHE", Path.home() / ".cache" / "goodwill")) / "static-build"
CORPORA = ("tweets+cfpb-a", "tweets+cfpb-b", "tweets", "none")
# The teacher's window is MiniLM's 256 tokens including [CLS] and [SEP].
FIT_TOKENS = MAX_TOKENS - 2


# -- data ---------------------------------------------------------------------------------


def twcs() -> list[str]:
    df = pd.read_csv(DATA / "twcs" / "twcs-complete-threads.csv.gz", dtype=str, keep_default_na=False)
    return [t for t in df["text"].tolist() if t]


def cfpb() -> pd.DataFrame:
    return pd.read_csv(
        DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str, keep_default_na=False
    )


def cfpb_halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Halves ``a`` and ``b`` of the narratives: a seeded permutation cut in two, each sorted."""
    perm = np.random.default_rng(SEED).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


@dataclass
class Corpora:
    """Every corpus's texts, with the evaluation rows that training must never see."""

    air: list[str]
    air_labels: np.ndarray
    air_train: np.ndarray
    air_test: np.ndarray
    twcs: list[str]
    cfpb: list[str]
    cfpb_issue: np.ndarray
    cfpb_a: np.ndarray
    cfpb_b: np.ndarray

    @classmethod
    def load(cls) -> Corpora:
        air = load_tweets()
        labels = air["airline_sentiment"].to_numpy()
        train, test = split(labels)
        cf = cfpb()
        a, b = cfpb_halves(len(cf))
        return cls(
            air["text"].tolist(), labels, train, test, twcs(),
            cf["Consumer complaint narrative"].tolist(), cf["Issue"].to_numpy(), a, b,
        )

    def training(self, corpus: str) -> tuple[list[tuple[str, np.ndarray]], dict[str, Any]]:
        """(corpus name, rows) to train on, and a description with counts and exclusions."""
        if corpus == "none":
            return [], {"corpus": "none"}
        parts: list[tuple[str, np.ndarray]] = [("air", self.air_train), ("twcs", np.arange(len(self.twcs)))]
        held = {self.air[i] for i in self.air_test}
        if corpus == "tweets+cfpb-a":
            parts.append(("cfpb", self.cfpb_a))
            held |= {self.cfpb[i] for i in self.cfpb_b}
        elif corpus == "tweets+cfpb-b":
            parts.append(("cfpb", self.cfpb_b))
            held |= {self.cfpb[i] for i in self.cfpb_a}
        else:
            held |= set(self.cfpb)
        kept: list[tuple[str, np.ndarray]] = []
        desc: dict[str, Any] = {"corpus": corpus, "parts": {}}
        for name, rows in parts:
            texts = self.texts(name)
            keep = np.array([i for i in rows if texts[i] not in held], dtype=np.int64)
            kept.append((name, keep))
            desc["parts"][name] = {"texts": len(keep), "dropped_as_in_evaluation": len(rows) - len(keep)}
        desc["description"] = {
            "air": "airline-sentiment Tweets.csv.gz, duplicates of tweet_id dropped, the 80% training split "
            "(stratified, seed 13)",
            "twcs": "twcs-complete-threads.csv.gz, every non-empty tweet (customers' and companies')",
            "cfpb": f"complaints-with-narratives.csv.gz, half {corpus[-1]} of a seed-13 permutation"
            if "cfpb" in corpus else None,
        }
        return kept, desc

    def texts(self, name: str) -> list[str]:
        return {"air": self.air, "twcs": self.twcs, "cfpb": self.cfpb}[name]


# -- the teacher ----------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _texts_key(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def teacher_embeddings(
    name: str, texts: Sequence[str], *, cache: Path = CACHE, log: bool = True
) -> tuple[np.ndarray, bool]:
    """MiniLM's embeddings of ``texts`` (cached by model and texts); and whether from the cache."""
    minilm = OnnxMiniLM()
    model = sha256_file(MODEL_DIR / "all-MiniLM-L6-v2.int8.onnx")[:16]
    # The int8 model's vectors depend on the batch (one activation scale per call): keyed by it.
    path = cache / model / f"{name}-batch{minilm.batch_size}-{_texts_key(texts)}.npy"
    if path.exists():
        return np.load(path), True
    t = time.perf_counter()
    emb = minilm.embed(list(texts))
    if log:
        print(f"MiniLM embedded {len(texts):,} {name} texts in {time.perf_counter() - t:.0f}s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    return emb, False


def token_outputs(cache: Path = CACHE) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM's output for ``[CLS] tok [SEP]`` per vocabulary id, and the mask of ids kept."""
    minilm = OnnxMiniLM()
    vocab: dict[str, int] = minilm.tokenizer.get_vocab()
    size = minilm.tokenizer.get_vocab_size()
    keep = np.ones(size, dtype=bool)
    for tok, i in vocab.items():
        # [PAD], [UNK], [CLS], [SEP], [MASK] and [unused0..993] carry no meaning of their own.
        if tok.startswith("[") and tok.endswith("]"):
            keep[i] = False
    model = sha256_file(MODEL_DIR / "all-MiniLM-L6-v2.int8.onnx")[:16]
    path = cache / model / "vocabulary-alone.npy"
    if path.exists():
        return np.load(path), keep
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    out = np.zeros((size, minilm.dim), dtype=np.float32)
    ids = np.flatnonzero(keep)
    t = time.perf_counter()
    # The embedder's own embed() tokenises strings; a lone sub-word (##ing) needs its id fed
    # directly. One token per call, as the embedder runs texts: the int8 model's activation
    # scale is per call, so a batch would move each token's vector with its batch-mates.
    session = minilm._session
    mask = np.ones((1, 3), dtype=np.int64)
    for i in ids:
        x = np.array([[cls, i, sep]], dtype=np.int64)
        (emb,) = session.run(None, {"input_ids": x, "attention_mask": mask})
        out[i] = emb[0]
    print(f"MiniLM embedded {len(ids):,} vocabulary tokens in {time.perf_counter() - t:.0f}s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out, keep


# -- the recipe -----------------------------------------------------------------------------


_TOKENIZER = load_tokenizer()


def bag(texts: Sequence[str], vocab_size: int, max_tokens: int | None = None) -> Any:
    """Token counts per text (CSR), tokenised exactly as StaticEmbedder does."""
    import scipy.sparse as sp

    ids = [x[:max_tokens] for x in token_ids(_TOKENIZER, list(texts))]
    ptr = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in ids], out=ptr[1:])
    flat = np.fromiter((i for x in ids for i in x), dtype=np.int64, count=int(ptr[-1]))
    return sp.csr_matrix((np.ones(len(flat), dtype=np.float64), flat, ptr), shape=(len(ids), vocab_size))


def sif_weights(counts: np.ndarray, a: float) -> np.ndarray:
    p = (counts + 0.1) / (counts.sum() + 0.1 * len(counts))
    return np.asarray(a / (a + p))


def pcg(a: Any, y: np.ndarray, x0: np.ndarray, lam: float, *, iters: int = 400, tol: float = 1e-5) -> tuple[np.ndarray, int]:
    """Solve (A'A + lam I) X = A'Y + lam X0 for all columns at once; Jacobi-preconditioned CG."""
    at = a.T.tocsr()

    def op(x: np.ndarray) -> np.ndarray:
        return np.asarray(at @ (a @ x)) + lam * x

    m = 1.0 / (np.asarray(a.multiply(a).sum(axis=0)).ravel() + lam)
    b = np.asarray(at @ y) + lam * x0
    x = x0.copy()
    r = b - op(x)
    z = r * m[:, None]
    p = z.copy()
    rz = (r * z).sum(axis=0)
    bn = np.sqrt((b * b).sum(axis=0))
    i = 0
    while i < iters:
        i += 1
        ap = op(p)
        step = rz / np.maximum((p * ap).sum(axis=0), 1e-30)
        x += p * step
        r -= ap * step
        if (np.sqrt((r * r).sum(axis=0)) / bn).max() < tol:
            break
        z = r * m[:, None]
        rz_new = (r * z).sum(axis=0)
        p = z + p * (rz_new / rz)
        rz = rz_new
    return x, i


@dataclass
class Built:
    vectors: np.ndarray
    projection: np.ndarray
    teacher_mean: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def build(
    corpora: Corpora,
    corpus: str = "tweets+cfpb-a",
    *,
    dim: int = 256,
    sif_a: float = 1e-3,
    lam: float = 0.1,
    refine: bool = True,
    cache: Path = CACHE,
) -> Built:
    import scipy.sparse as sp

    t0 = time.perf_counter()
    outputs, keep = token_outputs(cache)
    size = len(outputs)
    mu = outputs[keep].astype(np.float64).mean(axis=0)
    _, _, vt = np.linalg.svd(outputs[keep] - mu, full_matrices=False)
    proj = vt[:dim].T
    x0 = np.zeros((size, dim))
    x0[keep] = (outputs[keep] - mu) @ proj
    parts, desc = corpora.training(corpus)
    counts = np.zeros(size)
    for name, rows in parts:
        counts += np.asarray(bag([corpora.texts(name)[i] for i in rows], size).sum(axis=0)).ravel()
    w = sif_weights(counts, sif_a) if parts else np.ones(size)
    teacher_mean = np.zeros(outputs.shape[1])
    meta: dict[str, Any] = {"training": desc, "refined": bool(refine and parts)}
    x = x0
    if refine and parts:
        blocks, targets = [], []
        for name, rows in parts:
            texts = corpora.texts(name)
            b = bag([texts[i] for i in rows], size, FIT_TOKENS) @ sp.diags(w)
            s = np.asarray(b.sum(axis=1)).ravel()
            s[s == 0] = 1.0
            blocks.append(sp.diags(1.0 / s) @ b)
            emb, _ = teacher_embeddings(name, texts, cache=cache)
            targets.append(emb[rows].astype(np.float64))
        a = sp.vstack(blocks).tocsr()
        y_full = np.concatenate(targets)
        teacher_mean = y_full.mean(axis=0)
        y = (y_full - teacher_mean) @ proj
        pred = np.asarray(a @ x0)
        scale = float((pred * y).sum() / (pred * pred).sum())
        t = time.perf_counter()
        x, iters = pcg(a, y, x0 * scale, lam)
        meta.update(
            {"ridge_lambda": lam, "prior_scale": round(scale, 6), "cg_iterations": iters,
             "fit_seconds": round(time.perf_counter() - t, 1), "fit_texts": int(a.shape[0]),
             "fit_tokens_per_text": FIT_TOKENS}
        )
    vectors = (x * w[:, None]).astype(np.float16)
    vectors[~keep] = 0
    meta.update(
        {"dim": dim, "vocab_size": size, "pca": "centred, fitted on the kept tokens' outputs",
         "sif_a": sif_a if parts else None, "build_seconds": round(time.perf_counter() - t0, 1)}
    )
    return Built(vectors, proj.astype(np.float32), teacher_mean.astype(np.float32), meta)


def save(built: Built, out_dir: Path, command: str) -> Path:
    """Write the vectors (.npz) and their provenance (.json) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / STATIC_VECTORS
    buf = io.BytesIO()
    # projection and teacher_mean map a MiniLM embedding into this space, for comparing the two.
    np.savez_compressed(buf, vectors=built.vectors, projection=built.projection, teacher_mean=built.teacher_mean)
    path.write_bytes(buf.getvalue())
    minilm = json.loads((MODEL_DIR / "minilm.json").read_text())
    meta = {
        "name": StaticEmbedder.name,
        "source_model": minilm["model"],
        "source_model_file": "all-MiniLM-L6-v2.int8.onnx",
        "source_model_sha256": sha256_file(MODEL_DIR / "all-MiniLM-L6-v2.int8.onnx"),
        "tokenizer_sha256": sha256_file(MODEL_DIR / "tokenizer.json"),
        "licence": minilm["licence"],
        "vectors_file": STATIC_VECTORS,
        "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
        "dtype": "float16",
        **built.meta,
        "seed": SEED,
        "command": command,
        "built": dt.date.today().isoformat(),
    }
    (out_dir / STATIC_META).write_text(json.dumps(meta, indent=2) + "\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=CORPORA, default="tweets+cfpb-a")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--sif-a", type=float, default=1e-3)
    ap.add_argument("--lam", type=float, default=0.1, help="ridge weight of the distilled vectors")
    ap.add_argument("--no-refine", action="store_true", help="distil and weigh only")
    ap.add_argument("--out-dir", type=Path, default=MODEL_DIR)
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args()
    if not DATA.exists():
        print(f"shared data not found at {DATA} (set GOODWILL_DATA)", file=sys.stderr)
        return 2
    built = build(
        Corpora.load(), args.corpus, dim=args.dim, sif_a=args.sif_a, lam=args.lam,
        refine=not args.no_refine, cache=args.cache,
    )
    command = " ".join(["nice -n 19 .venv/bin/python benchmarks/understand_build_static.py", *sys.argv[1:]])
    path = save(built, args.out_dir, command)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {args.out_dir / STATIC_META}")
    print(json.dumps(built.meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
