"""The understand layer against a store: enrich new interactions, fit and read contact reasons."""

from __future__ import annotations

import datetime as dt
import heapq
import json
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from goodwill.errors import ConfigError
from goodwill.store import Store
from goodwill.understand.embed import HashingEmbedder, OnnxMiniLM
from goodwill.understand.pipeline import Enricher, StageTimes
from goodwill.understand.reasons import Reason, ReasonModel, emerging_reasons, fit_reasons
from goodwill.understand.sentiment import HeadSentiment, LexiconSentiment, VaderSentiment
from goodwill.understand.spans import PatternSpanTagger
from goodwill.understand.stages import Embedder, SentimentModel
from goodwill.understand.static import StaticEmbedder
from goodwill.understand.tables import ENRICHMENTS, REASONS, TEXT_SPANS

__all__ = [
    "EnrichReport",
    "enrich_store",
    "fit_reasons_in_store",
    "load_reason_model",
    "make_embedder",
    "make_sentiment",
    "reason_report",
    "save_reason_model",
]

# Customer texts: inbound, or of unknown direction (many exports do not say).
_CUSTOMER_TEXT = (
    "i.text IS NOT NULL AND i.text <> '' AND (i.direction IS NULL OR i.direction = 'inbound')"
)


_EmbedderClass = type[OnnxMiniLM] | type[StaticEmbedder] | type[HashingEmbedder]
# The embedders by the names commands take; each class names its vectors (``cls.name``).
_EMBEDDERS: dict[str, _EmbedderClass] = {"minilm": OnnxMiniLM, "static": StaticEmbedder, "hashing": HashingEmbedder}


def _embedder_class(name: str) -> _EmbedderClass:
    cls = _EMBEDDERS.get(name)
    if cls is None:
        raise ConfigError(f"Unknown embedder {name!r}.", hint="Use 'minilm', 'static' or 'hashing'.")
    return cls


def make_embedder(name: str) -> Embedder:
    return _embedder_class(name)()


def make_sentiment(name: str, embedder: str = "minilm") -> SentimentModel:
    """A sentiment model; ``head`` is the head trained on ``embedder``'s vectors (a command name)."""
    if name == "head":
        return HeadSentiment.for_embedder(_embedder_class(embedder).name)
    if name == "vader":
        return VaderSentiment()
    if name == "lexicon":
        return LexiconSentiment()
    raise ConfigError(f"Unknown sentiment model {name!r}.", hint="Use 'head', 'vader' or 'lexicon'.")


def _ensure(store: Store) -> None:
    for t in (ENRICHMENTS, REASONS, TEXT_SPANS):
        store.ensure_table(t)


# -- reason models in the store ---------------------------------------------------------


def load_reason_model(store: Store) -> ReasonModel | None:
    _ensure(store)
    rows = store.rows(
        "SELECT * FROM reasons WHERE active = TRUE ORDER BY reason_id"
    )
    if not rows:
        return None
    reasons = [
        Reason(
            reason_id=int(r["reason_id"]),
            label=r["label"],
            keywords=json.loads(r["keywords"] or "[]"),
            size=int(r["fit_size"] or 0),
            share=float(r["fit_share"] or 0.0),
            representatives=json.loads(r["representatives"] or "[]"),
            centroid=Reason.centroid_from_b64(r["centroid"]),
        )
        for r in rows
    ]
    first = rows[0]
    return ReasonModel(reasons, float(first["threshold"]), first["embedder"], first["model_version"], 0)


def save_reason_model(store: Store, model: ReasonModel, *, now: dt.datetime | None = None) -> None:
    """Write the model's reasons as the active ones; reasons no longer found become inactive."""
    _ensure(store)
    stamp = now or dt.datetime.now(dt.UTC)
    created = {
        int(r["reason_id"]): r["created_at"]
        for r in store.rows("SELECT reason_id, created_at FROM reasons")
    }
    ids = [r.reason_id for r in model.reasons]
    rows = pa.table(
        {
            "reason_id": pa.array(ids, type=pa.int64()),
            "label": [r.label for r in model.reasons],
            "keywords": [json.dumps(r.keywords) for r in model.reasons],
            "representatives": [json.dumps(r.representatives) for r in model.reasons],
            "fit_size": pa.array([r.size for r in model.reasons], type=pa.int64()),
            "fit_share": pa.array([r.share for r in model.reasons], type=pa.float64()),
            "centroid": [r.centroid_b64() for r in model.reasons],
            "threshold": pa.array([model.threshold] * len(ids), type=pa.float64()),
            "embedder": [model.embedder] * len(ids),
            "model_version": [model.version] * len(ids),
            "active": pa.array([True] * len(ids)),
            "created_at": pa.array(
                [created.get(i, stamp) for i in ids], type=pa.timestamp("us", tz="UTC")
            ),
            "updated_at": pa.array([stamp] * len(ids), type=pa.timestamp("us", tz="UTC")),
        }
    )
    with store.transaction():
        store.execute("UPDATE reasons SET active = FALSE")
        if ids:
            marks = ", ".join("?" for _ in ids)
            store.execute(f"DELETE FROM reasons WHERE reason_id IN ({marks})", ids)
    store.append(REASONS, rows)


