"""Text enrichment over a cluster: the same :class:`~goodwill.understand.pipeline.Enricher`,
mapped over a Spark DataFrame's partitions as Arrow record batches (``mapInArrow``).

What travels to the workers is a small :class:`EnrichSpec`: the names of the embedder and the
sentiment model (each worker loads them from the files installed with goodwill, so nothing is
downloaded and nothing large is shipped per task), the fitted contact reasons (centroids, a few
kilobytes), and the time stamp to write. Spark reuses its Python workers between tasks, so a
worker loads a model once, on its first task, and keeps it for every later one.

Reasons are fitted on the driver, on a bounded sample (:func:`fit_reasons_in_store`), exactly
as on one machine; only assignment runs on the workers.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from goodwill.store.spark import SPARK_TYPES, quiet_pandas
from goodwill.understand.pipeline import Enricher
from goodwill.understand.reasons import ReasonModel
from goodwill.understand.service import (
    _CUSTOMER_TEXT,
    fit_reasons_in_store,
    load_reason_model,
    make_embedder,
    make_sentiment,
)
from goodwill.understand.spans import PatternSpanTagger
from goodwill.understand.tables import ENRICHMENTS, REASONS, TEXT_SPANS

if TYPE_CHECKING:
    from goodwill.store.spark import SparkStore

__all__ = ["ClusterReport", "EnrichSpec", "enrich_frame", "enrich_on_cluster", "spans_frame", "worker_loads"]

@dataclass(frozen=True)
class EnrichSpec:
    """Everything a worker needs to enrich texts as the driver would."""

    embedder: str
    sentiment: str
    reasons: ReasonModel | None
    now: dt.datetime

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.embedder, self.sentiment, self.reasons.version if self.reasons else None)


# In each worker process: the enrichers it has built, and how many times it built each.
_ENRICHERS: dict[tuple[str, str, str | None], Enricher] = {}
_LOADS: dict[tuple[str, str, str | None], int] = {}
# Spans come from patterns, not a model: one tagger serves every task.
_TAGGER = PatternSpanTagger()


def _enricher(spec: EnrichSpec) -> Enricher:
    found = _ENRICHERS.get(spec.key)
    if found is None:
        # Spans are found by their own pass (spans_frame), so the enricher leaves them out.
        found = Enricher(make_embedder(spec.embedder), make_sentiment(spec.sentiment, spec.embedder), spec.reasons)
        _ENRICHERS[spec.key] = found
        _LOADS[spec.key] = _LOADS.get(spec.key, 0) + 1
    return found


def ddl(columns: Any) -> str:
    """A table's columns as a Spark schema string."""
    return ", ".join(f"`{c.name}` {SPARK_TYPES[c.type]}" for c in columns)


def _enrich_batches(spec: EnrichSpec, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    enricher = _enricher(spec)
    for batch in batches:
        if batch.num_rows:
            yield from enricher.enrich(batch, now=spec.now).enrichments.to_batches()


def _span_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    tagger = _TAGGER
    for batch in batches:
        if not batch.num_rows:
            continue
        texts = batch.column("text")
        found = tagger.tag(texts)
        rows = pa.array(found.row, type=pa.int64())
        out = pa.table(
            {
                "interaction_id": batch.column("interaction_id").take(rows),
                "customer_id": batch.column("customer_id").take(rows),
                "kind": pa.array(found.kind, type=pa.string()),
                "start_char": pa.array(found.start, type=pa.int64()),
                "end_char": pa.array(found.end, type=pa.int64()),
                "span_text": pa.array(found.text, type=pa.string()),
                "tagger": pa.array([tagger.name] * len(found), type=pa.string()),
            }
        )
        yield from out.cast(TEXT_SPANS.arrow_schema()).to_batches()


def enrich_frame(df: Any, spec: EnrichSpec) -> Any:
    """``df`` (interaction_id, customer_id, occurred_at, text) to its enrichments rows,
    computed on the workers, partition by partition."""
    with quiet_pandas():
        return df.mapInArrow(lambda it: _enrich_batches(spec, it), ddl(ENRICHMENTS.columns))


def spans_frame(df: Any) -> Any:
    """The expectation, repeat-contact and effort spans in ``df``'s texts, found on the workers."""
    with quiet_pandas():
        return df.mapInArrow(_span_batches, ddl(TEXT_SPANS.columns))


def _loads(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for _ in batches:
        pass
    yield pa.record_batch(
        {
            "pid": pa.array([os.getpid()] * len(_LOADS), pa.int64()),
            "model": pa.array([" / ".join(str(p) for p in k) for k in _LOADS], pa.string()),
            "loads": pa.array(list(_LOADS.values()), pa.int64()),
        }
    )


def worker_loads(spark: Any, partitions: int = 8) -> list[dict[str, Any]]:
    """How many times each worker process loaded each model (the evidence that it is once)."""
    probe = spark.range(partitions, numPartitions=partitions)
    with quiet_pandas():
        rows = probe.mapInArrow(_loads, "pid BIGINT, model STRING, loads BIGINT").collect()
    return [r.asDict() for r in rows]


@dataclass
class ClusterReport:
    enriched: int
    spans: int
    fitted: bool
    reason_model: str | None
    partitions: int

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def enrich_on_cluster(
    store: SparkStore,
    *,
    embedder: str = "minilm",
    sentiment: str = "head",
    fit_sample_size: int = 20_000,
    seed: int = 0,
    partitions: int | None = None,
    now: dt.datetime | None = None,
) -> ClusterReport:
    """Enrich a Spark store's customer texts not yet enriched, on the cluster's workers."""
    for t in (ENRICHMENTS, REASONS, TEXT_SPANS):
        store.ensure_table(t)
    fitted = False
    model = load_reason_model(store)
    if model is None or model.embedder != make_embedder(embedder).name:
        model = fit_reasons_in_store(store, make_embedder(embedder), sample_size=fit_sample_size, seed=seed)
        fitted = True
    spec = EnrichSpec(embedder, sentiment, model, now or dt.datetime.now(dt.UTC))
    pending = store.frame(
        "SELECT i.interaction_id, i.customer_id, i.occurred_at, i.text FROM interactions i "
        f"WHERE {_CUSTOMER_TEXT} AND NOT EXISTS "
        "(SELECT 1 FROM enrichments e WHERE e.interaction_id = i.interaction_id)"
    )
    if partitions is not None:
        pending = pending.repartition(partitions)
    # Read the pending texts once: both passes below map over the same partitions.
    pending = pending.localCheckpoint()
    enriched = store.append_frame(ENRICHMENTS, enrich_frame(pending, spec))
    spans = store.append_frame(TEXT_SPANS, spans_frame(pending))
    return ClusterReport(enriched, spans, fitted, model.version, pending.rdd.getNumPartitions())
