"""Contact reasons: why customers get in touch, discovered from their words.

- **Fit**: spherical k-means (k-means++ seeding from a seeded generator, Lloyd iterations on
  unit vectors) on a bounded sample of embeddings, so memory does not grow with the corpus.
  The number of reasons follows a stated rule (:func:`default_k`) unless given.
- **Assign**: nearest centroid by cosine; a text farther than the model's threshold (the
  99th percentile of the fit sample's distances) is left unassigned, and that share is reported.
- **Refit**: k-means starts from the previous reasons' centroids (k-means++ seeds any extra
  ones), so a text stays in its reason unless the new data moved it; new centroids are then
  matched to the old by the Hungarian method on cosine, and a match at or above
  ``keep_id_cosine`` keeps its old id, so ids persist where reasons persist.
- **Labels**: class-based TF-IDF keywords per reason; representatives are the sample texts
  nearest the centroid.
- **Emerging**: a reason whose share in recent weeks is well above its earlier share, with a
  one-sided two-proportion z-test as evidence (:func:`emerging_reasons`).
"""

from __future__ import annotations

import base64
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Emerging",
    "Reason",
    "ReasonModel",
    "assign",
    "default_k",
    "emerging_reasons",
    "fit_reasons",
    "match_ids",
    "spherical_kmeans",
]

_TOKEN = re.compile(r"[a-z][a-z']+")
# Handles (@united) and links name the channel, not the reason.
_NOISE = re.compile(r"[@#]\w+|https?://\S+|<[A-Z]+>")
# CFPB masks personal details with XXXX; placeholders come from redaction: neither is a topic.
_STOP = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "also", "get", "got", "us", "im", "i'm", "i've", "it's", "don't", "didn't", "can't", "won't", "one", "two", "would", "could", "told", "said", "xx", "xxx", "xxxx", "xxxxxxxx", "name", "email", "phone", "card", "iban", "postcode", "address", "http", "https", "co", "amp", "via", "still", "even", "back", "like", "know", "need", "want"]
)


def default_k(n: int) -> int:
    """The rule for the number of reasons: about sqrt(n/2), between 2 and 120."""
    return int(min(120, max(2, round(math.sqrt(n / 2)))))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return np.asarray(x / n)