def _fit_sample(store: Store, size: int, seed: int) -> tuple[list[str], list[str]]:
    """A deterministic sample of customer texts of bounded size: the ``size`` smallest hashes
    of (seed, interaction id). The same store and seed give the same sample on any engine."""
    heap: list[tuple[int, str, str]] = []
    sql = f"SELECT i.interaction_id, i.text FROM interactions i WHERE {_CUSTOMER_TEXT}"
    for batch in store.scan(sql, batch_size=20_000):
        for iid, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            h = -zlib.crc32(f"{seed}:{iid}".encode())
            item = (h, iid, text)
            if len(heap) < size:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    heap.sort(key=lambda t: (-t[0], t[1]))
    return [t[1] for t in heap], [t[2] for t in heap]


class _SampleCache:
    """Reuses the fit sample's embeddings in the enrichment pass (bounded by the sample size)."""

    def __init__(self, inner: Embedder, texts: list[str], emb: np.ndarray) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.rows = {t: i for i, t in enumerate(texts)}
        self.emb = emb

    def embed(self, texts: pa.Array) -> np.ndarray:
        items = texts.to_pylist()
        hit = [self.rows.get(t or "") for t in items]
        miss = [i for i, h in enumerate(hit) if h is None]
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if miss:
            out[miss] = self.inner.embed(pa.array([items[i] for i in miss], type=pa.string()))
        found = [(i, h) for i, h in enumerate(hit) if h is not None]
        if found:
            out[[i for i, _ in found]] = self.emb[[h for _, h in found]]
        return out


def fit_reasons_in_store(
    store: Store,
    embedder: Embedder,
    *,
    sample_size: int = 20_000,
    k: int | None = None,
    seed: int = 0,
) -> ReasonModel:
    """Fit (or refit) contact reasons on a bounded sample; ids persist where reasons persist."""
    return _fit(store, embedder, sample_size=sample_size, k=k, seed=seed)[0]


def _fit(
    store: Store, embedder: Embedder, *, sample_size: int, k: int | None, seed: int
) -> tuple[ReasonModel, Embedder]:
    _ensure(store)
    _, texts = _fit_sample(store, sample_size, seed)
    if len(texts) < 2:
        raise ConfigError(
            "There are too few customer texts to find contact reasons.",
            hint="Ingest interactions with text first (goodwill ingest ...).",
        )
    previous = load_reason_model(store)
    # A model fitted with another embedder lives in another space: no reason carries over.
    other_space = previous is not None and previous.embedder != embedder.name
    # New ids start above every id the store has used, not only the current model's, so texts
    # enriched under a retired reason are never counted under a new one that shares its id.
    used = int(store.scalar("SELECT max(reason_id) FROM reasons") or 0)
    emb = embedder.embed(pa.array(texts, type=pa.string()))
    model = fit_reasons(
        emb, texts, k=k, seed=seed, embedder=embedder.name,
        previous=None if other_space else previous, first_new_id=used + 1,
    )
    if other_space and previous is not None:
        model.id_changes = {int(i): None for i in previous.ids}
    save_reason_model(store, model)
    return model, _SampleCache(embedder, texts, emb)


# -- enrichment ----------------------------------------------------------------------------


@dataclass
class EnrichReport:
    enriched: int = 0
    spans: int = 0
    unassigned: int = 0
    seconds: float = 0.0
    fitted: bool = False
    reason_model: str | None = None
    times: StageTimes = field(default_factory=StageTimes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enriched": self.enriched,
            "spans": self.spans,
            "unassigned": self.unassigned,
            "unassigned_share": self.unassigned / self.enriched if self.enriched else 0.0,
            "seconds": round(self.seconds, 3),
            "texts_per_second": round(self.enriched / self.seconds, 1) if self.seconds else None,
            "fitted_reasons": self.fitted,
            "reason_model": self.reason_model,
            "stage_seconds": {k: round(v, 3) for k, v in self.times.seconds.items()},
        }


def pending_count(store: Store) -> int:
    _ensure(store)
    return int(
        store.scalar(
            f"SELECT count(*) FROM interactions i WHERE {_CUSTOMER_TEXT} AND NOT EXISTS "
            "(SELECT 1 FROM enrichments e WHERE e.interaction_id = i.interaction_id)"
        )
    )


