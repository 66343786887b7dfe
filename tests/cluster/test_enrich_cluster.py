"""Text enrichment mapped over Spark partitions gives what the in-process pipeline gives."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute
import pyarrow.csv as pacsv
import pytest

from goodwill.store import Store, open_store
from goodwill.understand.cluster import (
    EnrichSpec,
    enrich_frame,
    enrich_on_cluster,
    spans_frame,
    worker_loads,
)
from goodwill.understand.pipeline import Enricher
from goodwill.understand.reasons import fit_reasons
from goodwill.understand.service import enrich_store, make_embedder, make_sentiment
from goodwill.understand.spans import PatternSpanTagger

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    # pyspark 4 warns about pandas 3 on every Arrow conversion, though none of these use pandas.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

DATA = Path(__file__).resolve().parents[1] / "data"
NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)


def _texts() -> pa.Table:
    """The 60 real CFPB narratives of tests/data/understand, as interactions to enrich."""
    raw = pacsv.read_csv(DATA / "understand" / "cfpb_sample.csv.gz")
    n = raw.num_rows
    day0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return pa.table(
        {
            "interaction_id": [f"cfpb:{i}" for i in raw.column("Complaint ID").to_pylist()],
            "customer_id": [f"c{i % 7}" for i in range(n)],
            "occurred_at": pa.array([day0 + dt.timedelta(days=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
            "text": raw.column("Consumer complaint narrative").cast(pa.string()),
        }
    )


def _rows(t: pa.Table, key: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(t.to_pylist(), key=lambda r: tuple(str(r[k]) for k in key))


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b) and a
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float):
                assert math.isclose(x[k], y[k], abs_tol=1e-6), (k, x, y)
            else:
                assert x[k] == y[k], (k, x, y)


def _partitions(df: Any) -> list[pa.Table]:
    """Each partition's rows, in the order a task reads them."""

    def tag(batches: Any) -> Any:
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        for b in batches:
            yield b.append_column("_part", pa.array([part] * b.num_rows, pa.int64()))

    rows = df.mapInArrow(tag, "interaction_id STRING, customer_id STRING, occurred_at TIMESTAMP, text STRING, _part BIGINT").toArrow()
    parts = sorted(set(rows.column("_part").to_pylist()))
    return [rows.filter(pa.compute.equal(rows.column("_part"), p)).drop_columns(["_part"]) for p in parts]


def test_minilm_over_partitions_equals_the_in_process_pipeline(spark_store: Store) -> None:
    pytest.importorskip("onnxruntime")
    texts = _texts()
    embedder = make_embedder("minilm")
    emb = embedder.embed(texts.column("text").combine_chunks())
    model = fit_reasons(emb, texts.column("text").to_pylist(), k=6, seed=0, embedder=embedder.name)

    spark = spark_store.spark  # type: ignore[attr-defined]
    # Frozen partitions, so the comparison below sees the very batches the workers saw.
    df = spark.createDataFrame(texts).repartition(4).localCheckpoint()
    spec = EnrichSpec("minilm", "head", model, NOW)
    remote = enrich_frame(df, spec).toArrow()
    spans = spans_frame(df).toArrow()

    # A text's vector does not depend on the texts embedded with it, so the whole table in
    # one process must give what the workers gave, partition by partition.
    assert len(_partitions(df)) == 4
    local = Enricher(embedder, make_sentiment("head"), model, PatternSpanTagger())
    out = local.enrich(texts, now=NOW)
    want, want_spans = out.enrichments, out.spans
    _same(_rows(remote, ("interaction_id",)), _rows(want, ("interaction_id",)))
    key = ("interaction_id", "kind", "start_char")
    assert want_spans.num_rows > 0
    _same(_rows(spans, key), _rows(want_spans, key))
    # Each worker process built the model once, however many partitions it enriched.
    loads = [r for r in worker_loads(spark) if r["model"].startswith("minilm")]
    assert loads and all(r["loads"] == 1 for r in loads)


def test_a_spark_store_enriched_on_the_cluster_matches_duckdb(spark_store: Store, tmp_path: Path) -> None:
    """enrich_on_cluster (workers) writes the rows enrich_store (one process) writes."""
    from goodwill.ingest import ingest_file

    sample = DATA / "core" / "cfpb-150.csv.gz"
    duck = open_store(tmp_path / "store.duckdb")
    try:
        ingest_file(duck, sample, "cfpb")
        enrich_store(duck, embedder=make_embedder("hashing"), sentiment=make_sentiment("lexicon"))
        want = duck.query("SELECT * FROM enrichments")
        want_spans = duck.query("SELECT * FROM text_spans")
    finally:
        duck.close()
    ingest_file(spark_store, sample, "cfpb")
    rep = enrich_on_cluster(
        spark_store, embedder="hashing", sentiment="lexicon", partitions=3  # type: ignore[arg-type]
    )
    assert rep.fitted and rep.enriched == want.num_rows > 100 and rep.partitions == 3
    got = spark_store.query("SELECT * FROM enrichments")
    drop = ("enriched_at",)
    _same(
        _rows(got.drop_columns(list(drop)), ("interaction_id",)),
        _rows(want.drop_columns(list(drop)), ("interaction_id",)),
    )
    key = ("interaction_id", "kind", "start_char")
    assert rep.spans == want_spans.num_rows
    _same(_rows(spark_store.query("SELECT * FROM text_spans"), key), _rows(want_spans, key))
    # Run again: nothing is pending, nothing is added twice.
    again = enrich_on_cluster(spark_store, embedder="hashing", sentiment="lexicon")  # type: ignore[arg-type]
    assert (again.enriched, again.spans, again.fitted) == (0, 0, False)
