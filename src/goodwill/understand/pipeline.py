"""The enrichment pipeline over Arrow record batches: embed, sentiment, reason, spans.

:class:`Enricher` is a pure function of a record batch (columns ``interaction_id``,
``customer_id``, ``occurred_at``, ``text``; the text already redacted at ingest), so it can be
mapped over a cluster's partitions as well as over a local scan.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from goodwill.understand.reasons import ReasonModel
from goodwill.understand.stages import Embedder, SentimentModel, SpanTagger
from goodwill.understand.tables import ENRICHMENTS, TEXT_SPANS

__all__ = ["EnrichedBatch", "Enricher", "StageTimes"]


@dataclass
class StageTimes:
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, s: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + s

    def shares(self) -> dict[str, float]:
        total = sum(self.seconds.values()) or 1.0
        return {k: v / total for k, v in self.seconds.items()}


@dataclass(frozen=True)
class EnrichedBatch:
    enrichments: pa.Table
    spans: pa.Table
    embeddings: np.ndarray


@dataclass
class Enricher:
    embedder: Embedder
    sentiment: SentimentModel
    reasons: ReasonModel | None = None
    tagger: SpanTagger | None = None
    times: StageTimes = field(default_factory=StageTimes)

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> EnrichedBatch:
        return self.enrich(batch)

    def enrich(self, batch: pa.RecordBatch | pa.Table, *, now: dt.datetime | None = None) -> EnrichedBatch:
        texts = batch.column("text")
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        n = len(texts)
        t0 = time.perf_counter()
        emb = self.embedder.embed(texts)
        t1 = time.perf_counter()
        self.times.add("embed", t1 - t0)
        sent = self.sentiment.score(texts, emb)
        t2 = time.perf_counter()
        self.times.add("sentiment", t2 - t1)
        if self.reasons is not None:
            rid, dist = self.reasons.assign(emb)
            reason_id = pa.array(np.where(rid >= 0, rid, 0), mask=rid < 0, type=pa.int64())
            reason_distance = pa.array(dist, type=pa.float64())
            reason_model = pa.array([self.reasons.version] * n, type=pa.string())
        else:
            reason_id = pa.nulls(n, pa.int64())
            reason_distance = pa.nulls(n, pa.float64())
            reason_model = pa.nulls(n, pa.string())
        t3 = time.perf_counter()
        self.times.add("reason", t3 - t2)
        stamp = now or dt.datetime.now(dt.UTC)
        cols = batch.schema.names
        ids = batch.column("interaction_id")
        customers = batch.column("customer_id") if "customer_id" in cols else pa.nulls(n, pa.string())
        occurred = (
            batch.column("occurred_at") if "occurred_at" in cols else pa.nulls(n, pa.timestamp("us", tz="UTC"))
        )
        enrich = pa.table(
            {
                "interaction_id": ids,
                "customer_id": customers,
                "occurred_at": occurred,
                "sentiment_score": pa.array(sent.score, type=pa.float64()),
                "sentiment_label": sent.label,
                "sentiment_model": pa.array([self.sentiment.name] * n, type=pa.string()),
                "reason_id": reason_id,
                "reason_distance": reason_distance,
                "reason_model": reason_model,
                "embedder": pa.array([self.embedder.name] * n, type=pa.string()),
                "enriched_at": pa.array([stamp] * n, type=pa.timestamp("us", tz="UTC")),
            }
        )
        spans = TEXT_SPANS.arrow_schema().empty_table()
        if self.tagger is not None:
            found = self.tagger.tag(texts)
            rows = pa.array(found.row, type=pa.int64())
            spans = pa.table(
                {
                    "interaction_id": pa.array(ids).take(rows) if len(found) else pa.array([], pa.string()),
                    "customer_id": pa.array(customers).take(rows) if len(found) else pa.array([], pa.string()),
                    "kind": pa.array(found.kind, type=pa.string()),
                    "start_char": pa.array(found.start, type=pa.int64()),
                    "end_char": pa.array(found.end, type=pa.int64()),
                    "span_text": pa.array(found.text, type=pa.string()),
                    "tagger": pa.array([self.tagger.name] * len(found), type=pa.string()),
                }
            )
            self.times.add("spans", time.perf_counter() - t3)
        return EnrichedBatch(enrich.cast(ENRICHMENTS.arrow_schema()), spans.cast(TEXT_SPANS.arrow_schema()), emb)
