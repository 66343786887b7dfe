"""The demo's commands point at places that exist, whatever the store is."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from tests.conftest import _PG_REASON, PG_URL

from goodwill.demo.run import demo_steps, fresh_demo_store
from goodwill.store import open_store
from goodwill.understand.tables import ENRICHMENTS

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _report_out(store: str) -> Path:
    [args] = [a for _, a in demo_steps(store, "cfpb:1") if a[0] == "report"]
    return Path(args[args.index("--out") + 1])


def test_the_report_lands_beside_a_store_file(tmp_path: Path) -> None:
    assert _report_out(str(tmp_path / "demo.duckdb")) == tmp_path / "demo-report.html"


def test_the_report_of_a_server_store_lands_in_the_working_directory() -> None:
    # A PostgreSQL or Spark URL has no folder: the report went to 'postgresql:/host:5432/…'.
    for url in ("postgresql://127.0.0.1:5432/test?schema=acme", "spark://local[2]?warehouse=/srv/w"):
        out = _report_out(url)
        assert out == Path("demo-report.html")
        assert "://" not in str(out)


@pytest.mark.postgres
@pytest.mark.skipif(_PG_REASON is not None, reason=str(_PG_REASON))
def test_a_second_demo_on_postgresql_starts_from_nothing() -> None:
    # Derived tables, and the keys of the partitioned ones, are gone with the rest.
    url = f"{PG_URL}?schema=gw_test_{uuid.uuid4().hex[:12]}&partitions=2"
    s = open_store(url)
    s.append("interactions", pa.Table.from_pylist([{"interaction_id": "i1", "customer_id": "c1", "occurred_at": T0, "text": "hi"}]))
    s.ensure_table(ENRICHMENTS)
    s.execute("INSERT INTO enrichments (interaction_id, customer_id, enriched_at) VALUES ('i1', 'c1', ?)", [T0])
    s.close()
    fresh = fresh_demo_store(url)
    try:
        for table in ("enrichments", "interactions"):
            assert not fresh.table_exists(table) or fresh.count(table) == 0
        # The same interaction comes in again: its key was forgotten with the rest.
        assert fresh.append("interactions", pa.Table.from_pylist([{"interaction_id": "i1", "customer_id": "c1", "occurred_at": T0}])) == 1
    finally:
        fresh.drop_schema()  # type: ignore[attr-defined]
        fresh.close()