def _pending(store: Store, batch_size: int, limit: int | None) -> Iterator[pa.RecordBatch]:
    sql = (
        "SELECT i.interaction_id, i.customer_id, i.occurred_at, i.text FROM interactions i "
        f"WHERE {_CUSTOMER_TEXT} AND NOT EXISTS "
        "(SELECT 1 FROM enrichments e WHERE e.interaction_id = i.interaction_id)"
    )
    if limit is not None:
        # Which texts a limit takes must not depend on the engine's scan order. Without a limit
        # there is no sort: it would hold every pending text at once (881 MB peak at 1M texts
        # against 427 MB at 100k, measured), and a text's enrichment does not depend on the
        # others in its batch.
        sql += f" ORDER BY i.interaction_id LIMIT {int(limit)}"
    yield from store.scan(sql, batch_size=batch_size)


def enrich_store(
    store: Store,
    *,
    embedder: Embedder,
    sentiment: SentimentModel,
    batch_size: int = 2_048,
    limit: int | None = None,
    fit_sample_size: int = 20_000,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> EnrichReport:
    """Enrich customer texts not yet enriched; fits contact reasons first if there are none."""
    _ensure(store)
    report = EnrichReport()
    t0 = time.perf_counter()
    model = load_reason_model(store)
    if model is None or model.embedder != embedder.name:
        model, embedder = _fit(store, embedder, sample_size=fit_sample_size, k=None, seed=seed)
        report.fitted = True
    report.reason_model = model.version
    enricher = Enricher(embedder, sentiment, model, PatternSpanTagger(), report.times)
    for batch in _pending(store, batch_size, limit):
        if batch.num_rows == 0:
            continue
        out = enricher(batch)
        store.append(ENRICHMENTS, out.enrichments)
        if out.spans.num_rows:
            report.spans += store.append(TEXT_SPANS, out.spans)
        report.enriched += batch.num_rows
        report.unassigned += out.enrichments.column("reason_id").null_count
        if progress is not None:
            progress(batch.num_rows)
    report.seconds = time.perf_counter() - t0
    return report


# -- reading reasons -----------------------------------------------------------------------


def _week(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    return str(v)[:10]


def reason_report(store: Store, *, weeks: int = 8, recent_weeks: int = 4) -> dict[str, Any]:
    """Each active reason with its share, sentiment, weekly trend, a verbatim and an
    emerging flag with the evidence; plus the share of texts left unassigned."""
    _ensure(store)
    model = load_reason_model(store)
    if model is None:
        raise ConfigError(
            "No contact reasons have been found yet.",
            hint="Run: goodwill enrich",
        )
    total = int(store.scalar("SELECT count(*) FROM enrichments") or 0)
    per = {
        int(r["reason_id"]): r
        for r in store.rows(
            "SELECT reason_id, count(*) AS n, avg(sentiment_score) AS sentiment, "
            "avg(CASE WHEN sentiment_label = 'negative' THEN 1.0 ELSE 0.0 END) AS negative "
            "FROM enrichments WHERE reason_id IS NOT NULL GROUP BY reason_id"
        )
    }
    unassigned = int(store.scalar("SELECT count(*) FROM enrichments WHERE reason_id IS NULL") or 0)
    weekly_rows = store.rows(
        "SELECT reason_id, date_trunc('week', occurred_at) AS week, count(*) AS n FROM enrichments "
        "WHERE occurred_at IS NOT NULL GROUP BY reason_id, date_trunc('week', occurred_at)"
    )
    totals: dict[str, int] = {}
    weekly: dict[int, dict[str, int]] = {}
    for r in weekly_rows:
        w = _week(r["week"])
        totals[w] = totals.get(w, 0) + int(r["n"])
        if r["reason_id"] is not None:
            weekly.setdefault(int(r["reason_id"]), {})[w] = int(r["n"])
    shown_weeks = sorted(totals)[-weeks:]
    emerging = {e.reason_id: e for e in emerging_reasons(weekly, totals, recent_weeks=recent_weeks)}
    reasons: list[dict[str, Any]] = []
    for reason in model.reasons:
        stats = per.get(reason.reason_id, {})
        n = int(stats.get("n") or 0)
        counts = weekly.get(reason.reason_id, {})
        trend = [
            {"week": w, "count": counts.get(w, 0), "share": counts.get(w, 0) / totals[w] if totals[w] else 0.0}
            for w in shown_weeks
        ]
        e = emerging.get(reason.reason_id)
        reasons.append(
            {
                "reason_id": reason.reason_id,
                "label": reason.label,
                "keywords": reason.keywords,
                "count": n,
                "share": n / total if total else 0.0,
                "sentiment": float(stats["sentiment"]) if stats.get("sentiment") is not None else None,
                "negative_share": float(stats["negative"]) if stats.get("negative") is not None else None,
                "trend": trend,
                "verbatims": reason.representatives,
                "emerging": e is not None,
                "evidence": e.evidence() if e else None,
            }
        )
    reasons.sort(key=lambda x: (-int(x["count"]), int(x["reason_id"])))
    return {
        "model_version": model.version,
        "embedder": model.embedder,
        "enriched": total,
        "unassigned": unassigned,
        "unassigned_share": unassigned / total if total else 0.0,
        "weeks": shown_weeks,
        "reasons": reasons,
    }