def spherical_kmeans(
    x: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    max_iter: int = 40,
    tol: float = 1e-5,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster unit vectors by cosine; returns (centroids k x d, labels). Deterministic per seed.

    ``init`` starts from given centroids (a refit starts from the previous reasons, so texts
    stay where they were unless the data moved them); k-means++ seeds any beyond them."""
    x = _unit(x)
    n = len(x)
    k = min(k, n)
    rng = np.random.default_rng(seed)
    centroids = np.empty((k, x.shape[1]), dtype=np.float32)
    start = 0
    if init is not None and len(init):
        if init.shape[1] != x.shape[1]:
            raise ValueError(f"initial centroids have {init.shape[1]} dimensions, the texts {x.shape[1]}")
        start = min(k, len(init))
        centroids[:start] = _unit(init[:start])
    else:
        centroids[0] = x[rng.integers(n)]
        start = 1
    # k-means++ seeding on cosine distance.
    closest = (1.0 - x @ centroids[:start].T).min(axis=1)
    for c in range(start, k):
        p = np.clip(closest, 0, None) ** 2
        total = p.sum()
        pick = int(rng.choice(n, p=p / total)) if total > 0 else int(rng.integers(n))
        centroids[c] = x[pick]
        closest = np.minimum(closest, 1.0 - x @ centroids[c])
    labels = np.zeros(n, dtype=np.int64)
    prev = -np.inf
    for _ in range(max_iter):
        sims = x @ centroids.T
        labels = sims.argmax(axis=1)
        score = float(sims[np.arange(n), labels].sum())
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, x)
        empty = np.linalg.norm(sums, axis=1) == 0
        if empty.any():
            # Re-seed an empty cluster with the point worst served, deterministically.
            worst = np.argsort(sims[np.arange(n), labels], kind="stable")
            for j, e in enumerate(np.flatnonzero(empty)):
                sums[e] = x[worst[j]]
        centroids = _unit(sums)
        if score - prev <= tol * n:
            break
        prev = score
    labels = (x @ centroids.T).argmax(axis=1)
    return centroids, labels


@dataclass
class Reason:
    reason_id: int
    label: str
    keywords: list[str]
    size: int
    share: float
    representatives: list[str]
    centroid: np.ndarray

    def centroid_b64(self) -> str:
        return base64.b64encode(self.centroid.astype("<f4").tobytes()).decode()

    @staticmethod
    def centroid_from_b64(s: str) -> np.ndarray:
        return np.frombuffer(base64.b64decode(s), dtype="<f4").copy()


@dataclass
class ReasonModel:
    reasons: list[Reason]
    threshold: float
    embedder: str
    version: str
    seed: int
    unassigned_share: float = 0.0
    # Set when this model was refit from an older one: old id -> new id (None: retired).
    id_changes: dict[int, int | None] = field(default_factory=dict)

    @property
    def ids(self) -> np.ndarray:
        return np.array([r.reason_id for r in self.reasons], dtype=np.int64)

    @property
    def centroids(self) -> np.ndarray:
        return np.stack([r.centroid for r in self.reasons]).astype(np.float32)

    def assign(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return assign(self, embeddings)


def assign(model: ReasonModel, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest reason per row: (reason ids with -1 for unassigned, cosine distances)."""
    if len(embeddings) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    # In float64: a float32 product's last bits depend on how many rows BLAS multiplies at
    # once, so a text's distance would change with its batch (and differ between a Spark
    # partition and a local run).
    sims = _unit(embeddings).astype(np.float64) @ model.centroids.T.astype(np.float64)
    best = sims.argmax(axis=1)
    dist = 1.0 - sims[np.arange(len(best)), best]
    ids = model.ids[best]
    ids = np.where(dist <= model.threshold, ids, -1)
    return ids, dist


def _keywords(texts: Sequence[str], labels: np.ndarray, k: int, top: int = 8) -> list[list[str]]:
    """Class-based TF-IDF (BERTopic's c-TF-IDF): tf per class x log(1 + mean class size / tf)."""
    per_class: list[Counter[str]] = [Counter() for _ in range(k)]
    for t, c in zip(texts, labels, strict=True):
        words = [w for w in _TOKEN.findall(_NOISE.sub(" ", t).lower()) if w not in _STOP]
        per_class[c].update(words)
        per_class[c].update(f"{a} {b}" for a, b in itertools.pairwise(words))
    total: Counter[str] = Counter()
    for cnt in per_class:
        total.update(cnt)
    mean_words = sum(total.values()) / max(1, k)
    out = []
    for cnt in per_class:
        n = sum(cnt.values()) or 1
        scored = [
            (cnt[w] / n * math.log(1 + mean_words / total[w]), w)
            for w in cnt
            if cnt[w] >= 2 or len(cnt) < 50
        ]
        scored.sort(key=lambda s: (-s[0], s[1]))
        chosen: list[str] = []
        for _, w in scored:
            # Skip a word already inside a chosen phrase, and vice versa, to keep labels readable.
            if any(w in c.split() or c in w.split() for c in chosen):
                continue
            chosen.append(w)
            if len(chosen) == top:
                break
        out.append(chosen)
    return out


def fit_reasons(
    embeddings: np.ndarray,
    texts: Sequence[str],
    *,
    k: int | None = None,
    seed: int = 0,
    embedder: str = "",
    previous: ReasonModel | None = None,
    keep_id_cosine: float = 0.8,
    outlier_quantile: float = 0.99,
    n_representatives: int = 3,
    warm_start: bool = True,
    first_new_id: int = 1,
) -> ReasonModel:
    """Fit reasons on a sample (the caller bounds its size). Same inputs and seed, same model."""
    if len(embeddings) != len(texts):
        raise ValueError("embeddings and texts differ in length")
    if len(embeddings) < 2:
        raise ValueError("at least two texts are needed to find reasons")
    x = _unit(embeddings)
    kk = k or default_k(len(x))
    init = None
    if warm_start and previous is not None and previous.reasons and previous.centroids.shape[1] == x.shape[1]:
        # Largest first, so a smaller k keeps the reasons that matter most.
        by_size = sorted(previous.reasons, key=lambda r: (-r.size, r.reason_id))
        init = np.stack([r.centroid for r in by_size])
    centroids, labels = spherical_kmeans(x, kk, seed=seed, init=init)
    kk = len(centroids)
    dist = 1.0 - (x * centroids[labels]).sum(axis=1)
    threshold = float(np.quantile(dist, outlier_quantile))
    kws = _keywords(texts, labels, kk)
    sizes = np.bincount(labels, minlength=kk)
    ids, changes = match_ids(centroids, previous, keep_id_cosine, first_new_id)
    reasons = []
    for c in range(kk):
        members = np.flatnonzero(labels == c)
        near = members[np.argsort(dist[members], kind="stable")[:n_representatives]]
        reasons.append(
            Reason(
                reason_id=int(ids[c]),
                label=" / ".join(kws[c][:3]) or f"reason {ids[c]}",
                keywords=kws[c],
                size=int(sizes[c]),
                share=float(sizes[c] / len(x)),
                representatives=[texts[i] for i in near],
                centroid=centroids[c],
            )
        )
    reasons.sort(key=lambda r: r.reason_id)
    version = f"skm-k{kk}-s{seed}-n{len(x)}"
    return ReasonModel(
        reasons,
        threshold,
        embedder,
        version,
        seed,
        unassigned_share=float((dist > threshold).mean()),
        id_changes=changes,
    )


def match_ids(
    centroids: np.ndarray,
    previous: ReasonModel | None,
    keep_id_cosine: float = 0.8,
    first_new_id: int = 1,
) -> tuple[np.ndarray, dict[int, int | None]]:
    """Ids for new centroids: an old reason's id where the Hungarian match is close enough.

    New reasons are numbered from ``first_new_id`` (or above the previous model's ids): a store
    passes one above every id it has ever used, so a retired reason's id is never given to
    another reason while texts enriched under it are still counted by it."""
    k = len(centroids)
    if previous is None or not previous.reasons:
        return np.arange(first_new_id, first_new_id + k, dtype=np.int64), {}
    from scipy.optimize import linear_sum_assignment

    sims = centroids @ previous.centroids.T
    rows, cols = linear_sum_assignment(-sims)
    ids = np.full(k, -1, dtype=np.int64)
    changes: dict[int, int | None] = {int(i): None for i in previous.ids}
    for r, c in zip(rows, cols, strict=True):
        if sims[r, c] >= keep_id_cosine:
            ids[r] = previous.ids[c]
            changes[int(previous.ids[c])] = int(previous.ids[c])
    nxt = max(int(previous.ids.max()) + 1, first_new_id)
    for r in range(k):
        if ids[r] < 0:
            ids[r] = nxt
            nxt += 1
    return ids, changes


@dataclass(frozen=True)
class Emerging:
    reason_id: int
    recent_count: int
    recent_total: int
    baseline_count: int
    baseline_total: int
    recent_share: float
    baseline_share: float
    ratio: float
    z: float
    p_value: float

    def evidence(self) -> str:
        return (
            f"{self.recent_count}/{self.recent_total} ({self.recent_share:.1%}) in the recent weeks "
            f"vs {self.baseline_count}/{self.baseline_total} ({self.baseline_share:.1%}) before; "
            f"x{self.ratio:.1f}, z={self.z:.1f}, p={self.p_value:.2g}"
        )


def emerging_reasons(
    weekly: dict[int, dict[str, int]],
    totals: dict[str, int],
    *,
    recent_weeks: int = 4,
    min_ratio: float = 1.5,
    max_p: float = 0.01,
    min_count: int = 10,
) -> list[Emerging]:
    """Reasons whose share of contacts rose fast: recent weeks against all earlier ones.

    ``weekly`` maps reason id to {week: count}; ``totals`` maps week to all contacts that week.
    A reason is flagged when its recent share is at least ``min_ratio`` times its earlier share
    (with one contact of smoothing), it has ``min_count`` recent contacts, and a one-sided
    two-proportion z-test gives p below ``max_p``."""
    weeks = sorted(totals)
    if len(weeks) <= recent_weeks:
        return []
    recent, before = set(weeks[-recent_weeks:]), set(weeks[:-recent_weeks])
    n1 = sum(totals[w] for w in recent)
    n0 = sum(totals[w] for w in before)
    if n1 == 0 or n0 == 0:
        return []
    out = []
    for rid, counts in weekly.items():
        x1 = sum(c for w, c in counts.items() if w in recent)
        x0 = sum(c for w, c in counts.items() if w in before)
        p1, p0 = x1 / n1, x0 / n0
        ratio = p1 / ((x0 + 1) / n0)
        pooled = (x0 + x1) / (n0 + n1)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1)) if 0 < pooled < 1 else 0.0
        z = (p1 - p0) / se if se > 0 else 0.0
        p_value = 0.5 * math.erfc(z / math.sqrt(2))
        if x1 >= min_count and ratio >= min_ratio and p_value < max_p:
            out.append(Emerging(rid, x1, n1, x0, n0, p1, p0, ratio, z, p_value))
    out.sort(key=lambda e: (e.p_value, -e.ratio, e.reason_id))
    return out
